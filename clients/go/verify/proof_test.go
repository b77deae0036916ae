package verify_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/clients/go/verify"
)

// The Python and TypeScript verifiers implement the verification algorithms
// of RFC 9162 (sections 2.1.3.2 and 2.1.4.2) where this package uses tlog.
// rfc9162Inclusion and rfc9162Consistency are those algorithms, written as
// the RFC states them; the tests below check that they accept and reject
// exactly what Inclusion and Consistency do, on every proof of small trees
// and many broken ones.

func node(l, r []byte) []byte {
	h := sha256.Sum256(append(append([]byte{0x01}, l...), r...))
	return h[:]
}

func rfc9162Inclusion(index, size uint64, leaf []byte, proof [][]byte, root []byte) bool {
	if index >= size {
		return false
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range proof {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = node(p, r)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			r = node(r, p)
		}
		fn, sn = fn>>1, sn>>1
	}
	return sn == 0 && string(r) == string(root)
}

func rfc9162Consistency(first, second uint64, firstHash, secondHash []byte, proof [][]byte) bool {
	switch {
	case first > second:
		return false
	case first == second:
		return len(proof) == 0 && string(firstHash) == string(secondHash)
	case first == 0:
		empty := sha256.Sum256(nil)
		return len(proof) == 0 && string(firstHash) == string(empty[:])
	case len(proof) == 0:
		return false
	}
	if first&(first-1) == 0 {
		proof = append([][]byte{firstHash}, proof...)
	}
	fn, sn := first-1, second-1
	for fn&1 == 1 {
		fn, sn = fn>>1, sn>>1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			fr, sr = node(c, fr), node(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn, sn = fn>>1, sn>>1
			}
		} else {
			sr = node(sr, c)
		}
		fn, sn = fn>>1, sn>>1
	}
	return string(fr) == string(firstHash) && string(sr) == string(secondHash) && sn == 0
}

// mutations returns a proof and broken variants of it.
func mutations(proof [][]byte, extra []byte) map[string][][]byte {
	m := map[string][][]byte{"as is": proof, "extra hash": append(append([][]byte{}, proof...), extra)}
	if len(proof) > 0 {
		m["missing last"] = proof[:len(proof)-1]
		m["missing first"] = proof[1:]
	}
	for i := range proof {
		c := append([][]byte{}, proof...)
		c[i] = flip(c[i], 0)
		m[fmt.Sprintf("hash %d flipped", i)] = c
	}
	return m
}

func smallLog(t *testing.T, n int) *memLog {
	t.Helper()
	var log memLog
	for i := range n {
		log.add(t, tlog.RecordHash([]byte(fmt.Sprintf("leaf %d", i))))
	}
	return &log
}

// rfc9162MaxSize bounds the trees compared: every shape of proof (sizes and
// indexes with and without powers of two, left and right edges) occurs well
// below it.
const rfc9162MaxSize = 24

func TestInclusionAgreesWithRFC9162(t *testing.T) {
	const maxSize = rfc9162MaxSize
	log := smallLog(t, maxSize+1)
	for size := uint64(1); size <= maxSize; size++ {
		root := log.root(t, size)
		for index := range size {
			proof := proofOf(log.inclusion(t, index, size))
			for what, p := range mutations(proof, log.leaves[0][:]) {
				for _, c := range []struct{ index, size uint64 }{
					{index, size}, {index + 1, size}, {index - 1, size}, {index, size + 1}, {index, size - 1},
				} {
					if c.index == math.MaxUint64 {
						continue // index 0 - 1
					}
					err := verify.CheckInclusion(c.index, c.size, log.leaves[index], p, [32]byte(root))
					want := rfc9162Inclusion(c.index, c.size, log.leaves[index][:], p, root)
					if (err == nil) != want {
						t.Fatalf("proof for (%d, %d), %s, checked as (%d, %d): Inclusion error %v, RFC 9162 accepts: %v",
							index, size, what, c.index, c.size, err, want)
					}
					if err != nil && !errors.Is(err, verify.ErrBadProof) {
						t.Fatalf("got %v, want ErrBadProof", err)
					}
					if what == "as is" && c.index == index && c.size == size && err != nil {
						t.Fatalf("valid proof for (%d, %d) rejected: %v", index, size, err)
					}
				}
			}
		}
	}
}

func TestConsistencyAgreesWithRFC9162(t *testing.T) {
	const maxSize = rfc9162MaxSize
	log := smallLog(t, maxSize+1)
	var roots [][]byte
	for size := range uint64(maxSize + 1) {
		roots = append(roots, log.root(t, size))
	}
	for newSize := uint64(0); newSize <= maxSize; newSize++ {
		for oldSize := uint64(0); oldSize <= newSize; oldSize++ {
			oldRoot, newRoot := roots[oldSize], roots[newSize]
			proof := proofOf(log.consistency(t, oldSize, newSize))
			for what, p := range mutations(proof, log.leaves[0][:]) {
				for _, c := range []struct{ oldSize, newSize uint64 }{
					{oldSize, newSize}, {oldSize + 1, newSize}, {oldSize - 1, newSize}, {oldSize, newSize + 1}, {oldSize, newSize - 1},
				} {
					if c.oldSize == math.MaxUint64 || c.newSize == math.MaxUint64 {
						continue
					}
					err := verify.CheckConsistency(c.oldSize, c.newSize, [32]byte(oldRoot), [32]byte(newRoot), p)
					want := rfc9162Consistency(c.oldSize, c.newSize, oldRoot, newRoot, p)
					if (err == nil) != want {
						t.Fatalf("proof for (%d, %d), %s, checked as (%d, %d): Consistency error %v, RFC 9162 accepts: %v",
							oldSize, newSize, what, c.oldSize, c.newSize, err, want)
					}
					if err != nil && !errors.Is(err, verify.ErrBadProof) {
						t.Fatalf("got %v, want ErrBadProof", err)
					}
					if what == "as is" && c.oldSize == oldSize && c.newSize == newSize && err != nil {
						t.Fatalf("valid proof for (%d, %d) rejected: %v", oldSize, newSize, err)
					}
				}
			}
		}
	}
}

func TestProofSizeLimits(t *testing.T) {
	var h [32]byte
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"inclusion size 2^63", verify.CheckInclusion(0, 1<<63, h, nil, h), verify.ErrBadProof},
		{"inclusion size 2^64-1", verify.CheckInclusion(0, math.MaxUint64, h, nil, h), verify.ErrBadProof},
		{"consistency new size 2^63", verify.CheckConsistency(1, 1<<63, h, h, nil), verify.ErrBadProof},
		{"inclusion hash of 0 bytes", verify.CheckInclusion(0, 2, h, [][]byte{{}}, h), verify.ErrMalformed},
		{"consistency hash of 33 bytes", verify.CheckConsistency(1, 2, h, h, [][]byte{make([]byte, 33)}), verify.ErrMalformed},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
		}
	}
}
