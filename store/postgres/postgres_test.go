package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/postgres"
	"github.com/agenttrail/agenttrail/store/postgres/pgtest"
	"github.com/agenttrail/agenttrail/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// harness runs the conformance suite on fresh databases of a private
// cluster.
func harness() storetest.Harness {
	return storetest.Harness{
		New: pgtest.NewDatabase,
		Tamper: func(u string, _ []byte) (storetest.Tamperer, error) {
			return postgres.Tamper(context.Background(), u)
		},
		WrittenOnce: writtenOnce,
		Shared:      true,
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

// immutable are the tables whose rows are written once.
// The keyring (keyring, content_keys) is the one place where rows are
// updated and deleted.
var immutable = []string{"log_meta", "events", "event_ids", "contents", "content_erasures", "tree_hashes", "batch_roots", "checkpoints", "credentials", "credential_revocations", "schema_migrations", "lifecycle"}

// writtenOnce checks that no row of an immutable table was ever updated or
// deleted: by the database's own statistics (n_tup_upd, n_tup_del, once
// they include every insert), and row by row, by the transaction that
// wrote each (every row of a batch carries the xmin of the transaction that
// wrote its root: an update or a re-insert would carry another).
func writtenOnce(t testing.TB, u string, _ []byte) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
			t.Fatal(err)
		}
		var inserted, rows int64
		err := conn.QueryRow(ctx, `SELECT n_tup_ins, (SELECT count(*) FROM events) FROM pg_stat_user_tables WHERE relname = 'events'`).Scan(&inserted, &rows)
		if err != nil {
			t.Fatal(err)
		}
		if inserted >= rows && rows > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statistics count %d inserted events, the table holds %d: they were not flushed in 30s", inserted, rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rows, err := conn.Query(ctx, `SELECT relname, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = ANY($1)`, immutable)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var upd, del int64
	seen := 0
	_, err = pgx.ForEachRow(rows, []any{&name, &upd, &del}, func() error {
		seen++
		if upd != 0 || del != 0 {
			t.Errorf("table %s: %d rows updated and %d deleted; its rows are written once", name, upd, del)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(immutable) {
		t.Errorf("statistics found %d of the %d immutable tables", seen, len(immutable))
	}
	// Row by row: each row of a batch was written by the batch's
	// transaction, the one that wrote its root.
	for _, q := range []string{
		`SELECT count(*) FROM events e JOIN batch_roots b ON b.size = (SELECT min(size) FROM batch_roots WHERE size > e.idx) WHERE e.xmin::TEXT <> b.xmin::TEXT`,
		`SELECT count(*) FROM contents c JOIN batch_roots b ON b.size = (SELECT min(size) FROM batch_roots WHERE size > c.idx) WHERE c.xmin::TEXT <> b.xmin::TEXT`,
		`SELECT count(*) FROM event_ids i JOIN events e ON e.idx = i.idx WHERE i.xmin::TEXT <> e.xmin::TEXT`,
	} {
		var n int64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows were written by another transaction than their batch's (%s)", n, q)
		}
	}
}

func open(t *testing.T, u string, cfg store.DriverConfig) *postgres.Driver {
	t.Helper()
	d, err := postgres.Open(context.Background(), u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Several servers opening an empty database at once all succeed, and the
// schema is applied once.
func TestConcurrentMigrations(t *testing.T) {
	u := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := postgres.Open(context.Background(), u, store.DriverConfig{})
			if err == nil {
				err = d.Close()
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, v int64
	if err := conn.QueryRow(context.Background(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != postgres.SchemaVersion() || v != postgres.SchemaVersion() {
		t.Errorf("schema_migrations holds %d rows up to version %d, want %d", n, v, postgres.SchemaVersion())
	}
}

// A database migrated by a newer build is refused, writable or not.
func TestNewerSchemaIsRefused(t *testing.T) {
	u := pgtest.NewDatabase(t)
	open(t, u, store.DriverConfig{}).Close()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `INSERT INTO schema_migrations (version, name) VALUES (99, 'from_the_future')`); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{false, true} {
		_, err := postgres.Open(context.Background(), u, store.DriverConfig{ReadOnly: ro})
		if !errors.Is(err, store.ErrInvalidArgument) || !strings.Contains(err.Error(), "newer") {
			t.Errorf("read-only %v: Open of a newer schema = %v, want ErrInvalidArgument naming it newer", ro, err)
		}
	}
}

// Offline verification needs nothing but SELECT: a read-only role verifies
// a log, sees one snapshot while a server appends, and cannot write.
func TestReadOnlyRoleVerifies(t *testing.T) {
	u := pgtest.NewDatabase(t)
	h := storetest.Harness{New: func(testing.TB) string { return u }}
	l := storetest.NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0))
	storetest.AppendOK(t, s, storetest.Corpus(50)...)
	vk := s.VerifierKey().String()

	c, err := pgtest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(mustParse(t, u).Path, "/")
	role := "reader_" + db
	if err := c.Exec(context.Background(), db,
		`CREATE ROLE `+role+` LOGIN`,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO `+role,
	); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Exec(context.Background(), db, `DROP OWNED BY `+role)
		c.Exec(context.Background(), "postgres", `DROP ROLE IF EXISTS `+role)
	})
	ro := c.URLAs(role, db)

	// While the server goes on appending, verification sees one snapshot.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			evs := storetest.Corpus(50 + 5*(i+1))[50+5*i:]
			if _, err := s.Append(context.Background(), "agent-1", evs); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	rep, err := store.VerifyStorage(context.Background(), ro, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	<-done
	if err != nil || !rep.OK() {
		t.Fatalf("VerifyStorage as a read-only role = %+v, %v", rep, err)
	}
	if rep.TreeSize < 50 {
		t.Errorf("verified a tree of %d events, want at least 50", rep.TreeSize)
	}
}

func mustParse(t *testing.T, u string) *url.URL {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
