package evidence

import (
	"encoding/base64"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// A bundle line holds two messages in protojson (jsonOptions): an Entry
// and its inclusion proof. protojson reads every field through reflection,
// which made it the largest CPU cost of an export. appendJSON writes the
// same bytes from the message's wire encoding instead, walking tables
// built once from the descriptors: fields in declaration order with their
// .proto names, 64-bit integers quoted, bytes in standard base64, enums by
// name (by number when undefined), map keys sorted, Timestamp and Duration
// as RFC 3339 and "1.5s" strings, strings escaped as protojson escapes
// them, and the space that protojson adds after commas in some builds (its
// output is deliberately unstable across builds; see jsonCommaSpace). It
// handles exactly the encodings proto.Marshal writes for messages without
// unknown fields; for anything else (unknown fields, other well-known
// types, invalid UTF-8, out-of-range times) it reports errNotPlain and the
// caller renders the message with protojson, so a bundle line is always
// protojson's. Tests hold the two to the same bytes on random messages of
// every payload type and by fuzzing.

// errNotPlain: the encoding is not one appendJSON renders; use protojson.
var errNotPlain = errors.New("evidence: message needs protojson")

// jsonCommaSpace is whether protojson, in this binary, writes a space after
// each comma of single-line output (internal/detrand: it depends on a hash
// of the binary, to keep users from relying on byte-exact output).
var jsonCommaSpace = func() bool {
	b, err := jsonOptions.Marshal(&agenttrailv1.View{Kind: 1, Content: 1})
	return err == nil && slices.Contains(b, ' ')
}()

// jsonMessage is what appendJSON knows of a message type.
type jsonMessage struct {
	// wkt is how the type is written: as a message, or as a Timestamp or a
	// Duration; other well-known types are not rendered here.
	wkt      jsonWKT
	byNumber []*jsonField // nil where no field has the number
	ordered  []*jsonField // in declaration order, as protojson writes them
}

type jsonWKT int

const (
	wktMessage jsonWKT = iota
	wktTimestamp
	wktDuration
	wktUnsupported
)

type jsonField struct {
	index int    // in ordered
	name  []byte // `"name":`
	kind  protoreflect.Kind
	wire  protowire.Type // of one value; lists of scalars may also be packed
	list  bool
	isMap bool
	// key and value are a map's entry fields.
	key, value *jsonField
	msg        *jsonMessage
	// enum holds the quoted names of the enum's values by number, for
	// numbers 0 to len-1 (the enums of the model are dense); other numbers
	// are looked up in enumSparse, and undefined ones written as numbers.
	enum       [][]byte
	enumSparse map[int32][]byte
	// unsupported marks a kind appendJSON does not write (groups,
	// google.protobuf.NullValue).
	unsupported bool
}

func (m *jsonMessage) field(n protowire.Number) *jsonField {
	if int(n) < len(m.byNumber) {
		return m.byNumber[n]
	}
	return nil
}

var (
	entryJSONOnce sync.Once
	entryJSON     *jsonMessage
	proofJSON     *jsonMessage
)

func jsonTables() (entry, proof *jsonMessage) {
	entryJSONOnce.Do(func() {
		built := map[protoreflect.FullName]*jsonMessage{}
		entryJSON = buildJSONMessage((&agenttrailv1.Entry{}).ProtoReflect().Descriptor(), built)
		proofJSON = buildJSONMessage((&agenttrailv1.GetInclusionProofResponse{}).ProtoReflect().Descriptor(), built)
	})
	return entryJSON, proofJSON
}

func buildJSONMessage(md protoreflect.MessageDescriptor, built map[protoreflect.FullName]*jsonMessage) *jsonMessage {
	if m, ok := built[md.FullName()]; ok {
		return m
	}
	m := &jsonMessage{}
	built[md.FullName()] = m
	if md.ParentFile().Package() == "google.protobuf" {
		switch md.Name() {
		case "Timestamp":
			m.wkt = wktTimestamp
		case "Duration":
			m.wkt = wktDuration
		case "Empty": // no special mapping: an object
		default:
			m.wkt = wktUnsupported
		}
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := buildJSONField(fd, built)
		f.index = i
		f.name = append(strconv.AppendQuote(nil, fd.TextName()), ':')
		if !isPlainName(fd.TextName()) {
			f.unsupported = true
		}
		for int(fd.Number()) >= len(m.byNumber) {
			m.byNumber = append(m.byNumber, nil)
		}
		m.byNumber[fd.Number()] = f
		m.ordered = append(m.ordered, f)
	}
	return m
}

func buildJSONField(fd protoreflect.FieldDescriptor, built map[protoreflect.FullName]*jsonMessage) *jsonField {
	f := &jsonField{kind: fd.Kind(), wire: event.WireType(fd.Kind()), list: fd.IsList(), isMap: fd.IsMap()}
	switch {
	case fd.IsMap():
		f.key = buildJSONField(fd.MapKey(), built)
		f.value = buildJSONField(fd.MapValue(), built)
		f.wire = protowire.BytesType
		f.unsupported = f.key.unsupported || f.value.unsupported
	case fd.Kind() == protoreflect.GroupKind:
		f.unsupported = true
	case fd.Message() != nil:
		f.msg = buildJSONMessage(fd.Message(), built)
	case fd.Enum() != nil:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			f.unsupported = true
		}
		values := fd.Enum().Values()
		for j := range values.Len() {
			v := values.Get(j)
			quoted := strconv.AppendQuote(nil, string(v.Name()))
			if n := v.Number(); n >= 0 && n < 1024 {
				for int(n) >= len(f.enum) {
					f.enum = append(f.enum, nil)
				}
				if f.enum[n] == nil {
					f.enum[n] = quoted
				}
			} else {
				if f.enumSparse == nil {
					f.enumSparse = map[int32][]byte{}
				}
				if _, ok := f.enumSparse[int32(n)]; !ok {
					f.enumSparse[int32(n)] = quoted
				}
			}
		}
	}
	return f
}

