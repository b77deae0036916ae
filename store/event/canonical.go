package event

import (
	"bytes"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// EncodeReceived is Encode for an event decoded from raw, the bytes it
// arrived in. When raw is already the deterministic encoding that Encode
// makes of the event (Go's encoder writes exactly that, and other encoders
// mostly do), it is split where it lies, and the event is not encoded
// again; otherwise the event is encoded as Encode does. Either way the
// result is Encode's, byte for byte. reused reports which way it went.
//
// raw must be the bytes ev was decoded from by proto.Unmarshal (which
// checked its strings for UTF-8), and neither may have changed since: the
// walk reads raw, and Encode's checks of the event itself read ev.
func EncodeReceived(ev *agenttrailv1.Event, raw []byte, lim Limits) (enc Encoded, reused bool, err error) {
	if err := checkEnvelope(ev, lim); err != nil {
		return Encoded{}, false, err
	}
	bufs := encodeBuffers.Get().(*buffers)
	enc, ferr := splitEncoding(raw, bufs, true)
	bufs.release()
	if ferr == nil {
		return enc, true, nil
	}
	// Not canonical, or not valid: encoding the event finds out which, and
	// says so as Encode does.
	enc, err = encode(ev, lim, deterministic)
	return enc, false, err
}

// MaxEncodedSize bounds the size of the deterministic encoding of a valid
// event (one Encode accepts) that decoded from n bytes of any encoding:
// what a batch may have to store of an event before it is known whether
// the bytes it arrived in were canonical. An encoding grows when it is
// made canonical only where it left out what Go's encoder writes: an
// int32 in its 5-byte form (10 bytes as Go writes it), a map entry
// without its key or value (2 bytes each). Everything else it may do
// (longer varints, repeated fields, unpacked lists) only shrinks. The fuzz
// test FuzzCanonical holds valid events to the bound.
func MaxEncodedSize(n int) int { return 2*n + 16 }

// IsCanonical reports whether b is exactly what Go's deterministic
// encoder writes for the Event b decodes to, and valid as Encode requires
// (every field known and of its type, enum values defined, timestamps and
// durations in range): EncodeReceived's test of the bytes an event arrived
// in. Strings are checked for UTF-8 too.
func IsCanonical(b []byte) bool {
	return walkWire(eventInfo(), b, nil, nil, nil, false, true) == nil
}

// The canonical walk (walkWire with canon set) accepts an encoding only
// when encoding what it decodes to gives the same bytes, so that the bytes
// an event arrived in can be committed as they are. Go's deterministic
// encoder writes:
//   - the fields outside oneofs in the order of their numbers, then the
//     fields of oneofs, oneof by oneof in the order they are declared (the
//     order of github.com/golang/protobuf, which Go's encoder keeps); each
//     singular field at most once, the records of a list or map one after
//     another, and at most one field of a oneof;
//   - every tag, length and varint in its shortest form;
//   - no field without presence that holds its zero value (0, false, "",
//     empty bytes, +0.0);
//   - lists of scalars packed (and an empty list not at all);
//   - an int32 or enum as the sign-extended 64-bit varint, a bool as 0 or 1,
//     and a uint32 or sint32 within 32 bits;
//   - map entries ordered by key, each with its key and its value;
//   - Timestamp and Duration as their seconds then their nanos, each only
//     when not zero.
//
// Anything else is refused, and the event is encoded again. The fuzz test
// FuzzCanonical holds the walk to that: whatever it accepts, decoding and
// encoding again gives back byte for byte.

// notCanonical is the walk's error for bytes that are to be encoded again.
func notCanonical() *FieldError { return &FieldError{Reason: "is not in canonical form"} }

// canonicalOrder follows the order of the fields of one message in the
// canonical walk.
type canonicalOrder struct {
	last   uint64 // the rank of the field before
	oneofs uint64 // the oneofs a field was seen of
	fields int    // distinct fields seen
	// key is the key of the map entry before, within the map being walked.
	key     []byte
	haveKey bool
}

// next takes the field record whose tag took tagLen bytes and whose value
// starts rest, and reports whether it may come where it does.
func (o *canonicalOrder) next(fi *fieldInfo, num protowire.Number, tagLen int, rest []byte) bool {
	if tagLen != protowire.SizeTag(num) {
		return false
	}
	if fi.rank>>63 == 1 && fi.oneofBit == 0 {
		return false // a oneof beyond the 64th: never seen, encode it again
	}
	switch {
	case fi.rank > o.last:
		if fi.oneofBit != 0 {
			if o.oneofs&fi.oneofBit != 0 {
				return false
			}
			o.oneofs |= fi.oneofBit
		}
		o.last, o.fields, o.haveKey = fi.rank, o.fields+1, false
	case fi.rank == o.last && fi.records:
		// the next element of the same list or map
	default:
		return false
	}
	if fi.msg == nil || !fi.msg.mapEntry {
		return true
	}
	if !fi.stringKey {
		return false // no map of the model has other keys: encode it again
	}
	key, ok := mapEntryKey(rest)
	if !ok || (o.haveKey && bytes.Compare(key, o.key) <= 0) {
		return false
	}
	o.key, o.haveKey = key, true
	return true
}

// mapEntryKey reads the key of a map entry record's value whose entry
// starts with its key, a string (field 1). The walk of the entry checks
// the rest.
func mapEntryKey(value []byte) ([]byte, bool) {
	entry, n := protowire.ConsumeBytes(value)
	if n < 0 {
		return nil, false
	}
	num, typ, m := protowire.ConsumeTag(entry)
	if m < 0 || num != 1 || typ != protowire.BytesType {
		return nil, false
	}
	key, k := protowire.ConsumeBytes(entry[m:])
	if k < 0 {
		return nil, false
	}
	return key, true
}

// canonicalValue reports whether the value of one field record is in the
// form Go's encoder writes (its order is canonicalOrder's).
func canonicalValue(fi *fieldInfo, typ protowire.Type, value []byte) bool {
	want := WireType(fi.kind)
	if typ != want {
		if !fi.packed || typ != protowire.BytesType {
			return false
		}
		packed, n := protowire.ConsumeBytes(value)
		if n < 0 || len(packed) == 0 || n != protowire.SizeBytes(len(packed)) {
			return false
		}
		switch want {
		case protowire.VarintType:
			for len(packed) > 0 {
				v, m := protowire.ConsumeVarint(packed)
				if m < 0 || m != protowire.SizeVarint(v) || !canonicalVarint(fi.kind, v) {
					return false
				}
				packed = packed[m:]
			}
			return true
		case protowire.Fixed32Type:
			return len(packed)%4 == 0
		case protowire.Fixed64Type:
			return len(packed)%8 == 0
		}
		return false
	}
	if fi.packed {
		return false // Go packs the list
	}
	switch typ {
	case protowire.VarintType:
		v, m := protowire.ConsumeVarint(value)
		return m > 0 && m == protowire.SizeVarint(v) && canonicalVarint(fi.kind, v) && !(fi.implicit && v == 0)
	case protowire.Fixed32Type:
		v, m := protowire.ConsumeFixed32(value)
		return m > 0 && !(fi.implicit && v == 0)
	case protowire.Fixed64Type:
		v, m := protowire.ConsumeFixed64(value)
		return m > 0 && !(fi.implicit && v == 0)
	case protowire.BytesType:
		b, m := protowire.ConsumeBytes(value)
		return m > 0 && m == protowire.SizeBytes(len(b)) && !(fi.implicit && len(b) == 0)
	}
	return false
}

// canonicalVarint reports whether v is a varint value that Go's encoder
// writes for a field of kind k: what decodes to a value encodes back to v.
func canonicalVarint(k protoreflect.Kind, v uint64) bool {
	switch k {
	case protoreflect.BoolKind:
		return v <= 1
	case protoreflect.Int32Kind, protoreflect.EnumKind:
		return canonicalInt32(v)
	case protoreflect.Uint32Kind, protoreflect.Sint32Kind:
		return v <= math.MaxUint32
	}
	return true
}

// canonicalInt32 reports whether v is an int32 as Go encodes it: sign
// extended to 64 bits.
func canonicalInt32(v uint64) bool { return v == uint64(int64(int32(v))) }
