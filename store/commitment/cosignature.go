package commitment

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Witnesses cosign checkpoints as C2SP tlog-cosignature specifies for
// cosignature/v1 (Ed25519): a signature line "— <witness name>
// base64(key hash || timestamp || signature)" added to the checkpoint note,
// where the key hash is that of the name and 0x04 || public key, timestamp
// is a big-endian uint64 of POSIX seconds, and the signature is over
//
//	cosignature/v1
//	time <timestamp>
//	<the checkpoint text>
//
// golang.org/x/mod/sumdb/note opens the notes; github.com/transparency-dev/
// formats/note verifies the cosignatures.

// algCosignatureV1 is the signature type byte of cosignature/v1 keys.
const algCosignatureV1 = 0x04

// WitnessKey is a parsed witness (cosigner) verifier key.
type WitnessKey struct {
	// Name is the witness's name, which its signature lines carry.
	Name string
	// KeyHash is the first 4 bytes, big-endian, of SHA-256(name || "\n" ||
	// 0x04 || public key).
	KeyHash uint32
	// PublicKey is the Ed25519 public key.
	PublicKey ed25519.PublicKey
}

// String returns the key as ParseWitnessKey parses it.
func (k WitnessKey) String() string {
	return fmt.Sprintf("%s+%08x+%s", k.Name, k.KeyHash,
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, k.PublicKey...)))
}

// NewWitnessKey returns the cosignature/v1 verifier key of an Ed25519
// public key under a witness name ([ErrMalformed] when the name breaks the
// signed-note rules).
func NewWitnessKey(name string, pub ed25519.PublicKey) (WitnessKey, error) {
	if err := checkKeyName(name); err != nil {
		return WitnessKey{}, fmt.Errorf("%w: witness key name: %v", ErrMalformed, err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return WitnessKey{}, fmt.Errorf("%w: public key is %d bytes, want %d", ErrMalformed, len(pub), ed25519.PublicKeySize)
	}
	return WitnessKey{Name: name, KeyHash: keyHash(name, append([]byte{algCosignatureV1}, pub...)), PublicKey: pub}, nil
}

// ParseWitnessKey parses a witness's cosignature/v1 verifier key,
// "<name>+<key hash>+<base64 of 0x04 and the Ed25519 public key>", with the
// rules of [ParseVerifierKey] but the type byte 0x04. Anything else is
// [ErrMalformed], saying which rule it breaks.
func ParseWitnessKey(s string) (WitnessKey, error) {
	name, hash, pub, err := parseKey(s, "witness key", algCosignatureV1, "cosignature/v1, Ed25519")
	if err != nil {
		return WitnessKey{}, err
	}
	return WitnessKey{Name: name, KeyHash: hash, PublicKey: pub}, nil
}

// verifier returns the note verifier of the key's cosignatures.
func (k WitnessKey) verifier() (note.Verifier, error) {
	v, err := fnote.NewVerifierForCosignatureV1(k.String())
	if err != nil {
		return nil, fmt.Errorf("%w: witness key: %v", ErrMalformed, err)
	}
	if v.KeyHash() != k.KeyHash {
		return nil, fmt.Errorf("%w: witness key hash %08x, the cosignature verifier computes %08x", ErrMalformed, k.KeyHash, v.KeyHash())
	}
	return v, nil
}

// NewWitnessSigner returns the cosignature/v1 signer of a witness from a
// note signer key ("PRIVATE+KEY+<name>+<hash>+<base64 of 0x01 and seed>",
// as note.GenerateKey makes), and the witness's verifier key.
func NewWitnessSigner(skey string) (note.Signer, WitnessKey, error) {
	_, vk, err := ParseSignerKey(skey)
	if err != nil {
		return nil, WitnessKey{}, err
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, WitnessKey{}, fmt.Errorf("%w: witness signing key: %v", ErrMalformed, err)
	}
	wk, err := NewWitnessKey(vk.Name, vk.PublicKey)
	if err != nil {
		return nil, WitnessKey{}, err
	}
	if s.KeyHash() != wk.KeyHash {
		return nil, WitnessKey{}, fmt.Errorf("%w: witness signer key hash %08x, want %08x", ErrMalformed, s.KeyHash(), wk.KeyHash)
	}
	return s, wk, nil
}

// WitnessPolicy says which witnesses a reader trusts and how many of them
// must have cosigned a checkpoint before the reader accepts it.
type WitnessPolicy struct {
	// Witnesses are the trusted witnesses' keys, each of a distinct name
	// and key.
	Witnesses []WitnessKey
	// Quorum is how many distinct witnesses of the list must have cosigned:
	// at least 1 and at most len(Witnesses).
	Quorum int
}

// NewWitnessPolicy parses witness keys ([ParseWitnessKey]) into a policy that
// needs quorum of them. A quorum of 0 means all of them. Repeated keys, a
// quorum above the number of keys, or no keys are [ErrMalformed].
func NewWitnessPolicy(keys []string, quorum int) (*WitnessPolicy, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: a witness policy needs at least one witness key", ErrMalformed)
	}
	p := &WitnessPolicy{Quorum: quorum}
	if quorum == 0 {
		p.Quorum = len(keys)
	}
	if p.Quorum < 0 || p.Quorum > len(keys) {
		return nil, fmt.Errorf("%w: quorum %d of %d witness keys", ErrMalformed, quorum, len(keys))
	}
	seen := map[string]bool{}
	for _, s := range keys {
		k, err := ParseWitnessKey(s)
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("%s+%08x", k.Name, k.KeyHash)
		if seen[id] {
			return nil, fmt.Errorf("%w: witness key %s is given twice", ErrMalformed, id)
		}
		seen[id] = true
		p.Witnesses = append(p.Witnesses, k)
	}
	return p, nil
}

