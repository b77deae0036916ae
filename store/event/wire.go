package event

import (
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Encoded is an event split for the log and encoded: Header is the
// deterministic encoding of the Event holding only its METADATA fields,
// Content that of the Event holding every other field. Decoding both and
// merging them gives back the event.
type Encoded struct {
	Header  []byte
	Content []byte
}

// Encode validates an event (see Validate) and splits its deterministic
// encoding into header and content in one pass over the bytes. It is the
// append path's fast equivalent of Split followed by two deterministic
// Marshal calls, and produces the same bytes (a test holds it to that).
func Encode(ev *agenttrailv1.Event, lim Limits) (Encoded, error) {
	return encode(ev, lim, deterministic)
}

// EncodeSized is Encode for an event that proto.Size has measured and that
// has not changed since: it encodes with the sizes Size left in the
// event's messages (proto.MarshalOptions.UseCachedSize), which spares a
// pass over it. The sequencer measures every event as it is submitted.
func EncodeSized(ev *agenttrailv1.Event, lim Limits) (Encoded, error) {
	return encode(ev, lim, deterministicSized)
}

func encode(ev *agenttrailv1.Event, lim Limits, opts proto.MarshalOptions) (Encoded, error) {
	if err := checkEnvelope(ev, lim); err != nil {
		return Encoded{}, err
	}
	// The whole encoding is only read, to split it: it goes in a pooled
	// buffer, and the halves get one allocation of their own.
	bufs := encodeBuffers.Get().(*buffers)
	defer bufs.release()
	b, err := opts.MarshalAppend(bufs.marshal[:0], ev)
	if err != nil {
		// Go's encoder refuses invalid UTF-8: find the field to name it.
		if p := invalidUTF8(ev.ProtoReflect(), ""); p != "" {
			return Encoded{}, &FieldError{Field: p, Reason: "must be valid UTF-8"}
		}
		return Encoded{}, &FieldError{Field: "event", Reason: "cannot be encoded"}
	}
	bufs.marshal = b
	// b is Go's own encoding, whose strings Marshal has found valid UTF-8
	// (every string of the event model is proto3's, which it checks): the
	// walk does not check them again.
	enc, ferr := splitEncoding(b, bufs, false)
	if ferr != nil {
		if ferr.Field == "" {
			ferr.Field = "event"
		}
		return Encoded{}, ferr
	}
	return enc, nil
}

// splitEncoding splits b, an event's encoding whose strings are known to
// be valid UTF-8, into its halves, in one allocation; with canon, only if
// b is canonical (see canonical.go).
func splitEncoding(b []byte, bufs *buffers, canon bool) (Encoded, *FieldError) {
	// The header's part stays within its capacity, or moves out on its
	// own: it never runs into the content's.
	slab := make([]byte, 0, headerRoom+len(b))
	enc := Encoded{Header: slab[:0:headerRoom], Content: slab[headerRoom:headerRoom]}
	if err := walkWire(eventInfo(), b, &enc.Header, &enc.Content, bufs, true, canon); err != nil {
		return Encoded{}, err
	}
	return enc, nil
}

var (
	deterministic      = proto.MarshalOptions{Deterministic: true}
	deterministicSized = proto.MarshalOptions{Deterministic: true, UseCachedSize: true}
)

// headerRoom is the room an encoding's header half gets before it needs an
// allocation of its own: most headers are well under it.
const headerRoom = 256

// buffers are Encode's working buffers: the one it marshals into, and
// those the wire walk splits nested containers into (a stack: containers
// nest). Encode takes them from encodeBuffers and gives them back.
type buffers struct {
	marshal []byte
	free    [][]byte
}

var encodeBuffers = sync.Pool{New: func() any { return &buffers{marshal: make([]byte, 0, 4096)} }}

// maxPooledBuffer is the largest buffer kept for the next Encode.
const maxPooledBuffer = 256 << 10

func (bs *buffers) get() []byte {
	if n := len(bs.free); n > 0 {
		b := bs.free[n-1]
		bs.free = bs.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 256)
}

func (bs *buffers) put(b []byte) {
	if cap(b) <= maxPooledBuffer {
		bs.free = append(bs.free, b)
	}
}

func (bs *buffers) release() {
	if cap(bs.marshal) > maxPooledBuffer {
		bs.marshal = nil
	}
	encodeBuffers.Put(bs)
}

// wktKind names the well-known types whose values are checked.
type wktKind int

const (
	wktNone wktKind = iota
	wktTimestamp
	wktDuration
	wktOther
)

// messageInfo is what the wire walk needs to know of a message type.
type messageInfo struct {
	name     protoreflect.FullName
	wkt      wktKind
	mapEntry bool         // a map's entry: key and value are always both encoded
	fields   []*fieldInfo // by field number; nil where none
}

type fieldInfo struct {
	name      string
	kind      protoreflect.Kind
	list      bool
	metadata  bool
	container bool
	enum      protoreflect.EnumValueDescriptors
	msg       *messageInfo
	// What the canonical walk (see canonical.go) needs: where Go's encoder
	// writes the field among the others (rank), whether it leaves the
	// field out when it holds its zero value (no presence), whether a list
	// is packed, whether the field may take several records in a row
	// (lists that are not packed, maps), the bit of its oneof (0: none),
	// and for maps whether the key is a string.
	rank      uint64
	implicit  bool
	packed    bool
	records   bool
	oneofBit  uint64
	stringKey bool
}

func (m *messageInfo) field(n protowire.Number) *fieldInfo {
	if int(n) < len(m.fields) {
		return m.fields[n]
	}
	return nil
}

var (
	infoOnce sync.Once
	infoRoot *messageInfo
)

func eventInfo() *messageInfo {
	infoOnce.Do(func() {
		built := map[protoreflect.FullName]*messageInfo{}
		infoRoot = buildInfo((&agenttrailv1.Event{}).ProtoReflect().Descriptor(), built)
	})
	return infoRoot
}

func buildInfo(md protoreflect.MessageDescriptor, built map[protoreflect.FullName]*messageInfo) *messageInfo {
	if mi, ok := built[md.FullName()]; ok {
		return mi
	}
	mi := &messageInfo{name: md.FullName(), mapEntry: md.IsMapEntry()}
	built[md.FullName()] = mi
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		mi.wkt = wktTimestamp
	case "google.protobuf.Duration":
		mi.wkt = wktDuration
	default:
		if md.ParentFile().Package() == "google.protobuf" {
			mi.wkt = wktOther
		}
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		fi := &fieldInfo{
			name:      string(fd.Name()),
			kind:      fd.Kind(),
			list:      fd.IsList() || fd.IsMap(),
			metadata:  ClassOf(fd) == agenttrailv1.FieldClass_FIELD_CLASS_METADATA || mi.wkt != wktNone || md.IsMapEntry(),
			container: IsContainer(fd),
		}
		if fd.Enum() != nil {
			fi.enum = fd.Enum().Values()
		}
		fi.implicit = !fd.HasPresence() && !fi.list && !md.IsMapEntry()
		fi.packed = fd.IsPacked()
		fi.records = fi.list && !fi.packed
		fi.rank = uint64(fd.Number())
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			// after the fields outside oneofs, oneof by oneof
			fi.rank |= 1<<63 | uint64(od.Index())<<32
			if od.Index() < 64 {
				fi.oneofBit = 1 << od.Index()
			}
		}
		if fd.IsMap() {
			fi.stringKey = fd.MapKey().Kind() == protoreflect.StringKind
		}
		if fd.Message() != nil {
			fi.msg = buildInfo(fd.Message(), built)
		}
		for int(fd.Number()) >= len(mi.fields) {
			mi.fields = append(mi.fields, nil)
		}
		mi.fields[fd.Number()] = fi
	}
	return mi
}

