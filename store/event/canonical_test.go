package event_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// withMaps is a realistic event with labels and attributes of several
// entries, so that the order of map entries is walked.
func withMaps() *agenttrailv1.Event {
	ev := eventtest.RealisticLLMCall()
	ev.Labels = map[string]string{"team": "support", "env": "prod", "region": ""}
	ev.OccurredAt = timestamppb.New(eventtest.T0.Add(123456789 * time.Nanosecond))
	ev.Attributes = map[string]string{"b": "2", "a": "1", "c": "3"}
	return ev
}

// samplesWithMaps is every sample and withMaps.
func samplesWithMaps() []eventtest.Sample {
	return append(eventtest.Samples(), eventtest.Sample{Name: "maps", Event: withMaps()})
}

// received decodes raw as the server does and runs EncodeReceived on it.
func received(t *testing.T, raw []byte) (got, want event.Encoded, reused bool, err, wantErr error) {
	t.Helper()
	var ev agenttrailv1.Event
	if err := proto.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("the bytes do not decode: %v", err)
	}
	got, reused, err = event.EncodeReceived(&ev, raw, limits)
	want, wantErr = event.Encode(&ev, limits)
	return got, want, reused, err, wantErr
}

// Go's encoding of every sample, plain or deterministic, is split where it
// lies, and gives Encode's bytes.
func TestEncodeReceivedReusesGoEncoding(t *testing.T) {
	for _, s := range samplesWithMaps() {
		for _, opts := range []proto.MarshalOptions{{Deterministic: true}, {}} {
			if !opts.Deterministic && (len(s.Event.GetLabels()) > 1 || len(s.Event.GetAttributes()) > 1) {
				continue // Go's plain encoding orders map entries at random
			}
			raw, err := opts.Marshal(s.Event)
			if err != nil {
				t.Fatal(err)
			}
			got, want, reused, err, wantErr := received(t, raw)
			if err != nil || wantErr != nil {
				t.Fatalf("%s: EncodeReceived: %v; Encode: %v", s.Name, err, wantErr)
			}
			if !reused {
				t.Errorf("%s (deterministic %v): got reused false, want true", s.Name, opts.Deterministic)
			}
			if !event.IsCanonical(raw) {
				t.Errorf("%s: got IsCanonical false for Go's encoding, want true", s.Name)
			}
			if !bytes.Equal(got.Header, want.Header) || !bytes.Equal(got.Content, want.Content) {
				t.Errorf("%s: EncodeReceived's halves differ from Encode's", s.Name)
			}
		}
	}
}

// record is one field record of an encoding.
type record struct {
	num protowire.Number
	typ protowire.Type
	b   []byte // the whole record, tag included
}

func records(t *testing.T, b []byte) []record {
	t.Helper()
	var out []record
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if n < 0 || m < 0 {
			t.Fatalf("not an encoding")
		}
		out = append(out, record{num, typ, b[:n+m]})
		b = b[n+m:]
	}
	return out
}

func join(rs []record) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, r.b...)
	}
	return b
}

func find(t *testing.T, rs []record, num protowire.Number) int {
	t.Helper()
	for i, r := range rs {
		if r.num == num {
			return i
		}
	}
	t.Fatalf("no field %d", num)
	return -1
}

// value returns the value of a bytes record.
func value(r record) []byte {
	_, _, n := protowire.ConsumeTag(r.b)
	v, _ := protowire.ConsumeBytes(r.b[n:])
	return v
}

func bytesRecord(num protowire.Number, v []byte) record {
	return record{num, protowire.BytesType, protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)}
}

// insert puts r among rs in the order of field numbers, after any record
// of its own number.
func insert(rs []record, r record) []record {
	i := 0
	for i < len(rs) && rs[i].num <= r.num {
		i++
	}
	return append(rs[:i:i], append([]record{r}, rs[i:]...)...)
}

// padded is a varint of v in one byte more than its shortest form.
func padded(v uint64) []byte {
	b := protowire.AppendVarint(nil, v)
	b[len(b)-1] |= 0x80
	return append(b, 0)
}

