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

// checkAppendSplit holds AppendSplit to its contract for one event: when it
// accepts the deterministic encoding, its halves (appended after what the
// buffers held) are the deterministic encodings of Split's halves, and it
// accepts whatever Encode accepts.
func checkAppendSplit(t *testing.T, name string, ev *agenttrailv1.Event) {
	t.Helper()
	b, err := deterministic.Marshal(ev)
	if err != nil {
		return
	}
	h, c, err := event.AppendSplit([]byte("h:"), []byte("c:"), b)
	if err != nil {
		var fe *event.FieldError
		if !errors.As(err, &fe) || fe.Field == "" {
			t.Fatalf("%s: AppendSplit error %v is not a FieldError naming a field", name, err)
		}
		if string(h) != "h:" || string(c) != "c:" {
			t.Errorf("%s: AppendSplit failed but left %q, %q in the buffers", name, h, c)
		}
		if _, encErr := event.Encode(ev, limits); encErr == nil {
			t.Errorf("%s: Encode accepts the event, AppendSplit does not: %v", name, err)
		}
		return
	}
	header, content := event.Split(ev)
	wantH, err := deterministic.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	wantC, err := deterministic.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h, append([]byte("h:"), wantH...)) {
		t.Errorf("%s: AppendSplit header differs from Marshal(Split header)\ngot  %x\nwant h:%x", name, h, wantH)
	}
	if !bytes.Equal(c, append([]byte("c:"), wantC...)) {
		t.Errorf("%s: AppendSplit content differs from Marshal(Split content)", name)
	}
	if enc, err := event.Encode(ev, limits); err == nil && (!bytes.Equal(enc.Header, wantH) || !bytes.Equal(enc.Content, wantC)) {
		t.Errorf("%s: AppendSplit and Encode split the event differently", name)
	}
}

func TestAppendSplitMatchesSplit(t *testing.T) {
	for _, s := range eventtest.Samples() {
		checkAppendSplit(t, s.Name, s.Event)
		if _, err := event.Encode(s.Event, limits); err == nil {
			b, _ := deterministic.Marshal(s.Event)
			if _, _, err := event.AppendSplit(nil, nil, b); err != nil {
				t.Errorf("%s: AppendSplit: %v", s.Name, err)
			}
		}
	}
	checkAppendSplit(t, "empty", &agenttrailv1.Event{})
}

func TestAppendSplitRejectsUnknownFields(t *testing.T) {
	ev := proto.Clone(eventtest.Samples()[2].Event).(*agenttrailv1.Event)
	unknown := protowire.AppendTag(nil, 900, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 7)
	ev.GetLlmCall().ProtoReflect().SetUnknown(unknown)
	b, err := deterministic.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = event.AppendSplit(nil, nil, b)
	var fe *event.FieldError
	if !errors.As(err, &fe) || fe.Field != "llm_call" {
		t.Fatalf("AppendSplit = %v, want a FieldError on llm_call", err)
	}
}

// FuzzAppendSplit decodes arbitrary bytes as an Event and holds AppendSplit
// to its contract on the event's deterministic encoding.
func FuzzAppendSplit(f *testing.F) {
	addEncodings(f, eventtest.Samples())
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev agenttrailv1.Event
		if err := proto.Unmarshal(b, &ev); err != nil {
			return
		}
		checkAppendSplit(t, "fuzz", &ev)
	})
}
