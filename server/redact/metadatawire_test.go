package redact

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// checkReceivedAgrees checks that CheckMetadataReceived, given the event's
// encoding, answers as CheckMetadata did (want).
func checkReceivedAgrees(t *testing.T, name string, ev *agenttrailv1.Event, want error) {
	t.Helper()
	raw, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := CheckMetadataReceived(ev, raw); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: CheckMetadataReceived: got %v, want %v (CheckMetadata's)", name, got, want)
	}
}

// Bytes that hold more than the event they decode to (a oneof field the
// decoder replaced, a string field twice) are answered for the event: a
// secret in what the decoder dropped is no secret of the event.
func TestCheckMetadataReceivedAnswersForTheEvent(t *testing.T) {
	const email = "jane.doe@example.com"
	clean := eventtest.RealisticLLMCall()
	raw, err := proto.Marshal(clean)
	if err != nil {
		t.Fatal(err)
	}
	// A session_start (field 20) holding an email as its source_channel,
	// before the llm_call that replaces it in the oneof.
	start, _ := proto.Marshal(&agenttrailv1.SessionStart{SourceChannel: email})
	dropped := append(protowire.AppendBytes(protowire.AppendTag(nil, 20, protowire.BytesType), start), raw...)
	// agent_version (6) twice: an email, then the event's own.
	twice := append(protowire.AppendString(protowire.AppendTag(nil, 6, protowire.BytesType), email), raw...)
	for _, tc := range []struct {
		name string
		b    []byte
		want string // the refused field, "" for none
	}{
		{"the event", raw, ""},
		{"a oneof field the decoder replaced", dropped, ""},
		{"a string field twice", twice, ""},
		{"a secret in the event", protowire.AppendString(protowire.AppendTag(raw, 6, protowire.BytesType), email), "agent_version"},
		{"not an encoding", append(raw[:len(raw):len(raw)], 0xff), ""},
	} {
		ev := new(agenttrailv1.Event)
		if err := proto.Unmarshal(tc.b, ev); err != nil {
			ev = clean // bytes that do not decode: the event came otherwise
		}
		got, want := CheckMetadataReceived(ev, tc.b), CheckMetadata(ev)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v (CheckMetadata's)", tc.name, got, want)
		}
		if (tc.want == "") != (got == nil) {
			t.Errorf("%s: got %v, want a refusal of %q", tc.name, got, tc.want)
		}
	}
}

// Whatever the bytes, CheckMetadataReceived answers for the event they
// decode to as CheckMetadata does.
func FuzzCheckMetadataReceived(f *testing.F) {
	for _, s := range eventtest.Samples() {
		b, err := proto.Marshal(s.Event)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, _ := proto.Marshal(&agenttrailv1.Event{UserId: "jane.doe@example.com", AgentVersion: "4111 1111 1111 1111"})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev agenttrailv1.Event
		if proto.Unmarshal(b, &ev) != nil {
			return
		}
		if got, want := CheckMetadataReceived(&ev, b), CheckMetadata(&ev); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got %v, want %v (CheckMetadata's)", got, want)
		}
	})
}

// BenchmarkCheckMetadataReceived is BenchmarkCheckMetadata with the bytes
// the event arrived in.
func BenchmarkCheckMetadataReceived(b *testing.B) {
	ev := eventtest.RealisticLLMCall()
	raw, err := proto.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckMetadataReceived(ev, raw); err != nil {
			b.Fatal(err)
		}
	}
}