// Encodings that decode to an event but are not Go's deterministic
// encoding of it are encoded again: the result is still Encode's.
func TestEncodeReceivedEncodesOtherEncodingsAgain(t *testing.T) {
	base, err := deterministic.Marshal(withMaps())
	if err != nil {
		t.Fatal(err)
	}
	const (
		sessionID  = 2
		step       = 4
		occurredAt = 10
		labels     = 11
		llmCall    = 21
		toolCall   = 22
		attributes = 50
	)
	tests := []struct {
		name string
		edit func(t *testing.T, rs []record) []record
	}{
		{"fields out of order", func(t *testing.T, rs []record) []record {
			rs[0], rs[1] = rs[1], rs[0]
			return rs
		}},
		{"fields in the order of their numbers, oneofs among them", func(t *testing.T, rs []record) []record {
			// Go writes attributes (50) before the payload (21), a oneof
			i, j := find(t, rs, attributes), find(t, rs, llmCall)
			if i > j {
				t.Fatal("the payload comes first")
			}
			payload := rs[j]
			rs = slicesDelete(rs, j)
			return append(rs[:i:i], append([]record{payload}, rs[i:]...)...)
		}},
		{"a singular field twice", func(t *testing.T, rs []record) []record {
			return insert(rs, rs[find(t, rs, sessionID)])
		}},
		{"a tag longer than it needs", func(t *testing.T, rs []record) []record {
			i := find(t, rs, sessionID)
			rs[i].b = append(padded(uint64(protowire.EncodeTag(sessionID, protowire.BytesType))), rs[i].b[1:]...)
			return rs
		}},
		{"a length longer than it needs", func(t *testing.T, rs []record) []record {
			i := find(t, rs, sessionID)
			v := value(rs[i])
			rs[i].b = append(append(protowire.AppendTag(nil, sessionID, protowire.BytesType), padded(uint64(len(v)))...), v...)
			return rs
		}},
		{"a varint longer than it needs", func(t *testing.T, rs []record) []record {
			i := find(t, rs, step)
			_, _, n := protowire.ConsumeTag(rs[i].b)
			v, _ := protowire.ConsumeVarint(rs[i].b[n:])
			rs[i].b = append(protowire.AppendTag(nil, step, protowire.VarintType), padded(v)...)
			return rs
		}},
		{"a zero value written out", func(t *testing.T, rs []record) []record {
			// parent_event_id (3) is unset in the sample: an empty string
			return insert(rs, bytesRecord(3, nil))
		}},
		{"a zero number written out", func(t *testing.T, rs []record) []record {
			rs = slicesDelete(rs, find(t, rs, step))
			return insert(rs, record{step, protowire.VarintType, protowire.AppendVarint(protowire.AppendTag(nil, step, protowire.VarintType), 0)})
		}},
		{"a uint32 beyond 32 bits", func(t *testing.T, rs []record) []record {
			i := find(t, rs, step)
			_, _, n := protowire.ConsumeTag(rs[i].b)
			v, _ := protowire.ConsumeVarint(rs[i].b[n:])
			rs[i].b = protowire.AppendVarint(protowire.AppendTag(nil, step, protowire.VarintType), v|1<<32)
			return rs
		}},
		{"timestamp nanos written as zero", func(t *testing.T, rs []record) []record {
			i := find(t, rs, occurredAt)
			ts := records(t, value(rs[i]))
			ts = ts[:1] // seconds only
			ts = append(ts, record{2, protowire.VarintType, protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 0)})
			rs[i] = bytesRecord(occurredAt, join(ts))
			return rs
		}},
		{"timestamp nanos before seconds", func(t *testing.T, rs []record) []record {
			i := find(t, rs, occurredAt)
			ts := records(t, value(rs[i]))
			if len(ts) != 2 {
				t.Fatal("the sample's time has no nanos")
			}
			ts[0], ts[1] = ts[1], ts[0]
			rs[i] = bytesRecord(occurredAt, join(ts))
			return rs
		}},
		{"map entries out of order", func(t *testing.T, rs []record) []record {
			i := find(t, rs, attributes)
			rs[i], rs[i+1] = rs[i+1], rs[i]
			return rs
		}},
		{"a map entry without its value", func(t *testing.T, rs []record) []record {
			i := find(t, rs, labels)
			entry := records(t, value(rs[i]))
			rs[i] = bytesRecord(labels, entry[0].b)
			return rs
		}},
		{"map entries without their values", func(t *testing.T, rs []record) []record {
			// what grows most when encoded again: 2 bytes per entry
			i := find(t, rs, attributes)
			for rs[i].num == attributes {
				rs = slicesDelete(rs, i)
			}
			for k := 'a'; k <= 'z'; k++ {
				entry := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{byte(k)})
				rs = insert(rs, bytesRecord(attributes, entry))
			}
			return rs
		}},
		{"a map entry repeated", func(t *testing.T, rs []record) []record {
			i := find(t, rs, attributes)
			return append(rs[:i+1:i+1], append([]record{rs[i]}, rs[i+1:]...)...)
		}},
		{"two fields of one oneof", func(t *testing.T, rs []record) []record {
			return insert(rs, bytesRecord(toolCall, nil))
		}},
		{"a nested field out of order", func(t *testing.T, rs []record) []record {
			i := find(t, rs, llmCall)
			inner := records(t, value(rs[i]))
			inner[0], inner[1] = inner[1], inner[0]
			rs[i] = bytesRecord(llmCall, join(inner))
			return rs
		}},
		{"a nested zero value written out", func(t *testing.T, rs []record) []record {
			i := find(t, rs, llmCall)
			inner := records(t, value(rs[i]))
			// LlmCall's provider (2) is a string without presence
			j := 0
			for j < len(inner) && inner[j].num != 2 {
				j++
			}
			if j < len(inner) {
				inner = slicesDelete(inner, j)
			}
			inner = insert(inner, bytesRecord(2, nil))
			rs[i] = bytesRecord(llmCall, join(inner))
			return rs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := join(tt.edit(t, records(t, bytes.Clone(base))))
			if bytes.Equal(raw, base) {
				t.Fatal("the edit changed nothing")
			}
			got, want, reused, err, wantErr := received(t, raw)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("got error %v, want %v", err, wantErr)
			}
			if reused {
				t.Errorf("got reused true, want false")
			}
			if event.IsCanonical(raw) {
				t.Errorf("got IsCanonical true, want false")
			}
			if !bytes.Equal(got.Header, want.Header) || !bytes.Equal(got.Content, want.Content) {
				t.Errorf("EncodeReceived's halves differ from Encode's")
			}
			var ev agenttrailv1.Event
			if err := proto.Unmarshal(raw, &ev); err != nil {
				t.Fatal(err)
			}
			if n, most := proto.Size(&ev), event.MaxEncodedSize(len(raw)); n > most {
				t.Errorf("received in %d bytes, encodes in %d: over MaxEncodedSize's %d", len(raw), n, most)
			}
		})
	}
}

