// Package store is agenttrail's write-once event store: it keeps every event
// exactly once, forever, in an order nobody can rewrite without being caught.
// It is the engine; storage is a Driver beneath it (store/badger, chosen by
// URL), and the bytes the log commits to are defined in store/commitment.
// docs/architecture.md has the whole picture.
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
// consecutive log indexes with no gaps, and hands each batch — events,
// content, id index and secondary index values, tree hashes, the new size
// and root, and a checkpoint when one is due — to the driver as one Batch,
// which the driver commits atomically and durably, fenced on the stored
// size. Only then does it answer the callers. An acknowledged event survives
// kill -9.
//
// No record is ever written twice: the driver refuses a batch that does not
// start at the stored size, and a stored event id. Appending an event id
// that exists returns the original receipt when the event is identical and
// ErrAlreadyExists when it differs.
//
// # Reading
//
// Get and GetByID read single events; Scan streams events matching a Filter
// in log order, resumably, using the driver's secondary indexes; with
// Query.Follow it goes on with events as they commit (live tail). Proofs and
// checkpoints: InclusionProof, ConsistencyProof, LatestCheckpoint,
// CheckpointAt, Checkpoints, VerifierKey. Verify and VerifyStorage recompute
// the log from its raw bytes and name the first index where anything
// disagrees.
//
// # Errors
//
// Errors are the sentinels in errors.go, wrapped with %w; the server maps
// them to gRPC status codes in one place.
//
// # Shutdown
//
// Open returns a Store; Close shuts it down in a fixed order (see Close):
// appends refused, queue drained and acknowledged, final checkpoint signed,
// followers woken, reads finished, driver closed.
package store
