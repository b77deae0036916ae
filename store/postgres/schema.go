package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agenttrail/agenttrail/store"
)

// The schema is a list of migrations embedded in the binary
// (migrations/NNNN_name.sql), applied in order at open, each in its own
// transaction together with its row in schema_migrations. A database whose
// schema is newer than the binary's is refused: an older binary must not
// write a log whose layout it does not know.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one step of the schema.
type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the embedded migrations by increasing version.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("postgres: migration file %s is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("postgres: migrations are not numbered 1, 2, ...: %d is version %d", i+1, m.version)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this build writes and reads.
func SchemaVersion() int64 {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time; a test covers them
	}
	return int64(len(ms))
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INT8 PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`

// migrate brings the schema up to this build's version. Several servers
// starting at once are safe: each migration's transaction inserts its row
// in schema_migrations first, so the others wait on that row and, once it
// is committed, find the migration applied.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, createMigrationsTable); err != nil {
		// Two servers creating the table at the same moment: one of them
		// fails on the catalog's unique index; the table exists now.
		if !isCode(err, "23505", "42P07", "42710") {
			return fmt.Errorf("%w: creating schema_migrations: %v", store.ErrFailed, err)
		}
	}
	for {
		have, err := schemaVersion(ctx, pool)
		if err != nil {
			return err
		}
		if have > int64(len(ms)) {
			return fmt.Errorf("%w: the database's schema is version %d, newer than this build's %d: run a newer agenttrail", store.ErrInvalidArgument, have, len(ms))
		}
		if have == int64(len(ms)) {
			return nil
		}
		m := ms[have]
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, m.sql)
			return err
		})
		switch {
		case err == nil:
		case isCode(err, "23505"):
			// Another server applied it meanwhile.
		default:
			return fmt.Errorf("%w: applying schema migration %d (%s): %v", store.ErrFailed, m.version, m.name, err)
		}
	}
}

// schemaVersion returns the newest applied migration, or 0.
func schemaVersion(ctx context.Context, q querier) (int64, error) {
	var v *int64
	if err := q.QueryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		if isCode(err, "42P01") {
			return 0, nil // no table: nothing applied
		}
		return 0, fmt.Errorf("%w: reading the schema version: %v", store.ErrFailed, err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// checkSchema checks, without writing, that the schema is this build's.
func checkSchema(ctx context.Context, q querier) error {
	have, err := schemaVersion(ctx, q)
	if err != nil {
		return err
	}
	want := SchemaVersion()
	switch {
	case have == 0:
		return fmt.Errorf("%w: the database holds no agenttrail schema (no log is stored there)", store.ErrNotFound)
	case have > want:
		return fmt.Errorf("%w: the database's schema is version %d, newer than this build's %d: run a newer agenttrail", store.ErrInvalidArgument, have, want)
	case have < want:
		return fmt.Errorf("%w: the database's schema is version %d, older than this build's %d: start a server on it once to migrate it", store.ErrInvalidArgument, have, want)
	}
	return nil
}

// isCode reports whether err is a PostgreSQL error with one of the
// SQLSTATE codes.
func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}
