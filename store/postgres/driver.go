package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store"
)

// Schemes are the URL schemes this driver registers.
var Schemes = []string{"postgres", "postgresql"}

func init() {
	for _, s := range Schemes {
		store.RegisterDriver(s, func(ctx context.Context, u *url.URL, cfg store.DriverConfig) (store.Driver, error) {
			return Open(ctx, u.String(), cfg)
		})
	}
}

const hashSize = store.HashSize

// notifyChannel is the LISTEN/NOTIFY channel on which every commit
// announces the new tree size.
const notifyChannel = "agenttrail_log"

// querier is what reads need of a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Driver keeps a log in a PostgreSQL (or PostgreSQL-compatible) database.
// It implements store.Driver, store.SharedDriver (any number of servers
// may run over one database at once) and store.BatchBudget.
type Driver struct {
	pool      *pgxpool.Pool
	log       *slog.Logger
	readOnly  bool
	cockroach bool

	// In read-only mode every read runs in one REPEATABLE READ READ ONLY
	// transaction, so that verification sees one snapshot however long it
	// takes while servers go on writing; snapMu serializes its use.
	snapMu   sync.Mutex
	snapConn *pgxpool.Conn
	snap     pgx.Tx

	changes *changes
	stats   commitStats

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Driver       = (*Driver)(nil)
	_ store.SharedDriver = (*Driver)(nil)
	_ store.BatchBudget  = (*Driver)(nil)
)

// Open connects to the database a postgres:// or postgresql:// URL names
// (any libpq URL; pool_max_conns and the other pgxpool parameters are
// honoured), applies the schema migrations this build has and the
// database lacks (unless read-only), and starts listening for other
// servers' commits. Close it to disconnect.
//
// Shutdown: Close stops the commit listener, then closes the pool.
func Open(ctx context.Context, dsn string, cfg store.DriverConfig) (*Driver, error) {
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres URL: %v", store.ErrInvalidArgument, redactErr(err, dsn))
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		pcfg.MaxConns = 16
	}
	pcfg.ConnConfig.RuntimeParams["application_name"] = "agenttrail"
	// Receipts are given only after the commit is durable, whatever the
	// database's default. (CockroachDB, which reports crdb_version, always
	// commits durably and may not know the setting.)
	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if c.PgConn().ParameterStatus("crdb_version") != "" {
			return nil
		}
		_, err := c.Exec(ctx, "SET synchronous_commit = on")
		return err
	}
	if cfg.ReadOnly {
		pcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: connecting to %s: %v", store.ErrFailed, redact(dsn), err)
	}
	d := &Driver{pool: pool, log: logger, readOnly: cfg.ReadOnly}
	if err := d.open(ctx, pcfg); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Driver) open(ctx context.Context, pcfg *pgxpool.Config) error {
	var version string
	if err := d.pool.QueryRow(ctx, `SELECT version()`).Scan(&version); err != nil {
		return fmt.Errorf("%w: connecting to the database: %v", store.ErrFailed, err)
	}
	d.cockroach = strings.Contains(version, "CockroachDB")
	if d.readOnly {
		conn, err := d.pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("%w: %v", store.ErrFailed, err)
		}
		d.snapConn = conn
		d.snap, err = conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return fmt.Errorf("%w: opening a read-only snapshot: %v", store.ErrFailed, err)
		}
		return checkSchema(ctx, d.snap)
	}
	if err := migrate(ctx, d.pool); err != nil {
		return err
	}
	if !d.cockroach {
		var sync string
		if err := d.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sync); err != nil || sync != "on" {
			return fmt.Errorf("%w: synchronous_commit is %q, not on: commits would be acknowledged before they are durable", store.ErrInvalidArgument, sync)
		}
	}
	d.changes = startChanges(d, pcfg.ConnConfig)
	return nil
}

// Close implements store.Driver. Calling it again returns the first
// result.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		if d.changes != nil {
			d.changes.stop()
		}
		if d.snap != nil {
			d.closeErr = d.snap.Rollback(context.Background())
			d.snapConn.Release()
		}
		if d.stats.batches() > 0 {
			d.logStats()
		}
		d.pool.Close()
	})
	return d.closeErr
}

