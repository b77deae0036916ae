package event_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// TestAppendJoinedIsTheEncodedEvent: joining the halves Encode writes gives
// the deterministic encoding of the whole event, byte for byte: the bytes
// a reader gets from decoding the halves, joining them and encoding.
func TestAppendJoinedIsTheEncodedEvent(t *testing.T) {
	evs := []*agenttrailv1.Event{eventtest.RealisticLLMCall()}
	for _, s := range append(eventtest.Samples(), eventtest.LifecycleSamples()...) {
		evs = append(evs, s.Event)
	}
	for _, ev := range evs {
		enc, err := event.Encode(ev, limits)
		if err != nil {
			t.Fatalf("%s: Encode: %v", ev.GetEventId(), err)
		}
		var h, c agenttrailv1.Event
		if err := proto.Unmarshal(enc.Header, &h); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(enc.Content, &c); err != nil {
			t.Fatal(err)
		}
		want, err := deterministic.Marshal(event.Join(&h, &c))
		if err != nil {
			t.Fatal(err)
		}
		got, err := event.AppendJoined([]byte("prefix"), enc.Header, enc.Content)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%s (%v): AppendJoined = %d bytes, %v; want the %d bytes of the joined event", ev.GetEventId(), event.KindOf(ev), len(got)-6, err, len(want))
		}
		field := protowire.AppendBytes(protowire.AppendTag([]byte("prefix"), 7, protowire.BytesType), want)
		if got, err := event.AppendJoinedField([]byte("prefix"), 7, enc.Header, enc.Content); err != nil || !bytes.Equal(got, field) {
			t.Errorf("%s: AppendJoinedField = %d bytes, %v; want the %d bytes of the event as field 7", ev.GetEventId(), len(got)-6, err, len(field)-6)
		}
		if n, err := event.JoinedSize(enc.Header, enc.Content); err != nil || n != len(want) {
			t.Errorf("%s: JoinedSize = %d, %v; want %d", ev.GetEventId(), n, err, len(want))
		}
		// The header alone (content erased) is the header's encoding.
		if got, err := event.AppendJoined(nil, enc.Header, nil); err != nil || !bytes.Equal(got, enc.Header) {
			t.Errorf("%s: AppendJoined(header, nil) = %d bytes, %v; want the header", ev.GetEventId(), len(got), err)
		}
	}
}

// TestAppendJoinedRefusesOtherShapes: encodings that are not two halves of
// one event are an error, never a wrong event.
func TestAppendJoinedRefusesOtherShapes(t *testing.T) {
	enc, err := event.Encode(eventtest.RealisticLLMCall(), limits)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string][2][]byte{
		"truncated header":        {enc.Header[:len(enc.Header)-1], enc.Content},
		"truncated content":       {enc.Header, enc.Content[:len(enc.Content)-1]},
		"a scalar in both halves": {enc.Header, append(append([]byte(nil), enc.Header[:2]...), enc.Content...)},
		"fields out of order":     {enc.Header, append(append([]byte(nil), enc.Content...), enc.Content...)},
	} {
		if got, err := event.AppendJoined(nil, tc[0], tc[1]); err == nil {
			t.Errorf("%s: AppendJoined = %d bytes, want an error", name, len(got))
		}
		if got, err := event.AppendJoinedField([]byte("prefix"), 1, tc[0], tc[1]); err == nil || string(got) != "prefix" {
			t.Errorf("%s: AppendJoinedField = %q, %v; want the prefix alone and an error", name, got, err)
		}
	}
}

func FuzzAppendJoined(f *testing.F) {
	enc, err := event.Encode(eventtest.RealisticLLMCall(), limits)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc.Header, enc.Content)
	f.Fuzz(func(t *testing.T, h, c []byte) {
		got, err := event.AppendJoined(nil, h, c)
		field, ferr := event.AppendJoinedField(nil, 1, h, c)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("AppendJoined: %v, AppendJoinedField: %v", err, ferr)
		}
		if err != nil {
			return
		}
		if want := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), got); !bytes.Equal(field, want) {
			t.Fatalf("AppendJoinedField is not the join as field 1")
		}
		var hm, cm, joined agenttrailv1.Event
		if proto.Unmarshal(h, &hm) != nil || proto.Unmarshal(c, &cm) != nil {
			return
		}
		if err := proto.Unmarshal(got, &joined); err != nil {
			t.Fatalf("the join of two decodable halves does not decode: %v", err)
		}
		if want := event.Join(&hm, &cm); !proto.Equal(&joined, want) {
			t.Fatalf("the join differs from Join of the decoded halves")
		}
	})
}

// TestHeaderIDs: the ids of every sample's header, read from its encoding,
// are those of the decoded header; headers that do not pass Encode's
// checks are refused.
func TestHeaderIDs(t *testing.T) {
	for _, s := range append(eventtest.Samples(), eventtest.LifecycleSamples()...) {
		enc, err := event.Encode(s.Event, limits)
		if err != nil {
			t.Fatal(err)
		}
		var h agenttrailv1.Event
		if err := proto.Unmarshal(enc.Header, &h); err != nil {
			t.Fatal(err)
		}
		ids, ok := event.HeaderIDs(enc.Header)
		if !ok || string(ids.SessionID) != h.GetSessionId() || string(ids.AgentID) != h.GetAgentId() || string(ids.UserID) != h.GetUserId() {
			t.Errorf("%s: HeaderIDs = %q %q %q, %v; want %q %q %q", h.GetEventId(), ids.SessionID, ids.AgentID, ids.UserID, ok, h.GetSessionId(), h.GetAgentId(), h.GetUserId())
		}
		if _, ok := event.HeaderIDs(append(enc.Header[:len(enc.Header):len(enc.Header)], 0xf8, 0x7f, 0)); ok {
			t.Errorf("%s: HeaderIDs accepts an unknown field", h.GetEventId())
		}
		if _, ok := event.HeaderIDs(enc.Header[:len(enc.Header)-1]); ok {
			t.Errorf("%s: HeaderIDs accepts a truncated header", h.GetEventId())
		}
	}
	bad := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{0xff, 0xfe})
	if _, ok := event.HeaderIDs(bad); ok {
		t.Errorf("HeaderIDs accepts a session id that is not UTF-8")
	}
}

// FuzzHeaderIDs: whatever HeaderIDs accepts decodes, to an event with the
// ids it read.
func FuzzHeaderIDs(f *testing.F) {
	for _, s := range append(eventtest.Samples(), eventtest.LifecycleSamples()...) {
		enc, err := event.Encode(s.Event, limits)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc.Header)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, ok := event.HeaderIDs(b)
		if !ok {
			return
		}
		var h agenttrailv1.Event
		if err := proto.Unmarshal(b, &h); err != nil {
			t.Fatalf("HeaderIDs accepts what does not decode: %v", err)
		}
		if string(ids.SessionID) != h.GetSessionId() || string(ids.AgentID) != h.GetAgentId() || string(ids.UserID) != h.GetUserId() {
			t.Fatalf("HeaderIDs = %q %q %q; decoded %q %q %q", ids.SessionID, ids.AgentID, ids.UserID, h.GetSessionId(), h.GetAgentId(), h.GetUserId())
		}
	})
}
