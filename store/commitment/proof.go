package commitment

import (
	"crypto/sha256"
	"fmt"
	"math"

	"golang.org/x/mod/sumdb/tlog"
)

// emptyRoot is the RFC 6962 root hash of the tree of size 0: SHA-256 of
// nothing.
var emptyRoot = sha256.Sum256(nil)

// CheckInclusion checks an RFC 6962 inclusion proof (RFC 9162, section 2.1.3):
// that the leaf hash is the leaf at index in the tree of the given size and
// root hash. The proof is the audit path from the leaf's sibling up, as
// GetInclusionProofResponse.hashes carries it, 32 bytes per hash.
//
// It returns an error wrapping [ErrMalformed] when a proof hash is not 32
// bytes, and [ErrBadProof] when the size exceeds 2^63-1, the index is not
// below the size, or the proof does not lead from the leaf to the root with
// exactly the hashes a proof for that index and size has.
func CheckInclusion(index, size uint64, leaf [32]byte, proof [][]byte, root [32]byte) error {
	p, err := proofHashes(proof)
	if err != nil {
		return err
	}
	if size > math.MaxInt64 {
		return fmt.Errorf("%w: tree size %d is larger than 2^63-1", ErrBadProof, size)
	}
	if index >= size {
		return fmt.Errorf("%w: index %d is not in a tree of size %d", ErrBadProof, index, size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(p), int64(size), root, int64(index), leaf); err != nil {
		return fmt.Errorf("%w: inclusion proof of %d hashes does not lead from leaf %x at index %d to root %x of tree size %d",
			ErrBadProof, len(p), leaf, index, root, size)
	}
	return nil
}

// CheckConsistency checks an RFC 6962 consistency proof (RFC 9162, section
// 2.1.4): that the tree of oldSize leaves with root oldRoot is a prefix of
// the tree of newSize leaves with root newRoot. The proof is as
// GetConsistencyProofResponse.hashes carries it, 32 bytes per hash.
//
// Equal sizes need an empty proof and equal roots. Every tree extends the
// empty tree, so oldSize 0 needs an empty proof and oldRoot equal to the
// empty tree's root, SHA-256 of nothing (and so does newRoot when newSize is
// 0 too).
//
// It returns an error wrapping [ErrMalformed] when a proof hash is not 32
// bytes, and [ErrBadProof] when newSize exceeds 2^63-1, oldSize exceeds
// newSize, or the proof does not lead to both roots with exactly the hashes a
// proof for those sizes has.
func CheckConsistency(oldSize, newSize uint64, oldRoot, newRoot [32]byte, proof [][]byte) error {
	p, err := proofHashes(proof)
	if err != nil {
		return err
	}
	if newSize > math.MaxInt64 {
		return fmt.Errorf("%w: tree size %d is larger than 2^63-1", ErrBadProof, newSize)
	}
	if oldSize > newSize {
		return fmt.Errorf("%w: old tree size %d is larger than new tree size %d", ErrBadProof, oldSize, newSize)
	}
	if oldSize == 0 {
		switch {
		case len(p) != 0:
			return fmt.Errorf("%w: a consistency proof from the empty tree has no hashes, got %d", ErrBadProof, len(p))
		case oldRoot != emptyRoot:
			return fmt.Errorf("%w: old root %x is not the empty tree's root %x", ErrBadProof, oldRoot, emptyRoot)
		case newSize == 0 && newRoot != emptyRoot:
			return fmt.Errorf("%w: new root %x is not the empty tree's root %x", ErrBadProof, newRoot, emptyRoot)
		}
		return nil
	}
	if err := tlog.CheckTree(tlog.TreeProof(p), int64(newSize), newRoot, int64(oldSize), oldRoot); err != nil {
		return fmt.Errorf("%w: consistency proof of %d hashes does not show tree size %d (root %x) to be a prefix of tree size %d (root %x)",
			ErrBadProof, len(p), oldSize, oldRoot, newSize, newRoot)
	}
	return nil
}

// proofHashes converts a proof to tlog hashes, checking that each is 32
// bytes.
func proofHashes(proof [][]byte) ([]tlog.Hash, error) {
	p := make([]tlog.Hash, len(proof))
	for i, h := range proof {
		if len(h) != HashSize {
			return nil, fmt.Errorf("%w: proof hash %d is %d bytes, want %d", ErrMalformed, i, len(h), HashSize)
		}
		p[i] = tlog.Hash(h)
	}
	return p, nil
}
