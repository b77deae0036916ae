// Package client is the Go client of agenttrail: it appends events to a
// server's Merkle log, reads them back, and checks what it reads against the
// log's signed checkpoints.
//
// # Connecting
//
// [New] connects to a server (lazily: the first call dials). An API key,
// when the server asks for one, goes with every call as the gRPC metadata
// "authorization: Bearer <key>" ([WithAPIKey]). Transport security is
// chosen from the address unless an option says otherwise:
//
//   - a loopback address (localhost, 127.0.0.0/8, ::1) or a unix socket
//     is spoken to in plaintext, as a server run next to its agents is;
//   - any other address is spoken to over TLS with the system's roots.
//
// [WithTLS] chooses TLS (with a CA pool, or a client certificate for mutual
// TLS) for any address; [WithInsecure] chooses plaintext for any address.
// An API key is never sent in plaintext beyond the local machine: New
// refuses [WithAPIKey] with plaintext to a non-loopback address
// ([ErrKeyWithoutTLS]).
//
// # Writing
//
// Every event carries a client-chosen event id, which is its idempotency
// key: sending the same event again returns its original receipt, so an
// event whose receipt was lost can always be resent.
//
//   - [Client.Append] sends a batch of events on one stream and returns one
//     [Result] per event, in order.
//   - [Client.NewAppender] opens a long-lived stream: Send events as they
//     happen, read their results from a channel; a bounded number of
//     events is in flight at a time.
//   - [Client.StartSession] is the layer an agent uses: a [Session] stamps
//     each event with a UUIDv7 id, the session id, a step number and the
//     agent's identity, buffers it (with an explicit policy for a full
//     buffer) and delivers it in the background, resending unacknowledged
//     events with the same ids on a new stream when the connection breaks.
//
// # Reading
//
// [Client.Query] and [Client.Tail] stream entries as iterators (range over
// them); with [WithResume] they go on after the last entry received when a
// stream fails with UNAVAILABLE. [Client.GetEvent] and
// [Client.GetEventByIndex] read one entry. [Client.Checkpoint],
// [Client.InclusionProof], [Client.ConsistencyProof] and
// [Client.VerifierKey] serve verification.
//
// Unary reads are retried by gRPC on UNAVAILABLE and RESOURCE_EXHAUSTED (a
// server's rate limit), at most four times with exponential backoff; they
// are all idempotent. Errors from the server are gRPC statuses, wrapped
// with what the client was doing: status.Code finds their code.
//
// # Verifying
//
// A [Verifier] holds a log's verifier key, obtained out of band, and checks
// checkpoints, entries with their inclusion proofs, and consistency between
// checkpoints with package clients/go/verify. Errors wrap that package's
// sentinels (verify.ErrBadProof, verify.ErrLeafMismatch, ...).
package client
