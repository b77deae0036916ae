package commitment

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// HashSize is the size in bytes of every hash, digest and salt of the log.
const HashSize = sha256.Size

// SaltSize is the size in bytes of the random salt of a content digest.
const SaltSize = 32

// MaxHeaderSize bounds the encoded EventHeader that leaf data may hold. A
// header is a few hundred bytes; anything near this is not one.
const MaxHeaderSize = 1 << 20

// LeafData encodes the bytes a Merkle leaf commits to:
//
//	uint32_be(len(header)) || header || content_digest
//
// where header is the encoded agenttrail.v1.EventHeader (see [EncodeHeader])
// and digest the content digest (see [ContentDigest]). Stores keep exactly
// these bytes and readers receive them unchanged.
func LeafData(header []byte, digest [HashSize]byte) []byte {
	b := make([]byte, 4+len(header)+HashSize)
	binary.BigEndian.PutUint32(b, uint32(len(header)))
	copy(b[4:], header)
	copy(b[4+len(header):], digest[:])
	return b
}

// ParseLeafData splits leaf data into its header and content digest. The
// header aliases data. Data that is not in the form [LeafData] writes, or
// whose header exceeds [MaxHeaderSize], is [ErrMalformed].
func ParseLeafData(data []byte) (header []byte, digest [HashSize]byte, err error) {
	if len(data) < 4+HashSize {
		return nil, digest, fmt.Errorf("%w: leaf data of %d bytes is shorter than its fixed part", ErrMalformed, len(data))
	}
	n := binary.BigEndian.Uint32(data)
	if n > MaxHeaderSize || int(n) != len(data)-4-HashSize {
		return nil, digest, fmt.Errorf("%w: leaf data header length %d does not match its size %d", ErrMalformed, n, len(data))
	}
	copy(digest[:], data[4+n:])
	return data[4 : 4+n], digest, nil
}

// HashLeafData is the RFC 6962 leaf hash of leaf data: SHA-256(0x00 || data).
func HashLeafData(data []byte) [HashSize]byte { return tlog.RecordHash(data) }

// LeafHash returns the RFC 6962 leaf hash that the log commits to for one
// event: SHA-256(0x00 || uint32_be(len(header)) || header || digest), where
// header is the encoded EventHeader exactly as committed and digest is the
// content digest (see [ContentDigest]).
//
// LeafHash panics if header is 4 GiB or longer, since its length does not
// fit the 32-bit prefix; verifiers report such a header as [ErrMalformed].
func LeafHash(header, digest []byte) [HashSize]byte {
	if uint64(len(header)) > math.MaxUint32 {
		panic(fmt.Sprintf("commitment: header of %d bytes is too long for a leaf", len(header)))
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
func ContentDigest(salt, content []byte) [HashSize]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(content)
	var sum [HashSize]byte
	h.Sum(sum[:0])
	return sum
}

// EncodeHeader encodes an agenttrail.v1.EventHeader from an encoded header
// event (the event with only its METADATA fields, as store/event encodes
// it), an encoded google.protobuf.Timestamp of the time the server received
// it, and the appending principal, exactly as deterministic marshalling of
// the message would: fields in number order, an empty principal omitted.
func EncodeHeader(event, receivedAt []byte, principal string) []byte {
	b := make([]byte, 0, len(event)+len(receivedAt)+len(principal)+12)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, event)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, receivedAt)
	if principal != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, principal)
	}
	return b
}

// DecodeHeader decodes committed header bytes. A header that does not
// decode, or lacks its event or received-at time, is [ErrMalformed].
func DecodeHeader(header []byte) (*agenttrailv1.EventHeader, error) {
	var h agenttrailv1.EventHeader
	if err := proto.Unmarshal(header, &h); err != nil {
		return nil, fmt.Errorf("%w: header bytes do not decode as agenttrail.v1.EventHeader: %v", ErrMalformed, err)
	}
	if h.GetEvent() == nil || h.GetReceivedAt() == nil {
		return nil, fmt.Errorf("%w: header lacks its event or received-at time", ErrMalformed)
	}
	return &h, nil
}

// SplitHeader reads committed header bytes without decoding the event: the
// event's encoding, the received-at time and the principal. It accepts only
// the shape EncodeHeader writes (each of the three fields once and of its
// type, the time's seconds and nanos at most once each, the principal
// UTF-8), and ok is false for anything else, which DecodeHeader may still
// read. When it accepts, DecodeHeader decodes the header to the same time
// and principal provided the event decodes (the caller checks that).
func SplitHeader(header []byte) (event []byte, receivedAt time.Time, principal []byte, ok bool) {
	var ts []byte
	var seen [4]bool
	for len(header) > 0 {
		num, typ, n := protowire.ConsumeTag(header)
		if n < 0 || num < 1 || num > 3 || seen[num] || typ != protowire.BytesType {
			return nil, time.Time{}, nil, false
		}
		seen[num] = true
		v, m := protowire.ConsumeBytes(header[n:])
		if m < 0 {
			return nil, time.Time{}, nil, false
		}
		header = header[n+m:]
		switch num {
		case 1:
			event = v
		case 2:
			ts = v
		case 3:
			if !utf8.Valid(v) {
				return nil, time.Time{}, nil, false
			}
			principal = v
		}
	}
	if !seen[1] || !seen[2] {
		return nil, time.Time{}, nil, false
	}
	var secs, nanos int64
	var tsSeen [3]bool
	for len(ts) > 0 {
		num, typ, n := protowire.ConsumeTag(ts)
		if n < 0 || num < 1 || num > 2 || tsSeen[num] || typ != protowire.VarintType {
			return nil, time.Time{}, nil, false
		}
		tsSeen[num] = true
		v, m := protowire.ConsumeVarint(ts[n:])
		if m < 0 {
			return nil, time.Time{}, nil, false
		}
		ts = ts[n+m:]
		if num == 1 {
			secs = int64(v)
		} else {
			nanos = int64(int32(v))
		}
	}
	return event, time.Unix(secs, nanos).UTC(), principal, true
}
