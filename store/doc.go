// Package store is agenttrail's write-once event store: it keeps every event
// exactly once, forever, in an order nobody can rewrite without being caught.
//
// Events are committed to an RFC 6962 Merkle log (hashes from
// golang.org/x/mod/sumdb/tlog) with C2SP tlog-checkpoint signed notes
// (golang.org/x/mod/sumdb/note, Ed25519). Each event is split into its header
// (every METADATA field, with the server's received-at time and appending
// principal) and its content (every other field); the leaf commits to
//
//	uint32_be(len(header)) || header || SHA-256(salt || content)
//
// so content can later be encrypted or erased without touching any leaf.
//
// # Writing
//
// One goroutine, the sequencer, takes appends from every caller, forms
// batches (bounded by count, bytes and an optional short wait), assigns
// consecutive log indexes with no gaps, and commits each batch — events,
// content, id index, secondary indexes, tree hashes, the new size and root,
// and a checkpoint when one is due — in one Badger transaction with
// SyncWrites on. Only then does it answer the callers. An acknowledged event
// survives kill -9.
//
// No key is ever written twice: event and content keys are indexed by log
// position, which the sequencer checks against the stored size before every
// batch; the id index is checked before each event. Appending an event id
// that exists returns the original receipt when the event is identical and
// ErrAlreadyExists when it differs.
//
// # Reading
//
// Get and GetByID read single events; Scan streams events matching a Filter
// in log order, resumably, using per-batch posting lists of the session,
// agent, user, kind, tool, failure and occurred-at-hour indexes; with
// Query.Follow it goes on with events as they commit (live tail). Proofs and
// checkpoints: InclusionProof, ConsistencyProof, LatestCheckpoint,
// CheckpointAt, Checkpoints, VerifierKey. Verify and VerifyDir recompute the
// log from its raw bytes and name the first index where anything disagrees.
//
// # Storage
//
// Badger (github.com/dgraph-io/badger/v4) holds everything; no Badger type
// leaves this package. Errors are the sentinels in errors.go, wrapped with
// %w. Defaults keep memory modest (64 MiB of caches plus 3 x 32 MiB
// memtables) so the store runs under a GOMEMLIMIT of 512 MiB.
//
// # Shutdown
//
// Open returns a Store; Close shuts it down in a fixed order (see Close):
// appends refused, queue drained and acknowledged, final checkpoint signed,
// garbage collection stopped, followers woken, reads finished, database
// closed.
package store