// walkWire checks the encoding b of a message of type mi and, when split
// is set (the buffers for nested containers), appends each of its fields
// to header or content by class,
// splitting METADATA containers field by field. Fields keep their order, so
// each half is itself a deterministic encoding. Errors name fields relative
// to this message; callers prefix their own path on the way out, so that
// the common, valid case builds no strings. utf8Checked says that b is
// Go's own marshaling of a message, which refuses strings that are not
// valid UTF-8: the walk then leaves them unchecked. canon asks the walk to
// refuse, too, any encoding that is not exactly Go's deterministic
// encoding of what it decodes to (see canonical.go); the error it returns
// then says only that the bytes are to be encoded again.
func walkWire(mi *messageInfo, b []byte, header, content *[]byte, split *buffers, utf8Checked, canon bool) *FieldError {
	var counts [64]uint16 // occurrences per field number, for list paths
	var order canonicalOrder
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return &FieldError{Reason: "is not a valid protobuf encoding"}
		}
		fi := mi.field(num)
		if fi == nil {
			return &FieldError{Reason: fmt.Sprintf("has field number %d, which this server does not know: upgrade the server or drop the field", num)}
		}
		if canon && !order.next(fi, num, n, b[n:]) {
			return notCanonical()
		}
		at := func(e *FieldError) *FieldError {
			p := fi.name
			if fi.list {
				p += "[" + strconv.Itoa(int(counts[min(int(num), len(counts)-1)])) + "]"
			}
			e.Field = join(p, e.Field)
			return e
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return at(&FieldError{Reason: "is not a valid protobuf encoding"})
		}
		record, value := b[:n+m], b[n:n+m]
		b = b[n+m:]
		if err := checkField(fi, typ, value, split != nil, utf8Checked, canon); err != nil {
			return at(err)
		}
		if split != nil {
			switch {
			case fi.container:
				body, _ := protowire.ConsumeBytes(value)
				h, c := split.get(), split.get()
				if err := walkWire(fi.msg, body, &h, &c, split, utf8Checked, canon); err != nil {
					return at(err)
				}
				*header = protowire.AppendTag(*header, num, protowire.BytesType)
				*header = protowire.AppendBytes(*header, h)
				if len(c) > 0 {
					*content = protowire.AppendTag(*content, num, protowire.BytesType)
					*content = protowire.AppendBytes(*content, c)
				}
				split.put(h)
				split.put(c)
			case fi.metadata:
				*header = append(*header, record...)
			default:
				*content = append(*content, record...)
			}
		}
		if fi.list && int(num) < len(counts) {
			counts[num]++
		}
	}
	if canon && mi.mapEntry && order.fields != 2 {
		return notCanonical() // Go encodes a map entry's key and value, always
	}
	return nil
}

