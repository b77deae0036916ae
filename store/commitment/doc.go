// Package commitment is the one definition of the bytes agenttrail's log
// commits to, shared by the store that writes them and by every Go reader
// that checks them (clients/go/verify, cmd/agenttrail): leaf data and leaf
// hashes, content digests, the encoded event header, C2SP tlog-checkpoint
// bodies and their signatures, note verifier and signer keys, and RFC 6962
// inclusion and consistency proofs.
//
// # What the log commits to
//
// Each event is one RFC 6962 leaf:
//
//	leaf_data      = uint32_be(len(header)) || header || content_digest
//	leaf_hash      = SHA-256(0x00 || leaf_data)
//	content_digest = SHA-256(salt || content)
//
// where header is the encoded agenttrail.v1.EventHeader (the event's
// METADATA fields with the server's received-at time and principal), content
// is the encoded Event holding only the other fields, and salt is 32 random
// bytes. The leaves form an RFC 6962 / RFC 9162 Merkle tree whose size and
// root hash are published in C2SP tlog-checkpoint signed notes with an
// Ed25519 signature.
//
// The package imports only the generated API (gen/), the standard library
// and golang.org/x/mod, so that a verifier can take it without the rest of
// the store. docs/architecture.md describes the whole stored format.
//
// # Errors
//
// Every failure wraps exactly one of the error classes in errors.go; the
// Python and TypeScript verifiers use the same classes, held to the shared
// test vectors in clients/testdata/vectors.
package commitment
