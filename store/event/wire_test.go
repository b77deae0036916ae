package event_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

var deterministic = proto.MarshalOptions{Deterministic: true}

// checkEncode holds Encode to its contract for one valid event: the same
// bytes as Split followed by deterministic Marshal, and halves that merge
// back into the event.
func checkEncode(t *testing.T, name string, ev *agenttrailv1.Event, enc event.Encoded) {
	t.Helper()
	header, content := event.Split(ev)
	wantH, err := deterministic.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	wantC, err := deterministic.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc.Header, wantH) {
		t.Errorf("%s: Encode header differs from Marshal(Split header)\ngot  %x\nwant %x", name, enc.Header, wantH)
	}
	if !bytes.Equal(enc.Content, wantC) {
		t.Errorf("%s: Encode content differs from Marshal(Split content)", name)
	}
	var h, c agenttrailv1.Event
	if err := proto.Unmarshal(enc.Header, &h); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(enc.Content, &c); err != nil {
		t.Fatal(err)
	}
	if got := event.Join(&h, &c); !proto.Equal(got, ev) {
		t.Errorf("%s: merging the encoded halves does not give back the event", name)
	}
}

func TestEncodeMatchesSplit(t *testing.T) {
	for _, s := range eventtest.Samples() {
		enc, err := event.Encode(s.Event, limits)
		if err != nil {
			t.Fatalf("%s: Encode: %v", s.Name, err)
		}
		checkEncode(t, s.Name, s.Event, enc)
		proto.Size(s.Event)
		sized, err := event.EncodeSized(s.Event, limits)
		if err != nil || !bytes.Equal(sized.Header, enc.Header) || !bytes.Equal(sized.Content, enc.Content) {
			t.Errorf("%s: EncodeSized after proto.Size = %x, %x, %v; want Encode's bytes", s.Name, sized.Header, sized.Content, err)
		}
	}
}

func TestEncodeRejectsUnknownFields(t *testing.T) {
	ev := proto.Clone(eventtest.Samples()[2].Event).(*agenttrailv1.Event)
	// A field number 900 inside llm_call, as a newer client might send.
	unknown := protowire.AppendTag(nil, 900, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 7)
	ev.GetLlmCall().ProtoReflect().SetUnknown(unknown)
	_, err := event.Encode(ev, limits)
	var fe *event.FieldError
	if !errors.As(err, &fe) || fe.Field != "llm_call" {
		t.Fatalf("Encode = %v, want a FieldError on llm_call", err)
	}
}

// addEncodings adds the deterministic encoding of each sample to a fuzz
// test's seeds.
func addEncodings(f *testing.F, samples []eventtest.Sample) {
	f.Helper()
	for _, s := range samples {
		f.Add(eventtest.Deterministic(s.Event))
	}
}

// FuzzEncode decodes arbitrary bytes as an Event and holds Encode to its
// contract: a valid event encodes exactly as Split+Marshal and merges back;
// an invalid one gets a FieldError, never a panic.
func FuzzEncode(f *testing.F) {
	addEncodings(f, eventtest.Samples())
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev agenttrailv1.Event
		if err := proto.Unmarshal(b, &ev); err != nil {
			return
		}
		enc, err := event.Encode(&ev, limits)
		if err != nil {
			var fe *event.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Reason == "" {
				t.Fatalf("Encode error %v is not a FieldError naming a field", err)
			}
			return
		}
		checkEncode(t, "fuzz", &ev, enc)
	})
}

// A known field number sent with another wire type decodes as an unknown
// field, which every reader drops: Encode must refuse it, naming the
// field, rather than commit bytes no reader decodes. A repeated scalar may
// be packed, but only into whole values.
func TestEncodeRejectsKnownFieldsOfAnotherWireType(t *testing.T) {
	unknown := func(num protowire.Number, typ protowire.Type, value []byte) []byte {
		return append(protowire.AppendTag(nil, num, typ), value...)
	}
	tests := []struct {
		name      string
		set       func(*agenttrailv1.Event)
		wantField string // "" when Encode accepts the event
	}{
		{"step as bytes", func(e *agenttrailv1.Event) {
			e.ProtoReflect().SetUnknown(unknown(4, protowire.BytesType, protowire.AppendBytes(nil, []byte("00000"))))
		}, "step"},
		{"temperature as varint", func(e *agenttrailv1.Event) {
			e.Payload = &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{}}
			e.GetLlmCall().ProtoReflect().SetUnknown(unknown(18, protowire.VarintType, protowire.AppendVarint(nil, 1)))
		}, "llm_call.temperature"},
		{"session_id as fixed64", func(e *agenttrailv1.Event) {
			e.ProtoReflect().SetUnknown(unknown(e.ProtoReflect().Descriptor().Fields().ByName("session_id").Number(),
				protowire.Fixed64Type, protowire.AppendFixed64(nil, 7)))
		}, "session_id"},
		{"a single role packed", func(e *agenttrailv1.Event) {
			m := &agenttrailv1.ChatMessage{}
			m.ProtoReflect().SetUnknown(unknown(1, protowire.BytesType, protowire.AppendBytes(nil, []byte{1})))
			e.Payload = &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{InputMessages: []*agenttrailv1.ChatMessage{m}}}
		}, "llm_call.input_messages[0].role"},
		{"log indexes packed", func(e *agenttrailv1.Event) {
			e.Payload = &agenttrailv1.Event_Erasure{Erasure: &agenttrailv1.Erasure{LogIndexes: []uint64{1, 300}}}
		}, ""},
		{"log indexes packed, cut short", func(e *agenttrailv1.Event) {
			e.Payload = &agenttrailv1.Event_Erasure{Erasure: &agenttrailv1.Erasure{}}
			e.GetErasure().ProtoReflect().SetUnknown(unknown(3, protowire.BytesType, protowire.AppendBytes(nil, []byte{0x80})))
		}, "erasure.log_indexes"},
		{"log indexes as fixed32", func(e *agenttrailv1.Event) {
			e.Payload = &agenttrailv1.Event_Erasure{Erasure: &agenttrailv1.Erasure{}}
			e.GetErasure().ProtoReflect().SetUnknown(unknown(3, protowire.Fixed32Type, protowire.AppendFixed32(nil, 1)))
		}, "erasure.log_indexes"},
	}
	for _, tt := range tests {
		ev := proto.Clone(eventtest.Samples()[0].Event).(*agenttrailv1.Event)
		tt.set(ev)
		_, err := event.Encode(ev, limits)
		var fe *event.FieldError
		switch {
		case tt.wantField == "" && err != nil:
			t.Errorf("%s: Encode = %v, want it accepted", tt.name, err)
		case tt.wantField != "" && (!errors.As(err, &fe) || !strings.HasPrefix(fe.Field, tt.wantField)):
			t.Errorf("%s: Encode = %v, want a FieldError on %s", tt.name, err, tt.wantField)
		}
	}
}
