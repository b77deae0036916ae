// Package verify checks what an agenttrail server hands to a reader, using
// nothing but the bytes it was given and the log's public key: log entries
// against the leaves the Merkle log committed to, inclusion and consistency
// proofs against root hashes, and signed checkpoints against the log's
// verifier key.
//
// # What the log commits to
//
// Each event is committed as one RFC 6962 leaf (see message Commitment in
// proto/agenttrail/v1/entry.proto):
//
//	leaf_data      = uint32_be(len(header)) || header || content_digest
//	leaf_hash      = SHA-256(0x00 || leaf_data)
//	content_digest = SHA-256(salt || content)
//
// where header is the encoded agenttrail.v1.EventHeader (the event's
// METADATA fields with the server's received-at time and principal), content
// is the encoded Event holding only the other fields, and salt is 32 random
// bytes. Header and content are hashed exactly as given, never re-encoded.
//
// The leaves form an RFC 6962 / RFC 9162 Merkle tree (interior nodes are
// SHA-256(0x01 || left || right)). Its size and root hash are published in
// C2SP tlog-checkpoint signed notes with an Ed25519 signature.
//
// # How to check an entry end to end
//
//  1. [OpenCheckpoint] opens a signed checkpoint with the log's verifier key
//     (obtained out of band) and returns the tree size and root it states.
//  2. [CheckEntry] checks that an entry's leaf hash is that of its header and
//     content digest, that the content (when shown) matches the digest, and
//     that the event and stamp shown agree with the committed bytes.
//  3. [CheckInclusion] checks that the leaf is at the entry's log index in the
//     tree of the checkpoint.
//  4. [CheckConsistency] checks, when a reader sees a newer checkpoint, that the
//     new tree extends the one it trusted before.
//
// # Errors
//
// Every failure wraps exactly one of the sentinel errors ([ErrMalformed],
// [ErrBadSignature], [ErrNoSignature], [ErrOriginMismatch], [ErrBadProof],
// [ErrLeafMismatch], [ErrDigestMismatch], [ErrEventMismatch]); test for them
// with [errors.Is]. The message says what was expected.
//
// # Other languages
//
// The Python (agenttrail.verify) and TypeScript (src/verify.ts) clients
// carry the same checks with the same error classes. All three are held to
// the shared test vectors in clients/testdata/vectors, which this package's
// tests generate (go test ./clients/go/verify -run TestVectors -update).
package verify
