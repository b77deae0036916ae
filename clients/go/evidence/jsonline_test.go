package evidence

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// oracleAppendLine is AppendLine as it was before appendMessageJSON, kept
// as the oracle: every line must be its bytes.
func oracleAppendLine(dst []byte, e *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) ([]byte, error) {
	p := &agenttrailv1.GetInclusionProofResponse{LogIndex: proof.GetLogIndex(), TreeSize: proof.GetTreeSize(), LeafHash: proof.GetLeafHash(), Hashes: proof.GetHashes()}
	b := append(dst, `{"entry":`...)
	b, err := jsonOptions.MarshalAppend(b, e)
	if err != nil {
		return dst, err
	}
	b = append(b, `,"inclusion_proof":`...)
	if b, err = jsonOptions.MarshalAppend(b, p); err != nil {
		return dst, err
	}
	return append(b, "}\n"...), nil
}

// wireJSON renders m by its wire encoding alone, without the fallback to
// protojson: ok is false when appendMessageJSON would fall back.
func wireJSON(t *testing.T, m proto.Message, table *jsonMessage) (b []byte, ok bool) {
	t.Helper()
	wire, err := proto.Marshal(m)
	if err != nil {
		return nil, false
	}
	st := &jsonState{}
	b, err = st.appendObject(nil, wire, table, 0)
	if err != nil && err != errNotPlain {
		t.Fatalf("appendObject error %v, want nil or errNotPlain", err)
	}
	if len(st.spans) != 0 || len(st.keys) != 0 {
		t.Fatalf("appendObject left %d spans and %d keys on its stacks", len(st.spans), len(st.keys))
	}
	return b, err == nil
}

// sameJSON fails unless m renders by its wire encoding as protojson
// renders it, or else falls back (plain says whether it may not); and
// unless the other comma style (jsonCommaSpace flipped) differs from
// protojson's only in those spaces.
func sameJSON(t *testing.T, name string, m proto.Message, table *jsonMessage, plain bool) {
	t.Helper()
	want, wantErr := jsonOptions.Marshal(m)
	got, ok := wireJSON(t, m, table)
	switch {
	case !ok && plain:
		t.Errorf("%s: rendered with protojson, want by the wire: %v", name, m)
	case ok && wantErr != nil:
		t.Errorf("%s: rendered %s, protojson fails: %v", name, got, wantErr)
	case ok && !bytes.Equal(got, want):
		t.Errorf("%s: wire rendering differs from protojson\ngot  %s\nwant %s", name, got, want)
	}
	if !ok || wantErr != nil {
		return
	}
	jsonCommaSpace = !jsonCommaSpace
	defer func() { jsonCommaSpace = !jsonCommaSpace }()
	if flipped, _ := wireJSON(t, m, table); !bytes.Equal(flipped, toggleCommaSpace(want)) {
		t.Errorf("%s: with the other comma style\ngot  %s\nwant %s", name, flipped, toggleCommaSpace(want))
	}
}

// toggleCommaSpace adds a space after every comma between JSON values, or
// removes it where there is one.
func toggleCommaSpace(b []byte) []byte {
	var out []byte
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		out = append(out, c)
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ',':
			if i+1 < len(b) && b[i+1] == ' ' {
				i++
			} else {
				out = append(out, ' ')
			}
		}
	}
	return out
}

