package commitment

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// TreeHead is what a verified checkpoint states about the log.
type TreeHead struct {
	// Origin is the log's name, the checkpoint's first line.
	Origin string
	// Size is the number of leaves in the tree.
	Size uint64
	// Root is the RFC 6962 root hash of the tree of that size.
	Root [32]byte
}

// decimal matches a tree size as C2SP tlog-checkpoint writes it: ASCII
// decimal digits without leading zeros.
var decimal = regexp.MustCompile(`^(?:0|[1-9][0-9]*)$`)

// OpenCheckpoint opens a C2SP tlog-checkpoint signed note (the bytes of
// Checkpoint.signed_note) with a verifier key in the form [ParseVerifierKey]
// accepts, checks that it is the checkpoint of the log named origin, and
// returns the tree head it states. The checks, in order:
//
//  1. The verifier key parses ([ErrMalformed]).
//  2. The note follows the signed-note format, as golang.org/x/mod/sumdb/note
//     opens it ([ErrMalformed]): valid UTF-8 without control characters other
//     than newline; a text ending in a newline; a blank line; then one to 100
//     signature lines "— <key name> <base64 of key hash and signature>", each
//     ending in a newline. The text ends at the last blank line.
//  3. Signature lines are taken in order. A line whose key name and key hash
//     are not the verifier key's is ignored; the first line that matches must
//     verify over the note text, its final newline included
//     ([ErrBadSignature]), and later repeats of it are ignored. A note with no
//     matching line is rejected ([ErrNoSignature]).
//  4. The text is a checkpoint body ([ErrMalformed]): at least three lines,
//     none empty: the origin, the tree size in decimal without leading zeros
//     (at most 2^64-1), and the standard base64 of a 32-byte root hash.
//     Extension lines may follow; they are signed, and otherwise ignored.
//  5. The origin line equals origin ([ErrOriginMismatch]).
func OpenCheckpoint(signed []byte, verifierKey, origin string) (TreeHead, error) {
	v, err := NewCheckpointVerifier(verifierKey, origin)
	if err != nil {
		return TreeHead{}, err
	}
	return v.Open(signed)
}

// CheckpointVerifier opens the checkpoints of one log with one verifier key,
// parsed once; see [OpenCheckpoint] for the checks.
type CheckpointVerifier struct {
	key    VerifierKey
	v      note.Verifier
	origin string
}

// NewCheckpointVerifier parses a verifier key for the checkpoints of the log
// named origin ([ErrMalformed] when the key does not parse).
func NewCheckpointVerifier(verifierKey, origin string) (*CheckpointVerifier, error) {
	key, err := ParseVerifierKey(verifierKey)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return nil, fmt.Errorf("%w: verifier key: %v", ErrMalformed, err)
	}
	return &CheckpointVerifier{key: key, v: v, origin: origin}, nil
}

// Key returns the verifier key.
func (c *CheckpointVerifier) Key() VerifierKey { return c.key }

// Origin returns the origin the checkpoints must name.
func (c *CheckpointVerifier) Origin() string { return c.origin }

// Open opens a signed checkpoint; see [OpenCheckpoint].
func (c *CheckpointVerifier) Open(signed []byte) (TreeHead, error) {
	key := c.key
	n, err := note.Open(signed, note.VerifierList(c.v))
	if err != nil {
		var invalid *note.InvalidSignatureError
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &invalid):
			return TreeHead{}, fmt.Errorf("%w: the signature by %s+%08x does not verify over the note text", ErrBadSignature, key.Name, key.KeyHash)
		case errors.As(err, &unverified):
			return TreeHead{}, fmt.Errorf("%w: note has no signature by %s+%08x (it has %s)", ErrNoSignature, key.Name, key.KeyHash, signers(unverified.Note.UnverifiedSigs))
		default:
			return TreeHead{}, fmt.Errorf("%w: %s", ErrMalformed, explainNote(signed))
		}
	}
	head, err := ParseCheckpointBody(n.Text)
	if err != nil {
		return TreeHead{}, err
	}
	if head.Origin != c.origin {
		return TreeHead{}, fmt.Errorf("%w: checkpoint is for origin %q, want %q", ErrOriginMismatch, head.Origin, c.origin)
	}
	return head, nil
}

// CheckpointBody is the text of the C2SP tlog-checkpoint of a tree head:
// origin, decimal size and standard base64 root hash, each on its own line.
func CheckpointBody(h TreeHead) string {
	return h.Origin + "\n" + strconv.FormatUint(h.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(h.Root[:]) + "\n"
}

// SignCheckpoint signs the checkpoint of a tree head: a signed note whose
// text is [CheckpointBody] and whose one signature is the signer's.
func SignCheckpoint(signer note.Signer, h TreeHead) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: CheckpointBody(h)}, signer)
	if err != nil {
		return nil, fmt.Errorf("commitment: signing checkpoint: %w", err)
	}
	return msg, nil
}

// ParseCheckpointBody parses a checkpoint body: a note text, which ends in
// a newline. It does not check a signature: see [OpenCheckpoint].
func ParseCheckpointBody(text string) (TreeHead, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return TreeHead{}, fmt.Errorf("%w: checkpoint has %d lines, want at least 3: origin, tree size, root hash", ErrMalformed, len(lines))
	}
	for i, line := range lines {
		if line == "" {
			return TreeHead{}, fmt.Errorf("%w: checkpoint line %d is empty", ErrMalformed, i+1)
		}
	}
	if !decimal.MatchString(lines[1]) {
		return TreeHead{}, fmt.Errorf("%w: checkpoint tree size %q is not a decimal number without leading zeros", ErrMalformed, lines[1])
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return TreeHead{}, fmt.Errorf("%w: checkpoint tree size %s is larger than 2^64-1", ErrMalformed, lines[1])
	}
	if !base64Std.MatchString(lines[2]) {
		return TreeHead{}, fmt.Errorf("%w: checkpoint root hash %q is not standard padded base64", ErrMalformed, lines[2])
	}
	root, _ := base64.StdEncoding.DecodeString(lines[2])
	if len(root) != HashSize {
		return TreeHead{}, fmt.Errorf("%w: checkpoint root hash is %d bytes, want %d", ErrMalformed, len(root), HashSize)
	}
	return TreeHead{Origin: lines[0], Size: size, Root: [32]byte(root)}, nil
}

// signers lists the keys of unverified signatures for an error message.
func signers(sigs []note.Signature) string {
	if len(sigs) == 0 {
		return "no other signatures"
	}
	var names []string
	for _, s := range sigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return "signatures by " + strings.Join(names, ", ")
}
