package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Verifier checks what a log serves against the log's verifier key, with
// package clients/go/verify. Its errors wrap that package's sentinels
// (verify.ErrBadSignature, verify.ErrBadProof, verify.ErrLeafMismatch, ...)
// and name the log index or tree size concerned. A Verifier is safe for
// concurrent use.
type Verifier struct {
	key    verify.VerifierKey
	keyStr string

	// The signed note last verified and its tree head: proving a range of
	// entries checks the same checkpoint for each, and a signature check
	// costs far more than an inclusion proof.
	mu       sync.Mutex
	lastNote []byte
	lastHead verify.TreeHead
}

// NewVerifier returns a verifier for the log whose checkpoints verify with
// verifierKey, a note verifier key "<origin>+<key hash>+<base64 key>" as
// the server prints it at start and GetVerifierKey returns it. An
// agenttrail log names its key after its origin, so the key's name is the
// origin every checkpoint must carry.
func NewVerifier(verifierKey string) (*Verifier, error) {
	k, err := verify.ParseVerifierKey(verifierKey)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Verifier{key: k, keyStr: verifierKey}, nil
}

// Key returns the verifier key, as given to NewVerifier.
func (v *Verifier) Key() string { return v.keyStr }

// Origin returns the origin of the log, the key's name.
func (v *Verifier) Origin() string { return v.key.Name }

// Checkpoint checks a checkpoint's signature and origin with
// verify.Checkpoint and returns the tree head it states. The checkpoint's
// unsigned fields (origin, tree_size, root_hash), when set, must agree with
// the signed note (verify.ErrMalformed otherwise).
func (v *Verifier) Checkpoint(cp *agenttrailv1.Checkpoint) (verify.TreeHead, error) {
	if cp == nil {
		return verify.TreeHead{}, fmt.Errorf("client: %w: no checkpoint", verify.ErrMalformed)
	}
	head, err := v.openCheckpoint(cp.GetSignedNote())
	if err != nil {
		return verify.TreeHead{}, fmt.Errorf("client: checkpoint: %w", err)
	}
	switch {
	case cp.GetOrigin() != "" && cp.GetOrigin() != head.Origin,
		cp.GetTreeSize() != 0 && cp.GetTreeSize() != head.Size,
		len(cp.GetRootHash()) != 0 && !bytes.Equal(cp.GetRootHash(), head.Root[:]):
		return verify.TreeHead{}, fmt.Errorf("client: checkpoint: %w: its unsigned fields disagree with its signed note (size %d, root %x)",
			verify.ErrMalformed, head.Size, head.Root)
	}
	return head, nil
}

// openCheckpoint is verify.OpenCheckpoint with the log's key, remembering
// the last note that verified (a pure function of the note's bytes).
func (v *Verifier) openCheckpoint(note []byte) (verify.TreeHead, error) {
	v.mu.Lock()
	if v.lastNote != nil && bytes.Equal(note, v.lastNote) {
		head := v.lastHead
		v.mu.Unlock()
		return head, nil
	}
	v.mu.Unlock()
	head, err := verify.OpenCheckpoint(note, v.keyStr, v.key.Name)
	if err != nil {
		return head, err
	}
	v.mu.Lock()
	v.lastNote, v.lastHead = bytes.Clone(note), head
	v.mu.Unlock()
	return head, nil
}

// CosignedCheckpoint checks a checkpoint as [Verifier.Checkpoint] does, and
// that a quorum of the witnesses of a policy cosigned it
// (verify.OpenCosignedCheckpoint; verify.ErrNoQuorum otherwise). It returns
// the tree head and the cosignatures that verified.
func (v *Verifier) CosignedCheckpoint(cp *agenttrailv1.Checkpoint, p *verify.WitnessPolicy) (verify.TreeHead, []verify.Cosignature, error) {
	head, err := v.Checkpoint(cp)
	if err != nil {
		return verify.TreeHead{}, nil, err
	}
	_, cosigs, err := verify.OpenCosignedCheckpoint(cp.GetSignedNote(), v.keyStr, v.key.Name, p)
	if err != nil {
		return verify.TreeHead{}, nil, fmt.Errorf("client: checkpoint: %w", err)
	}
	return head, cosigs, nil
}

// VerifyEntry checks an entry end to end and returns the tree head it was
// proved against:
//
//  1. verify.Entry: the leaf hash is that of the committed header and
//     content digest, the content (when shown) matches the digest, and the
//     event and stamp shown are what was committed;
//  2. the checkpoint's signature and origin ([Verifier.Checkpoint]); cp may
//     be nil to use the one the proof carries;
//  3. the proof is for this entry's index and leaf hash and for the
//     checkpoint's tree size (verify.ErrBadProof otherwise);
//  4. verify.Inclusion: the leaf is at that index in the checkpoint's tree.
func (v *Verifier) VerifyEntry(e *agenttrailv1.Entry, cp *agenttrailv1.Checkpoint, proof *agenttrailv1.GetInclusionProofResponse) (verify.TreeHead, error) {
	index := e.GetStamp().GetLogIndex()
	if err := verify.CheckEntry(e); err != nil {
		return verify.TreeHead{}, fmt.Errorf("client: entry %d: %w", index, err)
	}
	return v.inclusion("entry", index, e.GetCommitment().GetLeafHash(), cp, proof)
}