func slicesDelete(rs []record, i int) []record {
	return append(rs[:i:i], rs[i+1:]...)
}

// What the canonical walk accepts decodes, and encodes back to the same
// bytes: committing the bytes an event arrived in commits what encoding it
// would. What it refuses, if it decodes to a valid event, encodes within
// MaxEncodedSize.
func FuzzCanonical(f *testing.F) {
	addEncodings(f, samplesWithMaps())
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev agenttrailv1.Event
		if !event.IsCanonical(b) {
			// Whatever it is, a valid event it decodes to encodes within
			// the bound a batch budgets for it.
			if proto.Unmarshal(b, &ev) != nil {
				return
			}
			if _, err := event.Encode(&ev, limits); err == nil {
				if n := proto.Size(&ev); n > event.MaxEncodedSize(len(b)) {
					t.Fatalf("a valid event received in %d bytes encodes in %d, over MaxEncodedSize's %d", len(b), n, event.MaxEncodedSize(len(b)))
				}
			}
			return
		}
		if err := proto.Unmarshal(b, &ev); err != nil {
			t.Fatalf("IsCanonical accepts what does not decode: %v", err)
		}
		again, err := deterministic.Marshal(&ev)
		if err != nil {
			t.Fatalf("IsCanonical accepts what does not encode again: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("IsCanonical accepts an encoding that encodes again otherwise\ngot  %x\nwant %x", again, b)
		}
	})
}
