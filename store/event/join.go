package event

import (
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
	n, err := JoinedSize(header, content)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = appendJoined(dst, header, content, eventInfo())
	if len(dst)-start != n {
		return dst[:start], errNotHalves
	}
	return dst, nil
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

// appendJoined appends the join of two halves joinedSize accepted.
func appendJoined(dst, a, b []byte, m *messageInfo) []byte {
	for len(a) > 0 || len(b) > 0 {
		var na, nb protowire.Number
		var la, lb int
		if len(a) > 0 {
			na, _, la, _ = nextField(a)
		}
		if len(b) > 0 {
			nb, _, lb, _ = nextField(b)
		}
		switch {
		case len(b) == 0 || len(a) > 0 && na < nb:
			dst = append(dst, a[:la]...)
			a = a[la:]
		case len(a) == 0 || nb < na:
			dst = append(dst, b[:lb]...)
			b = b[lb:]
		default:
			va, vb, sub := fieldBytes(a), fieldBytes(b), m.field(na).msg
			inner, _ := joinedSize(va, vb, sub, 0)
			dst = protowire.AppendTag(dst, na, protowire.BytesType)
			dst = protowire.AppendVarint(dst, uint64(inner))
			dst = appendJoined(dst, va, vb, sub)
			a, b = a[la:], b[lb:]
		}
	}
	return dst
}
