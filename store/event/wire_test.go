package event_test

import (
	"bytes"
	"errors"
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

// FuzzEncode decodes arbitrary bytes as an Event and holds Encode to its
// contract: a valid event encodes exactly as Split+Marshal and merges back;
// an invalid one gets a FieldError, never a panic.
func FuzzEncode(f *testing.F) {
	for _, s := range eventtest.Samples() {
		b, err := deterministic.Marshal(s.Event)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
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