// read runs fn with the snapshot (read-only mode) or the pool.
func (d *Driver) read(ctx context.Context, fn func(q querier) error) error {
	if d.snap != nil {
		d.snapMu.Lock()
		defer d.snapMu.Unlock()
		return mapErr(fn(d.snap))
	}
	return d.retry(ctx, func() error { return fn(d.pool) })
}

func (d *Driver) writable() error {
	if d.readOnly {
		return fmt.Errorf("%w: the database was opened read-only", store.ErrFailed)
	}
	return nil
}

// retry runs fn until it succeeds, fails with an error that retrying
// cannot cure, or has been tried maxAttempts times. Serialization failures
// and deadlocks (SQLSTATE 40001, 40P01: CockroachDB returns 40001 often
// under contention) and errors the connection reports safe to retry (the
// request never reached the server) are retried with jittered exponential
// backoff.
func (d *Driver) retry(ctx context.Context, fn func() error) error {
	const maxAttempts = 12
	delay := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return mapErr(err)
		}
		d.stats.retried()
		d.log.Debug("postgres: retrying", slog.Int("attempt", attempt), slog.Any("error", err))
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, time.Second)
	}
}

func retryable(err error) bool {
	if isCode(err, "40001", "40P01") {
		return true
	}
	return pgconn.SafeToRetry(err)
}

// mapErr turns database errors into the store's sentinels; errors that
// already are store errors pass unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{store.ErrNotFound, store.ErrAlreadyExists, store.ErrStale, store.ErrCorrupt, store.ErrFailed, store.ErrUnavailable, store.ErrInvalidArgument, store.ErrClosed} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %v", store.ErrFailed, err)
}

// unreachable reports whether err says that the database could not be
// reached or went away (a restart, a failover, a network cut), as opposed
// to refusing a statement.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		// connection_exception, operator_intervention (admin or crash
		// shutdown, cannot connect now)
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed), pgconn.Timeout(err):
		return true
	}
	return false
}