// checkField checks one field record's value: its wire type (of its kind,
// or packed for a repeated scalar), UTF-8 for
// strings (unless utf8Checked), defined values for enums, and nested
// messages (containers being split are checked while they are split).
// Errors name the field's contents relative to the field.
func checkField(fi *fieldInfo, typ protowire.Type, value []byte, splitting, utf8Checked, canon bool) *FieldError {
	if canon && !canonicalValue(fi, typ, value) {
		return notCanonical()
	}
	switch fi.kind {
	case protoreflect.StringKind:
		s, n := protowire.ConsumeBytes(value)
		if typ != protowire.BytesType || n < 0 {
			return malformed()
		}
		if !utf8Checked && !utf8.Valid(s) {
			return &FieldError{Reason: "must be valid UTF-8"}
		}
	case protoreflect.EnumKind:
		check := func(v uint64) *FieldError {
			if fi.enum.ByNumber(protoreflect.EnumNumber(int32(v))) == nil {
				return &FieldError{Reason: fmt.Sprintf("%d is not a defined value", int32(v))}
			}
			return nil
		}
		switch typ {
		case protowire.VarintType:
			v, _ := protowire.ConsumeVarint(value)
			return check(v)
		case protowire.BytesType: // packed, for a repeated enum only
			if !fi.list {
				return malformed()
			}
			packed, _ := protowire.ConsumeBytes(value)
			for len(packed) > 0 {
				v, n := protowire.ConsumeVarint(packed)
				if n < 0 {
					return malformed()
				}
				if err := check(v); err != nil {
					return err
				}
				packed = packed[n:]
			}
		default:
			return malformed()
		}
	case protoreflect.MessageKind:
		body, n := protowire.ConsumeBytes(value)
		if typ != protowire.BytesType || n < 0 {
			return malformed()
		}
		if fi.container && splitting {
			return nil
		}
		if fi.msg.wkt != wktNone {
			return checkWKTBytes(fi.msg, body, canon)
		}
		return walkWire(fi.msg, body, nil, nil, nil, utf8Checked, canon)
	default:
		// proto.Unmarshal keeps a known field number of another wire type
		// as an unknown field, which readers drop: the log would commit
		// bytes that no reader decodes as the field.
		want := WireType(fi.kind)
		if typ == want {
			return nil
		}
		if !fi.list || typ != protowire.BytesType || want == protowire.BytesType {
			return &FieldError{Reason: fmt.Sprintf("has wire type %d where a %s (wire type %d) is expected", typ, fi.kind, want)}
		}
		packed, _ := protowire.ConsumeBytes(value)
		switch want { // packed: whole values of the field's wire type
		case protowire.VarintType:
			for len(packed) > 0 {
				_, n := protowire.ConsumeVarint(packed)
				if n < 0 {
					return malformed()
				}
				packed = packed[n:]
			}
		case protowire.Fixed32Type:
			if len(packed)%4 != 0 {
				return malformed()
			}
		case protowire.Fixed64Type:
			if len(packed)%8 != 0 {
				return malformed()
			}
		default:
			return malformed()
		}
	}
	return nil
}

