package badger

import (
	"encoding/binary"
	"fmt"

	"github.com/agenttrail/agenttrail/store"
)

// This file holds the encoders and decoders of the values this driver
// stores beside what the engine hands it as bytes. Decoders check everything
// they read and return store.ErrCorrupt, never panic: stored bytes are
// untrusted input to verification (FuzzDecode* cover them).

const hashSize = store.HashSize

// encodeHashes concatenates tree hashes.
func encodeHashes(hs [][hashSize]byte) []byte {
	b := make([]byte, 0, len(hs)*hashSize)
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// decodeHashes splits a hash bundle into hashes.
func decodeHashes(b []byte) ([][hashSize]byte, error) {
	if len(b) == 0 || len(b)%hashSize != 0 {
		return nil, fmt.Errorf("%w: hash bundle of %d bytes is not a positive multiple of %d", store.ErrCorrupt, len(b), hashSize)
	}
	hs := make([][hashSize]byte, len(b)/hashSize)
	for i := range hs {
		copy(hs[i][:], b[i*hashSize:])
	}
	return hs, nil
}

// maxPostings bounds the entries of one posting list: a list holds the
// matches of one batch, and batches are far smaller.
const maxPostings = 1 << 20

// encodePostings encodes an increasing list of log indexes whose first
// element is in the key: uvarint(count) then count-1 uvarint gaps.
func encodePostings(indexes []uint64) []byte {
	b := make([]byte, 0, 1+len(indexes))
	b = binary.AppendUvarint(b, uint64(len(indexes)))
	for i := 1; i < len(indexes); i++ {
		b = binary.AppendUvarint(b, indexes[i]-indexes[i-1])
	}
	return b
}

// decodePostings reverses encodePostings, given the first index from the key.
func decodePostings(first uint64, b []byte, dst []uint64) ([]uint64, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k != uvarintLen(n) || n == 0 || n > maxPostings {
		return nil, fmt.Errorf("%w: posting list count", store.ErrCorrupt)
	}
	b = b[k:]
	dst = append(dst[:0], first)
	prev := first
	for i := uint64(1); i < n; i++ {
		gap, k := binary.Uvarint(b)
		if k <= 0 || k != uvarintLen(gap) || gap == 0 || prev+gap < prev {
			return nil, fmt.Errorf("%w: posting list entry %d", store.ErrCorrupt, i)
		}
		b = b[k:]
		prev += gap
		dst = append(dst, prev)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after posting list", store.ErrCorrupt, len(b))
	}
	return dst, nil
}

// uvarintLen is the length of the shortest varint encoding of v; longer
// encodings of the same number are refused, so each list has one encoding.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func encodeU64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func decodeU64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: %d-byte integer, want 8", store.ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