// redact drops a URL's password, for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// redactErr keeps a parse error from echoing the password.
func redactErr(err error, dsn string) string {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

// Load implements store.Driver.
func (d *Driver) Load(ctx context.Context) (store.LogState, error) {
	var st store.LogState
	err := d.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT name, value FROM log_meta`)
		if err != nil {
			return err
		}
		var name, value string
		_, err = pgx.ForEachRow(rows, []any{&name, &value}, func() error {
			switch name {
			case "format":
				st.Format = value
			case "origin":
				st.Origin = value
			}
			return nil
		})
		if err != nil {
			return err
		}
		var size int64
		var root []byte
		err = q.QueryRow(ctx, `SELECT size, root FROM log_state WHERE id = 1`).Scan(&size, &root)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			st.Size, st.Root = 0, [hashSize]byte{}
			return nil
		case err != nil:
			return err
		case size < 0 || len(root) != hashSize:
			return fmt.Errorf("%w: the log state row holds size %d and a root of %d bytes", store.ErrCorrupt, size, len(root))
		}
		st.Size, st.Root = uint64(size), [hashSize]byte(root)
		return nil
	})
	return st, err
}

// Init implements store.Driver: the metadata rows and the state row of an
// empty tree, in one transaction.
func (d *Driver) Init(ctx context.Context, m store.LogMeta) error {
	if err := d.writable(); err != nil {
		return err
	}
	return d.retry(ctx, func() error {
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO log_meta (name, value) VALUES ('format', $1), ('origin', $2)`, m.Format, m.Origin); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO log_state (id, size, root) VALUES (1, 0, $1)`, make([]byte, hashSize))
			return err
		})
		if isCode(err, "23505") {
			return fmt.Errorf("%w: the log's metadata is stored already", store.ErrAlreadyExists)
		}
		return err
	})
}

// EventCost implements store.BatchBudget: about the bytes an event's rows
// send to the server (its records, and its identifiers in the index
// columns).
func (d *Driver) EventCost(size, indexed int) int { return size + indexed + 256 }

// MaxBatchCost implements store.BatchBudget. PostgreSQL takes a
// transaction of any size; the budget bounds the memory one commit's
// statement takes, here and on the server, to 64 MiB.
func (d *Driver) MaxBatchCost() int { return 64 << 20 }

// Commit implements store.Driver: one transaction that locks the log state
// row (SELECT ... FOR UPDATE) and checks that the batch starts at the
// stored size; then inserts every record of the batch, moves the state row
// to the new size and root and notifies the other servers, all in one
// pipeline; then COMMIT, with synchronous_commit on. The lock is held for
// two round trips, the inserts and the durable commit. Serialization failures are
// retried; a batch that does not start at the stored size is ErrStale,
// and nothing of it is written.
func (d *Driver) Commit(ctx context.Context, b *store.Batch) error {
	if err := d.writable(); err != nil {
		return err
	}
	if len(b.Events) == 0 || b.Size != b.First+uint64(len(b.Events)) || b.Size > math.MaxInt64/2 {
		return fmt.Errorf("%w: a batch of %d events from %d cannot end at size %d", store.ErrInvalidArgument, len(b.Events), b.First, b.Size)
	}
	rows := newBatchRows(b)
	return d.retry(ctx, func() error { return d.commitOnce(ctx, b, rows) })
}

// batchRows are a batch's records as the columns of the INSERTs.
type batchRows struct {
	idx, hashIdx               []int64
	contentIdx, erasedIdx      []int64 // events with content, and (restoring a backup) with content erased
	leaf, content, hashes      [][]byte
	ids                        []string
	session, agent, user, tool []*string
	kind                       []int32
	failure                    []bool
	occurred                   []time.Time
	// The keyring records and lifecycle records of the batch.
	keyIdx                      []int64
	keys, ringNames, ringValues [][]byte
	lifeNames, lifeValues       [][]byte
}

func newBatchRows(b *store.Batch) *batchRows {
	n := len(b.Events)
	r := &batchRows{
		idx: make([]int64, n), leaf: make([][]byte, n), content: make([][]byte, n), ids: make([]string, n),
		session: make([]*string, n), agent: make([]*string, n), user: make([]*string, n), tool: make([]*string, n),
		kind: make([]int32, n), failure: make([]bool, n), occurred: make([]time.Time, n),
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	r.content = r.content[:0]
	for i, ev := range b.Events {
		r.idx[i] = int64(b.First) + int64(i)
		r.leaf[i], r.ids[i] = ev.LeafData, ev.EventID
		if ev.ContentErased {
			r.erasedIdx = append(r.erasedIdx, r.idx[i])
		} else {
			r.contentIdx = append(r.contentIdx, r.idx[i])
			r.content = append(r.content, ev.Content)
		}
		v := ev.Index
		r.session[i], r.agent[i], r.user[i], r.tool[i] = opt(v.SessionID), opt(v.AgentID), opt(v.UserID), opt(v.ToolName)
		// Truncated, not rounded, to TIMESTAMPTZ's microseconds: the hour
		// an event is filed under must be the hour of its header's time.
		r.kind[i], r.failure[i], r.occurred[i] = int32(v.Kind), v.Failure, v.OccurredAt.Truncate(time.Microsecond)
	}
	for i, ev := range b.Events {
		if ev.ContentKey != nil {
			r.keyIdx, r.keys = append(r.keyIdx, r.idx[i]), append(r.keys, ev.ContentKey)
		}
	}
	for _, k := range b.Keys {
		if i, ok := eventKeyIndex(k.Name); ok {
			r.keyIdx, r.keys = append(r.keyIdx, i), append(r.keys, k.Value)
			continue
		}
		r.ringNames, r.ringValues = append(r.ringNames, k.Name), append(r.ringValues, k.Value)
	}
	for _, l := range b.Lifecycle {
		r.lifeNames, r.lifeValues = append(r.lifeNames, l.Name), append(r.lifeValues, l.Value)
	}
	first := tlog.StoredHashIndex(0, int64(b.First))
	for i, h := range b.Hashes {
		r.hashIdx = append(r.hashIdx, first+int64(i))
		r.hashes = append(r.hashes, h[:])
	}
	return r
}

const (
	lockStateSQL    = `SELECT size FROM log_state WHERE id = 1 FOR UPDATE`
	insertEventsSQL = `INSERT INTO events (idx, leaf_data, session_id, agent_id, user_id, tool_name, kind, failure, occurred_at)
SELECT * FROM unnest($1::INT8[], $2::BYTEA[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::INT4[], $8::BOOL[], $9::TIMESTAMPTZ[])`
	insertIDsSQL      = `INSERT INTO event_ids (event_id, idx) SELECT * FROM unnest($1::TEXT[], $2::INT8[])`
	insertContentsSQL = `INSERT INTO contents (idx, record) SELECT * FROM unnest($1::INT8[], $2::BYTEA[])`
	insertErasedSQL   = `INSERT INTO content_erasures (idx) SELECT * FROM unnest($1::INT8[])`
	insertHashesSQL   = `INSERT INTO tree_hashes (idx, hash) SELECT * FROM unnest($1::INT8[], $2::BYTEA[])`
	insertRootSQL     = `INSERT INTO batch_roots (size, root) VALUES ($1, $2)`
	insertCheckpoint  = `INSERT INTO checkpoints (size, note) VALUES ($1, $2)`
	updateStateSQL    = `UPDATE log_state SET size = $1, root = $2 WHERE id = 1`
	notifySQL         = `SELECT pg_notify('` + notifyChannel + `', $1)`
)

func (d *Driver) commitOnce(ctx context.Context, b *store.Batch, r *batchRows) (err error) {
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.Background())
		}
	}()
	// The fence: lock the state row and check the size before anything
	// is written, so that a stale batch costs the database nothing but
	// the wait for the lock.
	var stored int64
	if err := tx.QueryRow(ctx, lockStateSQL).Scan(&stored); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: the log has no state row: it was never initialized", store.ErrCorrupt)
		}
		return err
	}
	locked := time.Now()
	if uint64(stored) != b.First {
		d.stats.stale()
		return fmt.Errorf("%w: the batch starts at %d, the stored size is %d", store.ErrStale, b.First, stored)
	}
	if err := requireKeys(ctx, tx, b.RequireKeys); err != nil {
		return err
	}
	// Every write of the batch in one pipeline: one round trip.
	var q pgx.Batch
	q.Queue(insertEventsSQL, r.idx, r.leaf, r.session, r.agent, r.user, r.tool, r.kind, r.failure, r.occurred)
	q.Queue(insertIDsSQL, r.ids, r.idx)
	if len(r.contentIdx) > 0 {
		q.Queue(insertContentsSQL, r.contentIdx, r.content)
	}
	if len(r.erasedIdx) > 0 {
		q.Queue(insertErasedSQL, r.erasedIdx)
	}
	q.Queue(insertHashesSQL, r.hashIdx, r.hashes)
	if len(r.keyIdx) > 0 {
		q.Queue(upsertContentKeysSQL, r.keyIdx, r.keys)
	}
	if len(r.ringNames) > 0 {
		q.Queue(upsertKeysSQL, r.ringNames, r.ringValues)
	}
	if len(r.lifeNames) > 0 {
		q.Queue(insertLifecycleSQL, r.lifeNames, r.lifeValues)
	}
	q.Queue(insertRootSQL, int64(b.Size), b.Root[:])
	if b.Checkpoint != nil {
		q.Queue(insertCheckpoint, int64(b.Size), b.Checkpoint)
	}
	if cols := aggregateRows(b); cols != nil {
		q.Queue(insertAggregatesSQL, cols...)
	}
	q.Queue(updateStateSQL, int64(b.Size), b.Root[:])
	if !d.cockroach {
		q.Queue(notifySQL, fmt.Sprint(b.Size))
	}
	br := tx.SendBatch(ctx, &q)
	for i := 0; i < q.Len(); i++ {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return commitErr(err, b)
		}
	}
	if err := br.Close(); err != nil {
		return commitErr(err, b)
	}
	if err := tx.Commit(ctx); err != nil {
		if retryable(err) {
			return err // refused, not committed: try again
		}
		// The outcome of a COMMIT whose answer was lost is unknown: the
		// engine of a shared driver finds out by reading the log again.
		return fmt.Errorf("%w: COMMIT of the batch at %d: %w", store.ErrUnavailable, b.First, err)
	}
	d.stats.committed(time.Since(locked), len(b.Events))
	return nil
}

// commitErr names what a failed statement of a commit means.
func commitErr(err error, b *store.Batch) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		if strings.HasPrefix(pe.ConstraintName, "event_ids_pkey") {
			return fmt.Errorf("%w: an event id of the batch is stored", store.ErrAlreadyExists)
		}
		return fmt.Errorf("%w: a record at or beyond the stored size %d exists already (%s): refusing to overwrite it", store.ErrCorrupt, b.First, pe.ConstraintName)
	}
	return err
}

// PutCheckpoint implements store.Driver.
func (d *Driver) PutCheckpoint(ctx context.Context, size uint64, note []byte) error {
	if err := d.writable(); err != nil {
		return err
	}
	if size > math.MaxInt64 {
		return fmt.Errorf("%w: checkpoint size %d", store.ErrInvalidArgument, size)
	}
	return d.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			// The state row's share lock keeps the size from moving while
			// the checkpoint is checked against it.
			var stored int64
			if err := tx.QueryRow(ctx, `SELECT size FROM log_state WHERE id = 1 FOR SHARE`).Scan(&stored); err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if size > uint64(stored) {
				return fmt.Errorf("%w: a checkpoint of size %d is beyond the stored size %d", store.ErrInvalidArgument, size, stored)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING`, int64(size), note)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				if !d.cockroach {
					_, err = tx.Exec(ctx, notifySQL, fmt.Sprint(stored))
				}
				return err
			}
			var old []byte
			if err := tx.QueryRow(ctx, `SELECT note FROM checkpoints WHERE size = $1`, int64(size)).Scan(&old); err != nil {
				return err
			}
			if string(old) != string(note) {
				return fmt.Errorf("%w: another checkpoint of size %d is stored", store.ErrAlreadyExists, size)
			}
			return nil
		})
	})
}

