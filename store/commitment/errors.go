package commitment

import "errors"

// The error classes of this package. Every error returned by a function of
// this package wraps exactly one of them, so that a caller can tell a
// malformed input from a proof that fails; the shared test vectors name the
// expected class of each broken vector by the lower-case name given here.
var (
	// ErrMalformed ("malformed") means an input is not in its documented
	// format: a note that breaks the signed-note rules, a checkpoint body
	// that is not origin, decimal size and base64 root, a verifier key that
	// does not parse, a hash or salt of the wrong length, or header or
	// content bytes that do not decode.
	ErrMalformed = errors.New("malformed input")

	// ErrBadSignature ("bad_signature") means a note carries a signature
	// line with the verifier key's name and key hash whose Ed25519 signature
	// does not verify over the note text.
	ErrBadSignature = errors.New("bad signature")

	// ErrNoSignature ("no_signature") means a well-formed note carries no
	// signature line with the verifier key's name and key hash. Signatures by
	// other keys (witnesses, rotated keys) are ignored, as the signed-note
	// specification requires.
	ErrNoSignature = errors.New("no signature by the verifier key")

	// ErrOriginMismatch ("origin_mismatch") means a correctly signed
	// checkpoint names a log other than the expected origin.
	ErrOriginMismatch = errors.New("origin mismatch")

	// ErrBadProof ("bad_proof") means an inclusion or consistency proof does
	// not prove what it is claimed to prove: it does not lead to the given
	// root hashes, has too few or too many hashes, or is for sizes and
	// indexes that cannot be (an index outside the tree, an old tree larger
	// than the new one).
	ErrBadProof = errors.New("bad proof")

	// ErrLeafMismatch ("leaf_mismatch") means an entry's leaf hash is not the
	// leaf hash of its header and content digest.
	ErrLeafMismatch = errors.New("leaf hash mismatch")

	// ErrDigestMismatch ("digest_mismatch") means an entry's content and salt
	// do not hash to its content digest.
	ErrDigestMismatch = errors.New("content digest mismatch")

	// ErrNoQuorum ("no_quorum") means a checkpoint that the log signed is
	// not cosigned by as many of the trusted witnesses as the reader's
	// witness policy demands.
	ErrNoQuorum = errors.New("not cosigned by a quorum of witnesses")

	// ErrUnprovenErasure ("unproven_erasure") means an entry's content is
	// said to be erased, but no erasure or retention event of the log at a
	// later index, which verified, names its index.
	ErrUnprovenErasure = errors.New("erasure not proven by a logged erasure")

	// ErrEventMismatch ("event_mismatch") means the event or stamp an entry
	// shows disagrees with the header and content bytes it commits to.
	ErrEventMismatch = errors.New("event disagrees with commitment")
)
