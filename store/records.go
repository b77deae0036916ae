package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// This file holds the encoders and decoders of every stored value. Decoders
// check everything they read and return ErrCorrupt, never panic: stored
// bytes are untrusted input to verification (FuzzDecode* cover them).

const (
	hashSize  = sha256.Size
	saltSize  = 32
	maxHeader = 1 << 20 // a header is a few hundred bytes; anything near this is corrupt
)

// leafData encodes the bytes a Merkle leaf commits to:
//
//	uint32_be(len(header)) || header || content_digest
//
// It is stored as is under recordKey and returned to readers unchanged.
func leafData(header []byte, digest [hashSize]byte) []byte {
	b := make([]byte, 4+len(header)+hashSize)
	binary.BigEndian.PutUint32(b, uint32(len(header)))
	copy(b[4:], header)
	copy(b[4+len(header):], digest[:])
	return b
}

// parseLeafData splits leaf data into its header and content digest. The
// returned header aliases b.
func parseLeafData(b []byte) (header []byte, digest [hashSize]byte, err error) {
	if len(b) < 4+hashSize {
		return nil, digest, fmt.Errorf("%w: leaf data of %d bytes is shorter than its fixed part", ErrCorrupt, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if n > maxHeader || int(n) != len(b)-4-hashSize {
		return nil, digest, fmt.Errorf("%w: leaf data header length %d does not match its size %d", ErrCorrupt, n, len(b))
	}
	copy(digest[:], b[4+n:])
	return b[4 : 4+n], digest, nil
}

// leafHash is the RFC 6962 leaf hash of leaf data: SHA-256(0x00 || data).
func leafHash(data []byte) tlog.Hash { return tlog.RecordHash(data) }

// contentDigest is SHA-256(salt || content).
func contentDigest(salt, content []byte) [hashSize]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(content)
	var d [hashSize]byte
	h.Sum(d[:0])
	return d
}

// contentRecordVersion starts every content record, so that a later format
// (encrypted per subject, say) can live beside this one.
const contentRecordVersion = 1

// encodeContentRecord encodes the stored content of one event:
// version || salt || content.
func encodeContentRecord(salt, content []byte) []byte {
	b := make([]byte, 0, 1+saltSize+len(content))
	b = append(b, contentRecordVersion)
	b = append(b, salt...)
	return append(b, content...)
}

// decodeContentRecord reverses encodeContentRecord. The results alias b.
func decodeContentRecord(b []byte) (salt, content []byte, err error) {
	if len(b) < 1+saltSize {
		return nil, nil, fmt.Errorf("%w: content record of %d bytes is shorter than its salt", ErrCorrupt, len(b))
	}
	if b[0] != contentRecordVersion {
		return nil, nil, fmt.Errorf("%w: content record version %d, want %d", ErrCorrupt, b[0], contentRecordVersion)
	}
	return b[1 : 1+saltSize], b[1+saltSize:], nil
}

// encodeHashes concatenates tree hashes.
func encodeHashes(hs []tlog.Hash) []byte {
	b := make([]byte, 0, len(hs)*hashSize)
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// decodeHashes splits a hash bundle into hashes.
func decodeHashes(b []byte) ([]tlog.Hash, error) {
	if len(b) == 0 || len(b)%hashSize != 0 {
		return nil, fmt.Errorf("%w: hash bundle of %d bytes is not a positive multiple of %d", ErrCorrupt, len(b), hashSize)
	}
	hs := make([]tlog.Hash, len(b)/hashSize)
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
		return nil, fmt.Errorf("%w: posting list count", ErrCorrupt)
	}
	b = b[k:]
	dst = append(dst[:0], first)
	prev := first
	for i := uint64(1); i < n; i++ {
		gap, k := binary.Uvarint(b)
		if k <= 0 || k != uvarintLen(gap) || gap == 0 || prev+gap < prev {
			return nil, fmt.Errorf("%w: posting list entry %d", ErrCorrupt, i)
		}
		b = b[k:]
		prev += gap
		dst = append(dst, prev)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after posting list", ErrCorrupt, len(b))
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
		return 0, fmt.Errorf("%w: %d-byte integer, want 8", ErrCorrupt, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