// commitStats measures commits: how long each held the state row's lock
// (from the moment the lock was granted to the end of COMMIT), and how
// many were stale or retried. Close logs them.
type commitStats struct {
	mu       sync.Mutex
	n        int
	events   int
	staleN   int
	retriesN int
	holds    []time.Duration // a bounded sample
	total    time.Duration
	max      time.Duration
}

const holdSamples = 1 << 16

func (s *commitStats) committed(hold time.Duration, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.events += events
	s.total += hold
	s.max = max(s.max, hold)
	if len(s.holds) < holdSamples {
		s.holds = append(s.holds, hold)
	} else {
		s.holds[rand.N(len(s.holds))] = hold
	}
}

func (s *commitStats) stale() {
	s.mu.Lock()
	s.staleN++
	s.mu.Unlock()
}

func (s *commitStats) retried() {
	s.mu.Lock()
	s.retriesN++
	s.mu.Unlock()
}

func (s *commitStats) batches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// CommitStats summarizes this driver's commits so far.
type CommitStats struct {
	Batches, Events, Stale, Retries int
	// LockHold is the state row's lock hold time per committed batch.
	LockHoldMean, LockHoldP50, LockHoldP99, LockHoldMax time.Duration
}

// Stats returns a summary of the commits so far.
func (d *Driver) Stats() CommitStats {
	s := &d.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	out := CommitStats{Batches: s.n, Events: s.events, Stale: s.staleN, Retries: s.retriesN, LockHoldMax: s.max}
	if s.n > 0 {
		out.LockHoldMean = s.total / time.Duration(s.n)
		h := append([]time.Duration(nil), s.holds...)
		slices.Sort(h)
		out.LockHoldP50 = h[len(h)/2]
		out.LockHoldP99 = h[min(len(h)-1, len(h)*99/100)]
	}
	return out
}

// logStats logs the commit summary, for operators and for the
// multi-server benchmark (scripts read the "postgres commits" line).
func (d *Driver) logStats() {
	st := d.Stats()
	d.log.Info("postgres commits",
		slog.Int("batches", st.Batches), slog.Int("events", st.Events),
		slog.Int("stale", st.Stale), slog.Int("retries", st.Retries),
		slog.Duration("lock_hold_mean", st.LockHoldMean), slog.Duration("lock_hold_p50", st.LockHoldP50),
		slog.Duration("lock_hold_p99", st.LockHoldP99), slog.Duration("lock_hold_max", st.LockHoldMax))
}