// Cosignature is a witness's cosignature that verified.
type Cosignature struct {
	// Witness is the witness's name; KeyHash identifies its key.
	Witness string
	KeyHash uint32
	// Time is when the witness cosigned, as it says.
	Time time.Time
}

// OpenCosignedCheckpoint opens a checkpoint as [OpenCheckpoint] does, and
// then demands that the witnesses of a policy cosigned it:
//
//  1. The policy's witness keys are those [NewWitnessPolicy] accepts
//     ([ErrMalformed]).
//  2. Every signature line whose key name and key hash are those of the log
//     key or of a policy witness must verify: the log's as an Ed25519 note
//     signature, a witness's as a cosignature/v1 over the note text
//     ([ErrBadSignature]). Lines of other keys are ignored, and so are
//     repeats of a line's key after its first line.
//  3. The checkpoint is a checkpoint of origin signed by the log, as for
//     [OpenCheckpoint].
//  4. At least Quorum distinct witnesses of the policy cosigned it
//     ([ErrNoQuorum]), which the error lists.
//
// It returns the tree head and the cosignatures that verified, in the order
// of their lines.
func OpenCosignedCheckpoint(signed []byte, verifierKey, origin string, policy *WitnessPolicy) (TreeHead, []Cosignature, error) {
	if policy == nil || len(policy.Witnesses) == 0 || policy.Quorum < 1 || policy.Quorum > len(policy.Witnesses) {
		return TreeHead{}, nil, fmt.Errorf("%w: the witness policy needs witnesses and a quorum between 1 and their number", ErrMalformed)
	}
	head, err := OpenCheckpoint(signed, verifierKey, origin)
	if err != nil {
		return TreeHead{}, nil, err
	}
	vs := make([]note.Verifier, 0, len(policy.Witnesses))
	for _, k := range policy.Witnesses {
		v, err := k.verifier()
		if err != nil {
			return TreeHead{}, nil, err
		}
		vs = append(vs, v)
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	var invalid *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &invalid):
		return TreeHead{}, nil, fmt.Errorf("%w: the cosignature by witness %s+%08x does not verify over the checkpoint", ErrBadSignature, invalid.Name, invalid.Hash)
	case errors.As(err, &unverified):
		n = unverified.Note
	case err != nil:
		return TreeHead{}, nil, fmt.Errorf("%w: %s", ErrMalformed, explainNote(signed))
	}
	var cosigs []Cosignature
	for _, s := range n.Sigs {
		t, err := fnote.CoSigV1Timestamp(s)
		if err != nil {
			return TreeHead{}, nil, fmt.Errorf("%w: the cosignature by witness %s+%08x has no timestamp", ErrMalformed, s.Name, s.Hash)
		}
		cosigs = append(cosigs, Cosignature{Witness: s.Name, KeyHash: s.Hash, Time: t.UTC()})
	}
	if len(cosigs) < policy.Quorum {
		var names []string
		for _, c := range cosigs {
			names = append(names, c.Witness)
		}
		has := "none of them"
		if len(names) > 0 {
			has = "only " + strings.Join(names, ", ")
		}
		return TreeHead{}, nil, fmt.Errorf("%w: the checkpoint of size %d needs cosignatures by %d of %d trusted witnesses, it has %s",
			ErrNoQuorum, head.Size, policy.Quorum, len(policy.Witnesses), has)
	}
	return head, cosigs, nil
}

// Cosign adds a witness's cosignature/v1 to a note: the note's text is
// signed again with the witness signer, and the new signature line is
// appended after the note's own. It does not check the note's signatures.
func Cosign(signed []byte, s note.Signer) ([]byte, error) {
	n, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, explainNote(signed))
	}
	n = unverified.Note
	line, err := CosignatureLine(n.Text, s)
	if err != nil {
		return nil, err
	}
	return append(append([]byte(nil), signed...), line...), nil
}

// CosignatureLine returns the signature line, with its newline, of a
// witness's cosignature/v1 of a checkpoint text.
func CosignatureLine(text string, s note.Signer) ([]byte, error) {
	signed, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		return nil, fmt.Errorf("%w: cosigning: %v", ErrMalformed, err)
	}
	return signed[len(text)+1:], nil
}