// isPlainName reports whether a name needs no JSON escaping, so that
// strconv.AppendQuote writes it as protojson does.
func isPlainName(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// jsonState is the working memory of one line: the wire encodings, and the
// spans of each message's fields. Lines are rendered on several
// goroutines; each takes its own from jsonStates.
type jsonState struct {
	wire  []byte
	spans []span
	keys  []mapItem
}

// span is where a field's records are in a message's encoding: [from, to).
type span struct{ from, to int }

// mapItem is one entry of a map: its key's JSON name and its value record.
type mapItem struct {
	key   []byte // the JSON name, quoted, with its colon
	sort  mapSortKey
	value []byte // the encoded value, without its tag; nil when absent
}

type mapSortKey struct {
	s string
	i int64
	u uint64
}

var jsonStates = sync.Pool{New: func() any { return &jsonState{wire: make([]byte, 0, 4096)} }}

// maxPooledWire is the largest wire buffer kept for the next line.
const maxPooledWire = 1 << 20

// appendMessageJSON appends m as protojson (jsonOptions) writes it.
func appendMessageJSON(dst []byte, m proto.Message, table *jsonMessage) ([]byte, error) {
	st := jsonStates.Get().(*jsonState)
	defer func() {
		if cap(st.wire) > maxPooledWire {
			st.wire = nil
		}
		jsonStates.Put(st)
	}()
	wire, err := proto.MarshalOptions{}.MarshalAppend(st.wire[:0], m)
	st.wire = wire
	if err == nil {
		// Room for the JSON at once: base64 and names make it larger than
		// the wire encoding, rarely twice as large.
		dst = slices.Grow(dst, 2*len(wire)+64)
		var out []byte
		if out, err = st.appendObject(dst, wire, table, 0); err == nil {
			return out, nil
		}
	}
	return jsonOptions.MarshalAppend(dst, m)
}

// maxJSONDepth bounds nesting; deeper messages go to protojson.
const maxJSONDepth = 64

// appendObject appends the message encoded in b as a JSON object.
func (st *jsonState) appendObject(dst, b []byte, m *jsonMessage, depth int) ([]byte, error) {
	switch {
	case depth > maxJSONDepth:
		return dst, errNotPlain
	case m.wkt == wktTimestamp:
		return appendTimestamp(dst, b)
	case m.wkt == wktDuration:
		return appendDuration(dst, b)
	case m.wkt != wktMessage:
		return dst, errNotPlain
	}
	// The spans of this message's fields, by declaration index, on the
	// shared stack of spans.
	base := len(st.spans)
	for range m.ordered {
		st.spans = append(st.spans, span{-1, -1})
	}
	defer func() { st.spans = st.spans[:base] }()
	for at := 0; at < len(b); {
		num, typ, n := protowire.ConsumeTag(b[at:])
		if n < 0 {
			return dst, errNotPlain
		}
		l := protowire.ConsumeFieldValue(num, typ, b[at+n:])
		if l < 0 {
			return dst, errNotPlain
		}
		f := m.field(num)
		// proto.Marshal writes each field's records together (in number
		// order, oneofs last), and unknown fields last: a field seen again
		// after another, and any unknown field, is not plain.
		if f == nil || f.unsupported || typ != f.wire && !(f.list && typ == protowire.BytesType && f.wire != protowire.BytesType) {
			return dst, errNotPlain
		}
		s := &st.spans[base+f.index]
		switch {
		case s.from < 0:
			s.from = at
		case !f.list && !f.isMap, s.to != at:
			return dst, errNotPlain
		}
		at += n + l
		s.to = at
	}
	dst = append(dst, '{')
	first := true
	for _, f := range m.ordered {
		s := st.spans[base+f.index]
		if s.from < 0 {
			continue
		}
		if !first {
			dst = appendComma(dst)
		}
		first = false
		dst = append(dst, f.name...)
		var err error
		switch {
		case f.isMap:
			dst, err = st.appendMap(dst, b[s.from:s.to], f, depth)
		case f.list:
			dst, err = st.appendList(dst, b[s.from:s.to], f, depth)
		default:
			_, typ, n := protowire.ConsumeTag(b[s.from:])
			dst, err = st.appendValue(dst, b[s.from+n:s.to], typ, f, depth)
		}
		if err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendComma(dst []byte) []byte {
	if jsonCommaSpace {
		return append(dst, ',', ' ')
	}
	return append(dst, ',')
}

// appendList appends the records of a repeated field (packed or not) as a
// JSON array.
func (st *jsonState) appendList(dst, b []byte, f *jsonField, depth int) ([]byte, error) {
	dst = append(dst, '[')
	first := true
	for len(b) > 0 {
		_, typ, n := protowire.ConsumeTag(b)
		l := protowire.ConsumeFieldValue(0, typ, b[n:])
		value := b[n : n+l]
		b = b[n+l:]
		if typ == protowire.BytesType && f.wire != protowire.BytesType { // packed
			packed, _ := protowire.ConsumeBytes(value)
			for len(packed) > 0 {
				k := protowire.ConsumeFieldValue(0, f.wire, packed)
				if k < 0 {
					return dst, errNotPlain
				}
				if !first {
					dst = appendComma(dst)
				}
				first = false
				var err error
				if dst, err = st.appendValue(dst, packed[:k], f.wire, f, depth); err != nil {
					return dst, err
				}
				packed = packed[k:]
			}
			continue
		}
		if !first {
			dst = appendComma(dst)
		}
		first = false
		var err error
		if dst, err = st.appendValue(dst, value, typ, f, depth); err != nil {
			return dst, err
		}
	}
	if first {
		return dst, errNotPlain // only empty packed records: a decoder sees no list
	}
	return append(dst, ']'), nil
}

// appendMap appends the entry records of a map field as a JSON object
// with sorted keys, as protojson orders them.
func (st *jsonState) appendMap(dst, b []byte, f *jsonField, depth int) ([]byte, error) {
	base := len(st.keys)
	defer func() { st.keys = st.keys[:base] }()
	for len(b) > 0 {
		_, _, n := protowire.ConsumeTag(b)
		entry, l := protowire.ConsumeBytes(b[n:])
		if l < 0 {
			return dst, errNotPlain
		}
		b = b[n+l:]
		var item mapItem
		var keyRaw []byte
		keySeen, valueSeen := false, false
		for len(entry) > 0 {
			num, typ, n := protowire.ConsumeTag(entry)
			if n < 0 {
				return dst, errNotPlain
			}
			k := protowire.ConsumeFieldValue(num, typ, entry[n:])
			if k < 0 {
				return dst, errNotPlain
			}
			v := entry[n : n+k]
			entry = entry[n+k:]
			switch {
			case num == 1 && typ == f.key.wire && !keySeen:
				keyRaw, keySeen = v, true
			case num == 2 && typ == f.value.wire && !valueSeen:
				item.value, valueSeen = v, true
			default:
				return dst, errNotPlain
			}
		}
		if !keySeen {
			return dst, errNotPlain // a zero key: rare enough for protojson
		}
		var err error
		if item.key, item.sort, err = mapKeyJSON(keyRaw, f.key); err != nil {
			return dst, err
		}
		if !valueSeen {
			return dst, errNotPlain // a zero value: rare enough for protojson
		}
		st.keys = append(st.keys, item)
	}
	items := st.keys[base:]
	slices.SortFunc(items, func(a, b mapItem) int {
		switch {
		case a.sort.s != b.sort.s:
			if a.sort.s < b.sort.s {
				return -1
			}
			return 1
		case a.sort.i != b.sort.i:
			if a.sort.i < b.sort.i {
				return -1
			}
			return 1
		case a.sort.u != b.sort.u:
			if a.sort.u < b.sort.u {
				return -1
			}
			return 1
		}
		return 0
	})
	for i := 1; i < len(items); i++ {
		if items[i].sort == items[i-1].sort {
			return dst, errNotPlain // a repeated key: the last one wins in a decoder
		}
	}
	dst = append(dst, '{')
	for i, item := range items {
		if i > 0 {
			dst = appendComma(dst)
		}
		dst = append(dst, item.key...)
		var err error
		if dst, err = st.appendValue(dst, item.value, f.value.wire, f.value, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// mapKeyJSON returns a map key as protojson names it, and how it sorts.
func mapKeyJSON(raw []byte, f *jsonField) ([]byte, mapSortKey, error) {
	var name []byte
	var key mapSortKey
	var err error
	switch f.kind {
	case protoreflect.StringKind:
		s, _ := protowire.ConsumeBytes(raw)
		key.s = string(s)
		if name, err = appendJSONString(nil, s); err != nil {
			return nil, key, err
		}
	case protoreflect.BoolKind:
		v, _ := protowire.ConsumeVarint(raw)
		name = strconv.AppendQuote(nil, strconv.FormatBool(v != 0))
		if v != 0 {
			key.u = 1
		}
	default:
		var n []byte
		if n, err = appendScalar(nil, raw, f); err != nil {
			return nil, key, err
		}
		if n[0] == '"' { // 64-bit: already quoted
			name = n
		} else {
			name = append(append([]byte{'"'}, n...), '"')
		}
		switch f.kind {
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			key.u, _ = strconv.ParseUint(string(trimQuotes(n)), 10, 64)
		default:
			key.i, _ = strconv.ParseInt(string(trimQuotes(n)), 10, 64)
		}
	}
	return append(name, ':'), key, nil
}

func trimQuotes(b []byte) []byte {
	if len(b) >= 2 && b[0] == '"' {
		return b[1 : len(b)-1]
	}
	return b
}

// appendValue appends one value of a field: v is the record's value
// (length-prefixed for strings, bytes and messages).
func (st *jsonState) appendValue(dst, v []byte, typ protowire.Type, f *jsonField, depth int) ([]byte, error) {
	if f.kind == protoreflect.MessageKind {
		body, n := protowire.ConsumeBytes(v)
		if n < 0 || typ != protowire.BytesType {
			return dst, errNotPlain
		}
		return st.appendObject(dst, body, f.msg, depth+1)
	}
	return appendScalar(dst, v, f)
}

// appendScalar appends a scalar value as protojson writes it.
func appendScalar(dst, v []byte, f *jsonField) ([]byte, error) {
	var x uint64
	switch f.wire {
	case protowire.VarintType:
		var n int
		if x, n = protowire.ConsumeVarint(v); n < 0 {
			return dst, errNotPlain
		}
	case protowire.Fixed32Type:
		u, n := protowire.ConsumeFixed32(v)
		if n < 0 {
			return dst, errNotPlain
		}
		x = uint64(u)
	case protowire.Fixed64Type:
		var n int
		if x, n = protowire.ConsumeFixed64(v); n < 0 {
			return dst, errNotPlain
		}
	}
	switch f.kind {
	case protoreflect.BoolKind:
		if x != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(dst, int64(int32(x)), 10), nil
	case protoreflect.Sint32Kind:
		return strconv.AppendInt(dst, int64(int32(protowire.DecodeZigZag(x&math.MaxUint32))), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(dst, uint64(uint32(x)), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		return append(strconv.AppendInt(append(dst, '"'), int64(x), 10), '"'), nil
	case protoreflect.Sint64Kind:
		return append(strconv.AppendInt(append(dst, '"'), protowire.DecodeZigZag(x), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return append(strconv.AppendUint(append(dst, '"'), x, 10), '"'), nil
	case protoreflect.FloatKind:
		return appendJSONFloat(dst, float64(math.Float32frombits(uint32(x))), 32), nil
	case protoreflect.DoubleKind:
		return appendJSONFloat(dst, math.Float64frombits(x), 64), nil
	case protoreflect.EnumKind:
		n := int32(x)
		if n >= 0 && int(n) < len(f.enum) && f.enum[n] != nil {
			return append(dst, f.enum[n]...), nil
		}
		if name, ok := f.enumSparse[n]; ok {
			return append(dst, name...), nil
		}
		return strconv.AppendInt(dst, int64(n), 10), nil
	case protoreflect.StringKind:
		s, n := protowire.ConsumeBytes(v)
		if n < 0 {
			return dst, errNotPlain
		}
		return appendJSONString(dst, s)
	case protoreflect.BytesKind:
		s, n := protowire.ConsumeBytes(v)
		if n < 0 {
			return dst, errNotPlain
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, s)
		return append(dst, '"'), nil
	}
	return dst, errNotPlain
}

// appendJSONString appends s as a JSON string, escaped as protojson
// escapes it (google.golang.org/protobuf/internal/encoding/json): '"', '\\'
// and control characters only; invalid UTF-8 is an error.
func appendJSONString(dst, s []byte) ([]byte, error) {
	dst = append(dst, '"')
	i := indexNeedEscape(s)
	s, dst = s[i:], append(dst, s[:i]...)
	for len(s) > 0 {
		switch r, n := utf8.DecodeRune(s); {
		case r == utf8.RuneError && n == 1:
			return dst, errNotPlain
		case r < ' ' || r == '"' || r == '\\':
			dst = append(dst, '\\')
			switch r {
			case '"', '\\':
				dst = append(dst, byte(r))
			case '\b':
				dst = append(dst, 'b')
			case '\f':
				dst = append(dst, 'f')
			case '\n':
				dst = append(dst, 'n')
			case '\r':
				dst = append(dst, 'r')
			case '\t':
				dst = append(dst, 't')
			default:
				dst = append(dst, 'u')
				dst = append(dst, "0000"[1+(bits.Len32(uint32(r))-1)/4:]...)
				dst = strconv.AppendUint(dst, uint64(r), 16)
			}
			s = s[n:]
		default:
			i := indexNeedEscape(s[n:])
			s, dst = s[n+i:], append(dst, s[:n+i]...)
		}
	}
	return append(dst, '"'), nil
}

// indexNeedEscape returns the index of the first byte of s that starts
// something to escape or check (a control character, '"', '\\', or any
// byte outside ASCII, which protojson decodes as a rune), or len(s).
func indexNeedEscape(s []byte) int {
	for i, c := range s {
		if c < ' ' || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return i
		}
	}
	return len(s)
}

// appendJSONFloat appends a float as protojson writes it.
func appendJSONFloat(dst []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(dst, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, n, format, -1, bitSize)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendTimestamp writes a Timestamp as protojson does: RFC 3339 in UTC
// with 0, 3, 6 or 9 fractional digits.
func appendTimestamp(dst, b []byte) ([]byte, error) {
	secs, nanos, ok := event.SecondsAndNanos(b)
	if !ok || secs < -62135596800 || secs > 253402300799 || nanos < 0 || nanos > 999999999 {
		return dst, errNotPlain
	}
	dst = append(dst, '"')
	dst = time.Unix(secs, int64(nanos)).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000")
	dst = trimFraction(dst)
	return append(dst, 'Z', '"'), nil
}

// appendDuration writes a Duration as protojson does: seconds with 0, 3,
// 6 or 9 fractional digits and "s".
func appendDuration(dst, b []byte) ([]byte, error) {
	secs, nanos, ok := event.SecondsAndNanos(b)
	if !ok || secs < -315576000000 || secs > 315576000000 || nanos < -999999999 || nanos > 999999999 ||
		secs > 0 && nanos < 0 || secs < 0 && nanos > 0 {
		return dst, errNotPlain
	}
	dst = append(dst, '"')
	if secs < 0 || nanos < 0 {
		dst = append(dst, '-')
		secs, nanos = -secs, -nanos
	}
	dst = strconv.AppendInt(dst, secs, 10)
	dst = append(dst, '.')
	frac := strconv.AppendInt(make([]byte, 0, 9), int64(nanos), 10)
	for range 9 - len(frac) {
		dst = append(dst, '0')
	}
	dst = append(dst, frac...)
	dst = trimFraction(dst)
	return append(dst, 's', '"'), nil
}

// trimFraction drops trailing groups of three zeros of a 9-digit fraction
// ending dst, and the point when nothing is left, as protojson does.
func trimFraction(dst []byte) []byte {
	for range 2 {
		if n := len(dst); n >= 3 && string(dst[n-3:]) == "000" {
			dst = dst[:n-3]
		}
	}
	if n := len(dst); n >= 4 && string(dst[n-4:]) == ".000" {
		dst = dst[:n-4]
	}
	return dst
}
