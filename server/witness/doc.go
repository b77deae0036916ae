// Package witness is agenttrail's side of C2SP tlog-witness: a witness that
// cosigns the checkpoints of the logs it follows (Witness, served by
// agenttrail witness), a client of the protocol (Client), and the Submitter
// with which a server sends each new checkpoint of its log to its witnesses
// and collects their cosignatures.
//
// A witness keeps, per log, the checkpoints it cosigned, each in a file
// written once; it checks the log's signature and a consistency proof from
// the last one it cosigned, and never cosigns a smaller tree or a fork of
// it. Conflicting checkpoints that the log signed are kept as evidence.
// Cosignatures are C2SP tlog-cosignature cosignature/v1 (Ed25519), in the
// format of store/commitment.
package witness
