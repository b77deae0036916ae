// Package postgres is the store driver that keeps a log in a PostgreSQL
// database, so that any number of stateless servers can share one log.
// Importing it registers the "postgres" and "postgresql" URL schemes with
// package store: postgres://user:password@host:5432/agenttrail?sslmode=verify-full
// (any libpq URL; pgxpool's pool_max_conns and friends are honoured).
//
// # Schema
//
// The schema is embedded (migrations/*.sql) and applied at open, one
// migration per transaction, recorded in schema_migrations; a database
// whose schema is newer than the binary is refused. Tables: log_meta
// (format, origin), log_state (one row: the size and root after the last
// batch), events (leaf data and the METADATA columns queries select by,
// with an SQL index on each), event_ids (the unique id index), contents
// (content records, apart so that erasure can delete them),
// content_erasures, tree_hashes (one row per stored hash), batch_roots,
// checkpoints, credentials and credential_revocations. Every row is
// inserted once; only log_state's one row is ever updated.
//
// # Sequencing: several servers, one log
//
// The engine (package store) prepares a batch from the tree it knows: the
// events at First, First+1, ..., their tree hashes, the new size and root,
// and a checkpoint when one is due. Commit runs one transaction:
//
//	SELECT size FROM log_state WHERE id = 1 FOR UPDATE   -- the fence
//	INSERT events, event_ids, contents, tree_hashes, batch_roots[, checkpoints]
//	UPDATE log_state SET size = <Size>, root = <Root>
//	SELECT pg_notify('agenttrail_log', <Size>)
//	COMMIT                                               -- synchronous_commit = on
//
// the writes sent as one pipeline once the fence has passed. If the locked
// row's size is not First, another server committed first: the
// transaction is rolled back before anything is written, and Commit returns store.ErrStale, on which the engine reloads
// the tree and prepares the same sealed events again. The row lock
// serializes commits, and the size check makes each batch extend exactly
// the tree it was computed on, so two servers can never write the same
// index nor a tree that is not an extension of the stored one: there is no
// gap and no fork, whatever servers die. event_ids' primary key makes one
// writer of an id win; the other's batch is refused whole
// (store.ErrAlreadyExists) and re-prepared, its event becoming a
// duplicate receipt or AlreadyExists.
//
// Serialization failures and deadlocks (SQLSTATE 40001, 40P01) and
// requests that never reached the server are retried with jittered
// exponential backoff. A COMMIT whose answer is lost is reported as
// store.ErrUnavailable; the engine finds out from the stored log whether
// it happened. Every connection sets synchronous_commit = on, and Open
// checks it, so that a receipt is only ever given for a durable commit.
//
// Commits notify; a dedicated connection LISTENs (github.com/jackc/pgxlisten,
// which reconnects after outages) and feeds Changes, so that every
// server's engine sees every batch within milliseconds, plus a wake-up each
// second in case a notification was missed.
//
// # Portable SQL
//
// The SQL is what PostgreSQL 15 and CockroachDB both accept: plain tables,
// primary keys and (partial) indexes, INSERT ... SELECT FROM unnest(...),
// SELECT ... FOR UPDATE / FOR SHARE, ON CONFLICT DO NOTHING, transactional
// DDL for migrations. No advisory locks, no triggers, no sequences, no
// stored procedures, no LISTEN/NOTIFY dependence: on CockroachDB (detected
// from version()) commits do not notify and Changes polls the state row
// every 50 ms instead. CockroachDB compatibility is designed for but not
// yet tested: it cannot be installed on the machines this project is built
// on. Its SERIALIZABLE transactions return 40001 under contention, which
// is retried as above.
//
// # Where it stops scaling
//
// The log takes one batch at a time: every batch holds log_state's row
// lock from the fence to the end of its COMMIT, which covers two round
// trips, the inserts of all its rows (events, ids, contents, about two
// tree hashes per event) with their index updates, and the durable commit.
// The log's write throughput is at most (events per batch) / (lock hold
// per batch), whatever the number of servers; more servers add ingest CPU
// (validation, sealing, hashing), read capacity and availability, not
// write throughput. Under full load each server's batches mostly find that
// another committed first and are prepared again (see the "stale" count
// that Close logs and benchcompare reports), which costs a read of the
// tree's frontier and of the batch's ids, not the database's writes. go
// run ./store/postgres/benchcompare measures it beside Badger.
//
// A larger deployment would take the rows out of the lock: write entries
// and contents before sequencing, keyed by a provisional id, so that the
// locked part is only the assignment of indexes and the tree (Tessera
// separates sequencing from integration in this way); store tree hashes
// and entries as tiles of 256 (one row per tile); keep contents in object
// storage; and run independent logs per tenant, each with its own state
// row.
//
// # Reading
//
// Reads of committed indexes need no snapshot: those rows never change.
// Scans read in pages by index. Opened read-only (DriverConfig.ReadOnly,
// as offline verification does), the driver runs every read in one
// REPEATABLE READ READ ONLY transaction, so that a verification sees one
// consistent log while servers go on appending, and needs nothing but
// SELECT on the tables: a read-only role is enough.
//
// Tamperer edits rows in raw SQL, for tamper campaigns. pgtest runs
// private PostgreSQL clusters for tests.
package postgres
