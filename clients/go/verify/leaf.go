package verify

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"

	"golang.org/x/mod/sumdb/tlog"
)

// HashSize is the size in bytes of every hash, digest and salt of the log.
const HashSize = sha256.Size

// LeafHash returns the RFC 6962 leaf hash that the log commits to for one
// event: SHA-256(0x00 || uint32_be(len(header)) || header || digest), where
// header is the encoded EventHeader exactly as committed and digest is the
// content digest (see [ContentDigest]).
//
// LeafHash panics if header is 4 GiB or longer, since its length does not
// fit the 32-bit prefix; [Entry] reports such a header as [ErrMalformed].
func LeafHash(header, digest []byte) [32]byte {
	if uint64(len(header)) > math.MaxUint32 {
		panic(fmt.Sprintf("verify: header of %d bytes is too long for a leaf", len(header)))
	}
	data := make([]byte, 0, 4+len(header)+len(digest))
	data = binary.BigEndian.AppendUint32(data, uint32(len(header)))
	data = append(data, header...)
	data = append(data, digest...)
	return tlog.RecordHash(data)
}

// ContentDigest returns SHA-256(salt || content), the digest through which
// the log commits to an event's content. The salt is 32 bytes chosen by the
// server; content is the encoded Event holding only its non-METADATA fields,
// exactly as committed.
func ContentDigest(salt, content []byte) [32]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(content)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
