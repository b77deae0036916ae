package event

import (
	"encoding/binary"
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// errNotHalves: the two encodings are not the halves Encode writes.
var errNotHalves = errors.New("event: not a header and content encoding of one event")

// AppendJoined appends to dst the encoding of the event a header and a
// content encoding (Encoded.Header and Encoded.Content) were split from,
// without decoding either: the same bytes as the deterministic encoding of
// Join of the two decoded halves. It relies on what Encode writes: each
// half keeps its fields in field-number order, and a field present in both
// is a container (a METADATA message field, see IsContainer), whose own
// fields are joined the same way. Encodings that
// do not have that shape are an error; decoding and joining them is the
// way to read them.
func AppendJoined(dst, header, content []byte) ([]byte, error) {
	start := len(dst)
	dst, err := appendJoined(dst, header, content, eventInfo(), 0)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// AppendJoinedField appends the event AppendJoined appends as the
// length-delimited field num of a message (tag, length, event), in one
// pass over the halves: the length is written once the event is.
func AppendJoinedField(dst []byte, num protowire.Number, header, content []byte) ([]byte, error) {
	start := len(dst)
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	at := len(dst)
	dst, reserved := reserveLength(dst, len(header)+len(content))
	dst, err := appendJoined(dst, header, content, eventInfo(), 0)
	if err != nil {
		return dst[:start], err
	}
	return putLength(dst, at, reserved), nil
}

// reserveLength appends room for the varint length of a value of at most
// bound bytes: a join is never longer than its two halves (a container in
// both loses one tag and length).
func reserveLength(dst []byte, bound int) ([]byte, int) {
	n := protowire.SizeVarint(uint64(bound))
	var room [binary.MaxVarintLen64]byte
	return append(dst, room[:n]...), n
}

// putLength writes the length of the value that follows the reserved
// bytes at dst[at:], moving the value down when its length takes fewer
// bytes than reserved (the varint must be the shortest, as protobuf
// writes it).
func putLength(dst []byte, at, reserved int) []byte {
	n := len(dst) - at - reserved
	if size := protowire.SizeVarint(uint64(n)); size < reserved {
		copy(dst[at+size:], dst[at+reserved:])
		dst = dst[:len(dst)-(reserved-size)]
	}
	protowire.AppendVarint(dst[:at], uint64(n))
	return dst
}

// JoinedSize returns the length of what AppendJoined appends, or the error
// it returns.
func JoinedSize(header, content []byte) (int, error) {
	return joinedSize(header, content, eventInfo(), 0)
}

// maxJoinDepth bounds the nesting of containers: the event model nests
// them a level or two.
const maxJoinDepth = 8

// nextField returns the number, wire type and whole length (tag included)
// of the first field of b.
func nextField(b []byte) (protowire.Number, protowire.Type, int, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, 0, errNotHalves
	}
	m := protowire.ConsumeFieldValue(num, typ, b[n:])
	if m < 0 {
		return 0, 0, 0, errNotHalves
	}
	return num, typ, n + m, nil
}

// joinedSize walks both halves in step, as appendJoined does, checking
// their shape and summing the joined length.
func joinedSize(a, b []byte, m *messageInfo, depth int) (int, error) {
	if depth > maxJoinDepth {
		return 0, errNotHalves
	}
	size := 0
	lastA, lastB, joined := protowire.Number(0), protowire.Number(0), protowire.Number(-1)
	for len(a) > 0 || len(b) > 0 {
		na, ta, la, nb, tb, lb := protowire.Number(0), protowire.Type(0), 0, protowire.Number(0), protowire.Type(0), 0
		var err error
		if len(a) > 0 {
			if na, ta, la, err = nextField(a); err != nil {
				return 0, err
			}
			if na < lastA {
				return 0, errNotHalves // not in field-number order
			}
			lastA = na
		}
		if len(b) > 0 {
			if nb, tb, lb, err = nextField(b); err != nil {
				return 0, err
			}
			if nb < lastB {
				return 0, errNotHalves
			}
			lastB = nb
		}
		if len(a) > 0 && na == joined || len(b) > 0 && nb == joined {
			return 0, errNotHalves // a container joined is once in each half
		}
		switch {
		case len(b) == 0 || len(a) > 0 && na < nb:
			size += la
			a = a[la:]
		case len(a) == 0 || nb < na:
			size += lb
			b = b[lb:]
		default: // in both halves: only a container may be
			fi := m.field(na)
			if fi == nil || !fi.container || fi.msg == nil || ta != protowire.BytesType || tb != protowire.BytesType {
				return 0, errNotHalves
			}
			va, vb := fieldBytes(a), fieldBytes(b)
			inner, err := joinedSize(va, vb, fi.msg, depth+1)
			if err != nil {
				return 0, err
			}
			size += protowire.SizeTag(na) + protowire.SizeBytes(inner)
			joined = na
			a, b = a[la:], b[lb:]
		}
	}
	return size, nil
}

// fieldBytes returns the value of the length-delimited field at the start
// of b, which joinedSize checked.
func fieldBytes(b []byte) []byte {
	_, _, n := protowire.ConsumeTag(b)
	v, _ := protowire.ConsumeBytes(b[n:])
	return v
}

// appendJoined appends the join of two halves, checking their shape as
// joinedSize does: on an error, what it appended is garbage.
func appendJoined(dst, a, b []byte, m *messageInfo, depth int) ([]byte, error) {
	if depth > maxJoinDepth {
		return dst, errNotHalves
	}
	lastA, lastB, joined := protowire.Number(0), protowire.Number(0), protowire.Number(-1)
	for len(a) > 0 || len(b) > 0 {
		na, ta, la, nb, tb, lb := protowire.Number(0), protowire.Type(0), 0, protowire.Number(0), protowire.Type(0), 0
		var err error
		if len(a) > 0 {
			if na, ta, la, err = nextField(a); err != nil {
				return dst, err
			}
			if na < lastA {
				return dst, errNotHalves // not in field-number order
			}
			lastA = na
		}
		if len(b) > 0 {
			if nb, tb, lb, err = nextField(b); err != nil {
				return dst, err
			}
			if nb < lastB {
				return dst, errNotHalves
			}
			lastB = nb
		}
		if len(a) > 0 && na == joined || len(b) > 0 && nb == joined {
			return dst, errNotHalves // a container joined is once in each half
		}
		switch {
		case len(b) == 0 || len(a) > 0 && na < nb:
			dst = append(dst, a[:la]...)
			a = a[la:]
		case len(a) == 0 || nb < na:
			dst = append(dst, b[:lb]...)
			b = b[lb:]
		default: // in both halves: only a container may be
			fi := m.field(na)
			if fi == nil || !fi.container || fi.msg == nil || ta != protowire.BytesType || tb != protowire.BytesType {
				return dst, errNotHalves
			}
			va, vb := fieldBytes(a), fieldBytes(b)
			dst = protowire.AppendTag(dst, na, protowire.BytesType)
			at := len(dst)
			var reserved int
			dst, reserved = reserveLength(dst, len(va)+len(vb))
			if dst, err = appendJoined(dst, va, vb, fi.msg, depth+1); err != nil {
				return dst, err
			}
			dst = putLength(dst, at, reserved)
			joined = na
			a, b = a[la:], b[lb:]
		}
	}
	return dst, nil
}