// VerifyWithheld checks a withheld entry (see [WithWithheld]): its leaf hash
// is well formed (verify.CheckWithheld), and the leaf is at its index in the tree
// of the checkpoint, as for [Verifier.VerifyEntry] steps 2 to 4. It returns
// the tree head the leaf was proved against. Nothing else can be checked: the
// reader may not see the entry's header or content.
func (v *Verifier) VerifyWithheld(w *agenttrailv1.WithheldEntry, cp *agenttrailv1.Checkpoint, proof *agenttrailv1.GetInclusionProofResponse) (verify.TreeHead, error) {
	index := w.GetLogIndex()
	if err := verify.CheckWithheld(w); err != nil {
		return verify.TreeHead{}, fmt.Errorf("client: withheld entry %d: %w", index, err)
	}
	return v.inclusion("withheld entry", index, w.GetLeafHash(), cp, proof)
}

// inclusion checks the inclusion proof of a leaf at index against the
// checkpoint (or, when cp is nil, the one the proof carries).
func (v *Verifier) inclusion(what string, index uint64, leaf []byte, cp *agenttrailv1.Checkpoint, proof *agenttrailv1.GetInclusionProofResponse) (verify.TreeHead, error) {
	if proof == nil {
		return verify.TreeHead{}, fmt.Errorf("client: %s %d: %w: no inclusion proof", what, index, verify.ErrMalformed)
	}
	if cp == nil {
		cp = proof.GetCheckpoint()
	}
	head, err := v.Checkpoint(cp)
	if err != nil {
		return verify.TreeHead{}, fmt.Errorf("client: %s %d: %w", what, index, err)
	}
	switch {
	case proof.GetLogIndex() != index:
		return verify.TreeHead{}, fmt.Errorf("client: %s %d: %w: the inclusion proof is for index %d", what, index, verify.ErrBadProof, proof.GetLogIndex())
	case proof.GetTreeSize() != head.Size:
		return verify.TreeHead{}, fmt.Errorf("client: %s %d: %w: the inclusion proof is for tree size %d, the checkpoint for %d", what, index, verify.ErrBadProof, proof.GetTreeSize(), head.Size)
	case len(proof.GetLeafHash()) != 0 && !bytes.Equal(proof.GetLeafHash(), leaf):
		return verify.TreeHead{}, fmt.Errorf("client: %s %d: %w: the inclusion proof is for leaf %x, the %s's leaf is %x", what, index, verify.ErrBadProof, proof.GetLeafHash(), what, leaf)
	}
	if err := verify.CheckInclusion(index, head.Size, [32]byte(leaf), proof.GetHashes(), head.Root); err != nil {
		return verify.TreeHead{}, fmt.Errorf("client: %s %d: %w", what, index, err)
	}
	return head, nil
}

// VerifyConsistency checks that a newer checkpoint extends a tree head
// verified earlier (from a state kept by the caller): the checkpoint's
// signature ([Verifier.Checkpoint]; cp may be nil to use the one the proof
// carries), that the proof is for the two sizes, and verify.Consistency.
// It returns the new tree head, to keep in place of the old one. A
// checkpoint smaller than the old head is refused (verify.ErrBadProof): a
// log never shrinks.
func (v *Verifier) VerifyConsistency(old verify.TreeHead, cp *agenttrailv1.Checkpoint, proof *agenttrailv1.GetConsistencyProofResponse) (verify.TreeHead, error) {
	if cp == nil && proof != nil {
		cp = proof.GetCheckpoint()
	}
	head, err := v.Checkpoint(cp)
	if err != nil {
		return verify.TreeHead{}, err
	}
	if old.Origin != "" && old.Origin != head.Origin {
		return verify.TreeHead{}, fmt.Errorf("client: consistency: %w: the old tree head is of log %q, the checkpoint of %q", verify.ErrOriginMismatch, old.Origin, head.Origin)
	}
	if head.Size < old.Size {
		return verify.TreeHead{}, fmt.Errorf("client: consistency: %w: the checkpoint's tree size %d is smaller than the %d verified before: the log was rolled back", verify.ErrBadProof, head.Size, old.Size)
	}
	var hashes [][]byte
	if old.Size != 0 && old.Size != head.Size {
		if proof == nil {
			return verify.TreeHead{}, fmt.Errorf("client: consistency: %w: no consistency proof", verify.ErrMalformed)
		}
		if proof.GetFromSize() != old.Size || proof.GetToSize() != head.Size {
			return verify.TreeHead{}, fmt.Errorf("client: consistency: %w: the proof is from size %d to %d, want %d to %d",
				verify.ErrBadProof, proof.GetFromSize(), proof.GetToSize(), old.Size, head.Size)
		}
		hashes = proof.GetHashes()
	}
	oldRoot := old.Root
	if old.Size == 0 {
		oldRoot = emptyRoot
	}
	if err := verify.CheckConsistency(old.Size, head.Size, oldRoot, head.Root, hashes); err != nil {
		return verify.TreeHead{}, fmt.Errorf("client: consistency of tree size %d with %d: %w", old.Size, head.Size, err)
	}
	return head, nil
}

// emptyRoot is the root hash of the empty tree: SHA-256 of nothing.
var emptyRoot = sha256.Sum256(nil)

// ProveEntry fetches the inclusion proof of an entry against the latest
// checkpoint and checks both with [Verifier.VerifyEntry]. An entry newer
// than the latest checkpoint cannot be proved yet: the server answers
// INVALID_ARGUMENT until it signs the next one (within its checkpoint
// interval, a second by default).
func (c *Client) ProveEntry(ctx context.Context, v *Verifier, e *agenttrailv1.Entry) (verify.TreeHead, error) {
	proof, err := c.InclusionProof(ctx, e.GetStamp().GetLogIndex(), 0)
	if err != nil {
		return verify.TreeHead{}, err
	}
	return v.VerifyEntry(e, proof.GetCheckpoint(), proof)
}