func malformed() *FieldError { return &FieldError{Reason: "is not a valid protobuf encoding"} }

// checkWKTBytes checks a Timestamp or Duration: in range, and for durations
// not negative.
func checkWKTBytes(mi *messageInfo, b []byte, canon bool) *FieldError {
	var seconds, nanos int64
	last := protowire.Number(0)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.VarintType {
			return &FieldError{Reason: "is not a valid protobuf encoding"}
		}
		v, m := protowire.ConsumeVarint(b[n:])
		if m < 0 {
			return &FieldError{Reason: "is not a valid protobuf encoding"}
		}
		if canon {
			// seconds (int64) then nanos (int32), each once, never zero,
			// each in its shortest form.
			if num <= last || n != 1 || v == 0 || m != protowire.SizeVarint(v) || (num == 2 && !canonicalInt32(v)) {
				return notCanonical()
			}
			last = num
		}
		switch num {
		case 1:
			seconds = int64(v)
		case 2:
			nanos = int64(int32(v))
		default:
			return &FieldError{Reason: fmt.Sprintf("has unknown field number %d", num)}
		}
		b = b[n+m:]
	}
	switch mi.wkt {
	case wktTimestamp:
		if seconds < minTimestamp || seconds > maxTimestamp || nanos < 0 || nanos >= 1e9 {
			return &FieldError{Reason: "must be a valid timestamp (seconds within years 1 to 9999, nanos below 1e9)"}
		}
	case wktDuration:
		if seconds < 0 || nanos < 0 || nanos >= 1e9 || seconds > maxDurationSeconds {
			return &FieldError{Reason: "must be a valid duration that is not negative"}
		}
	}
	return nil
}

const (
	minTimestamp       = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestamp       = 253402300799 // 9999-12-31T23:59:59Z
	maxDurationSeconds = 315576000000 // 10,000 years
)

// invalidUTF8 returns the path of the first string field that is not valid
// UTF-8, or "". It runs only after encoding failed.
func invalidUTF8(m protoreflect.Message, path string) string {
	var found string
	check := func(fd protoreflect.FieldDescriptor, v protoreflect.Value, p string) bool {
		switch {
		case fd.Kind() == protoreflect.StringKind && !utf8.ValidString(v.String()):
			found = p
		case fd.Message() != nil:
			found = invalidUTF8(v.Message(), p)
		}
		return found == ""
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := join(path, string(fd.Name()))
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len() && found == ""; i++ {
				check(fd, v.List().Get(i), p+"["+strconv.Itoa(i)+"]")
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if !utf8.ValidString(k.String()) {
					found = p + "[]"
					return false
				}
				return check(fd.MapValue(), mv, p+"[]")
			})
		default:
			check(fd, v, p)
		}
		return found == ""
	})
	return found
}

func join(path, name string) string {
	switch {
	case path == "":
		return name
	case name == "":
		return path
	}
	return path + "." + name
}
