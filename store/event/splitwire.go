package event

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AppendSplit splits b, the deterministic encoding of an Event, into the
// header and content halves that Encode writes for it, appending them to
// header and content, in one pass over the bytes and without the checks
// Encode makes of the event itself (required fields, sizes): the halves
// are the deterministic encodings of Split of the decoded event. The
// encoding must have the shape Encode accepts: only fields this build
// knows, each with its own wire type, valid UTF-8, defined enum values,
// valid timestamps and durations.
// Anything else is an error (a *FieldError), and decoding and splitting the
// event is then the way to read it. Readers use it to compare an event they
// were shown with the halves the log committed to, byte for byte.
func AppendSplit(header, content, b []byte) (h, c []byte, err error) {
	bufs := encodeBuffers.Get().(*buffers)
	defer bufs.release()
	start, cstart := len(header), len(content)
	if ferr := walkWire(eventInfo(), b, &header, &content, bufs, false, false); ferr != nil {
		if ferr.Field == "" {
			ferr.Field = "event"
		}
		return header[:start], content[:cstart], ferr
	}
	return header, content, nil
}

// WireType is the wire type of one value of a field kind (a repeated
// scalar may also be packed, as bytes).
func WireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	default: // string, bytes, message
		return protowire.BytesType
	}
}

// SecondsAndNanos reads the encoding of a google.protobuf.Timestamp or
// Duration of at most one seconds and one nanos field, each a varint, and
// nothing else; ok is false for any other encoding.
func SecondsAndNanos(b []byte) (seconds int64, nanos int32, ok bool) {
	var seen [3]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < 1 || num > 2 || seen[num] || typ != protowire.VarintType {
			return 0, 0, false
		}
		seen[num] = true
		v, m := protowire.ConsumeVarint(b[n:])
		if m < 0 {
			return 0, 0, false
		}
		b = b[n+m:]
		if num == 1 {
			seconds = int64(v)
		} else {
			nanos = int32(v)
		}
	}
	return seconds, nanos, true
}