func TestJSONCommaSpaceIsProtojsons(t *testing.T) {
	b, err := jsonOptions.Marshal(&agenttrailv1.Stamp{LogIndex: 1, Principal: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Contains(b, []byte(", ")); got != jsonCommaSpace {
		t.Errorf("protojson writes %s: comma space %v, jsonCommaSpace %v", b, got, jsonCommaSpace)
	}
}

// honestEntry is an entry as a server sends it: the event, its stamp and
// commitment with header and content split as the log commits them.
func honestEntry(t *testing.T, ev *agenttrailv1.Event, index uint64) *agenttrailv1.Entry {
	t.Helper()
	enc, err := event.Encode(ev, event.Limits{})
	if err != nil {
		enc = event.Encoded{Header: []byte{1, 2}, Content: []byte{3}}
	}
	return &agenttrailv1.Entry{
		Event:      ev,
		Stamp:      &agenttrailv1.Stamp{LogIndex: index, ReceivedAt: ev.GetOccurredAt(), Principal: "support-agent"},
		Commitment: &agenttrailv1.Commitment{Header: enc.Header, Content: enc.Content, ContentDigest: bytes.Repeat([]byte{7}, 32), LeafHash: bytes.Repeat([]byte{9}, 32), Salt: bytes.Repeat([]byte{0xfe}, 32)},
		View:       &agenttrailv1.View{Kind: agenttrailv1.ViewKind_VIEW_KIND_FULL, Content: agenttrailv1.ContentState_CONTENT_STATE_PRESENT},
	}
}

func proofOf(index uint64, n int) *agenttrailv1.GetInclusionProofResponse {
	p := &agenttrailv1.GetInclusionProofResponse{LogIndex: index, TreeSize: index*3 + 1, LeafHash: bytes.Repeat([]byte{byte(index)}, 32)}
	for i := range n {
		p.Hashes = append(p.Hashes, bytes.Repeat([]byte{byte(i * 7)}, 32))
	}
	return p
}

// TestAppendLineMatchesProtojsonOnEverySample: the line of an entry of
// every sample event (each payload type, lifecycle events too) is the old
// line byte for byte, rendered without protojson.
func TestAppendLineMatchesProtojsonOnEverySample(t *testing.T) {
	entry, proofTable := jsonTables()
	samples := append(eventtest.Samples(), eventtest.LifecycleSamples()...)
	samples = append(samples, eventtest.Sample{Name: "realistic llm call", Event: eventtest.RealisticLLMCall()})
	for i, s := range samples {
		e := honestEntry(t, s.Event, uint64(i))
		p := proofOf(uint64(i), i%20)
		sameJSON(t, s.Name, e, entry, true)
		sameJSON(t, s.Name+" proof", p, proofTable, true)
		got, err := AppendLine([]byte("x"), e, p)
		want, wantErr := oracleAppendLine([]byte("x"), e, p)
		if err != nil || wantErr != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: AppendLine = %s (%v), want %s (%v)", s.Name, got, err, want, wantErr)
		}
	}
	// An empty entry and proof, and nil ones.
	sameJSON(t, "empty entry", &agenttrailv1.Entry{}, entry, true)
	for _, c := range []struct {
		e *agenttrailv1.Entry
		p *agenttrailv1.GetInclusionProofResponse
	}{{nil, nil}, {&agenttrailv1.Entry{}, &agenttrailv1.GetInclusionProofResponse{}}} {
		got, err := AppendLine(nil, c.e, c.p)
		want, wantErr := oracleAppendLine(nil, c.e, c.p)
		if err != nil || wantErr != nil || !bytes.Equal(got, want) {
			t.Errorf("AppendLine(%v, %v) = %s (%v), want %s (%v)", c.e, c.p, got, err, want, wantErr)
		}
	}
}

// TestAppendLineMatchesProtojsonOnRandomEntries fills every field of
// entries and proofs at random, each payload type in turn (strings with
// escapes, control characters, non-ASCII and U+FFFD, extreme integers,
// NaN, infinities and -0, undefined enum numbers, maps, lists, times at and
// beyond their ranges) and requires the old line's bytes, or its error.
func TestAppendLineMatchesProtojsonOnRandomEntries(t *testing.T) {
	entry, proofTable := jsonTables()
	r := rand.New(rand.NewPCG(13, 4))
	payloads := (&agenttrailv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload").Fields()
	plainCount := 0
	for i := range 1200 {
		e := &agenttrailv1.Entry{}
		fillMessage(e.ProtoReflect(), r, 0, i%7 == 0)
		// Each payload type in turn.
		ev := e.ProtoReflect().Mutable(e.ProtoReflect().Descriptor().Fields().ByName("event")).Message()
		pf := payloads.Get(i % payloads.Len())
		fillMessage(ev.Mutable(pf).Message(), r, 1, i%7 == 0)
		p := &agenttrailv1.GetInclusionProofResponse{}
		fillMessage(p.ProtoReflect(), r, 0, i%7 == 0)
		p.Checkpoint = nil
		if _, ok := wireJSON(t, e, entry); ok {
			plainCount++
		}
		sameJSON(t, "random entry", e, entry, false)
		sameJSON(t, "random proof", p, proofTable, false)
		got, err := AppendLine(nil, e, p)
		want, wantErr := oracleAppendLine(nil, e, p)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("AppendLine = %s (%v), want %s (%v)", got, err, want, wantErr)
		}
	}
	// Most random entries are plain; those with out-of-range times or
	// invalid strings are not.
	if plainCount < 600 {
		t.Errorf("only %d of 1200 random entries rendered without protojson", plainCount)
	}
}

var (
	randomStrings = []string{"", "a", "plain text", `quote " and backslash \ here`, "tab\tnewline\nreturn\r", "\x00\x01\x1f\x7f",
		"\b\f", "é日本語🙂", "\u2028\u2029", "\ufffd replacement", "<html> & 'apos'", "/slash/", strings.Repeat("long ", 300)}
	randomInts   = []int64{0, 1, -1, 127, 128, -128, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 1 << 53, -(1 << 53) - 1}
	randomFloats = []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-7, 1e-6, 1e20, 1e21, 1e300, -1e-300, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.MaxFloat32, math.NaN(), math.Inf(1), math.Inf(-1), 123456789.125, 3.4028234663852886e38}
)

// fillMessage sets fields of m at random; wild allows values protojson
// refuses (times out of range).
func fillMessage(m protoreflect.Message, r *rand.Rand, depth int, wild bool) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		secs := r.Int64N(253402300799+62135596800) - 62135596800
		nanos := int64([]int{0, 1, 1000, 1000000, 999999999, 123456789, 120000000}[r.IntN(7)])
		if wild && r.IntN(3) == 0 {
			secs, nanos = []int64{253402300800, -62135596801, 0}[r.IntN(3)], []int64{-1, 1000000000, 5}[r.IntN(3)]
		}
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(secs))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(nanos)))
		return
	case "google.protobuf.Duration":
		secs := r.Int64N(1000000) * []int64{1, -1, 0}[r.IntN(3)]
		nanos := int64([]int{0, 1, 1000, 1000000, 999999999, 500000000}[r.IntN(6)])
		if secs < 0 {
			nanos = -nanos
		}
		if wild && r.IntN(3) == 0 {
			secs, nanos = []int64{315576000001, -5, 3}[r.IntN(3)], []int64{5, -5, 1000000000}[r.IntN(3)]
		}
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(secs))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(nanos)))
		return
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.ContainingOneof() != nil && !fd.HasOptionalKeyword() {
			continue // payloads are set by the caller
		}
		if r.IntN(10) < 4 || (fd.Message() != nil && depth > 4) {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) + 1 {
				if fd.Message() != nil {
					v := l.NewElement()
					fillMessage(v.Message(), r, depth+1, wild)
					l.Append(v)
				} else {
					l.Append(randomScalar(fd, r))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(5) + 1 {
				k := randomScalar(fd.MapKey(), r).MapKey()
				if fd.MapValue().Message() != nil {
					v := mp.NewValue()
					fillMessage(v.Message(), r, depth+1, wild)
					mp.Set(k, v)
				} else {
					mp.Set(k, randomScalar(fd.MapValue(), r))
				}
			}
		case fd.Message() != nil:
			fillMessage(m.Mutable(fd).Message(), r, depth+1, wild)
		default:
			m.Set(fd, randomScalar(fd, r))
		}
	}
	// One of each other oneof (not the payload, which the caller sets).
	for i := range md.Oneofs().Len() {
		od := md.Oneofs().Get(i)
		if od.IsSynthetic() || od.Name() == "payload" || r.IntN(3) == 0 {
			continue
		}
		fd := od.Fields().Get(r.IntN(od.Fields().Len()))
		if fd.Message() != nil {
			fillMessage(m.Mutable(fd).Message(), r, depth+1, wild)
		} else {
			m.Set(fd, randomScalar(fd, r))
		}
	}
}

func randomScalar(fd protoreflect.FieldDescriptor, r *rand.Rand) protoreflect.Value {
	n := randomInts[r.IntN(len(randomInts))]
	if r.IntN(2) == 0 {
		n = r.Int64N(1000) - 500
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(n)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(randomFloats[r.IntN(len(randomFloats))]))
	case protoreflect.DoubleKind:
		f := randomFloats[r.IntN(len(randomFloats))]
		if r.IntN(3) == 0 {
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		}
		return protoreflect.ValueOfFloat64(f)
	case protoreflect.StringKind:
		s := randomStrings[r.IntN(len(randomStrings))]
		if r.IntN(3) == 0 {
			var b strings.Builder
			for range r.IntN(40) {
				b.WriteRune(rune(r.IntN(0x2100)))
			}
			s = b.String()
		}
		return protoreflect.ValueOfString(s)
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(70))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if r.IntN(5) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber([]int32{99, -3, 1 << 20}[r.IntN(3)]))
		}
		return protoreflect.ValueOfEnum(values.Get(r.IntN(values.Len())).Number())
	}
	panic("no random value for " + fd.FullName())
}

// FuzzAppendLineMatchesProtojson decodes arbitrary bytes as an entry and a
// proof and requires the old line's bytes, or its error; what renders by
// the wire must be protojson's bytes on its own.
func FuzzAppendLineMatchesProtojson(f *testing.F) {
	for i, s := range eventtest.Samples() {
		e, err := proto.Marshal(honestEntry(&testing.T{}, s.Event, uint64(i)))
		if err != nil {
			f.Fatal(err)
		}
		p, _ := proto.Marshal(proofOf(uint64(i), i))
		f.Add(e, p)
	}
	f.Add(protowire.AppendTag(nil, 99, protowire.VarintType), []byte{})
	entry, proofTable := jsonTables()
	f.Fuzz(func(t *testing.T, eb, pb []byte) {
		e, p := &agenttrailv1.Entry{}, &agenttrailv1.GetInclusionProofResponse{}
		if proto.Unmarshal(eb, e) != nil || proto.Unmarshal(pb, p) != nil {
			return
		}
		sameJSON(t, "fuzz entry", e, entry, false)
		sameJSON(t, "fuzz proof", p, proofTable, false)
		got, err := AppendLine(nil, e, p)
		want, wantErr := oracleAppendLine(nil, e, p)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Fatalf("AppendLine = %s (%v), want %s (%v)", got, err, want, wantErr)
		}
	})
}

// BenchmarkAppendLine renders the line of a 1 KiB tool call with a proof
// of 17 hashes, as AppendLine does and as protojson did.
func BenchmarkAppendLine(b *testing.B) {
	var t testing.T
	ev := proto.Clone(eventtest.Samples()[3].Event).(*agenttrailv1.Event)
	ev.GetToolCall().Result = `{"rows":"` + strings.Repeat("x", 900) + `"}`
	e, p := honestEntry(&t, ev, 123456), proofOf(123456, 17)
	for _, c := range []struct {
		name string
		line func([]byte, *agenttrailv1.Entry, *agenttrailv1.GetInclusionProofResponse) ([]byte, error)
	}{{"AppendLine", AppendLine}, {"protojson", oracleAppendLine}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = c.line(buf[:0], e, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
