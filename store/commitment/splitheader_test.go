package commitment_test

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// TestSplitHeader: what EncodeHeader writes splits into its parts; other
// shapes are refused.
func TestSplitHeader(t *testing.T) {
	ev, _ := proto.Marshal(&agenttrailv1.Event{EventId: "e1", SessionId: "s1"})
	at := time.Date(2026, 12, 2, 8, 0, 0, 123, time.UTC)
	ts, _ := proto.Marshal(timestamppb.New(at))
	for _, principal := range []string{"", "agent-1"} {
		h := commitment.EncodeHeader(ev, ts, principal)
		gotEv, gotAt, gotP, ok := commitment.SplitHeader(h)
		if !ok || !bytes.Equal(gotEv, ev) || !gotAt.Equal(at) || string(gotP) != principal {
			t.Errorf("principal %q: SplitHeader = %d bytes, %v, %q, %v; want %d bytes, %v, %q", principal, len(gotEv), gotAt, gotP, ok, len(ev), at, principal)
		}
	}
	h := commitment.EncodeHeader(ev, ts, "p")
	for name, b := range map[string][]byte{
		"event twice":     append(append([]byte(nil), h...), h[:2+len(ev)]...),
		"no received-at":  h[:2+len(ev)],
		"truncated":       h[:len(h)-1],
		"unknown field":   append(append([]byte(nil), h...), 0x20, 1),
		"bad principal":   append(append([]byte(nil), h[:len(h)-3]...), 0x1a, 1, 0xff),
		"seconds as i64":  commitment.EncodeHeader(ev, []byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8}, ""),
		"seconds twice":   commitment.EncodeHeader(ev, []byte{0x08, 1, 0x08, 2}, ""),
		"nanos then more": commitment.EncodeHeader(ev, []byte{0x10, 1, 0x18, 2}, ""),
	} {
		if _, _, _, ok := commitment.SplitHeader(b); ok {
			t.Errorf("%s: SplitHeader accepts it", name)
		}
	}
}

// FuzzSplitHeader: whatever SplitHeader accepts, with an event that
// decodes, DecodeHeader decodes to the same event, time and principal.
func FuzzSplitHeader(f *testing.F) {
	ev, _ := proto.Marshal(&agenttrailv1.Event{EventId: "e1", SessionId: "s1"})
	ts, _ := proto.Marshal(timestamppb.New(time.Unix(1700000000, 5)))
	f.Add(commitment.EncodeHeader(ev, ts, "agent"))
	f.Add(commitment.EncodeHeader(nil, nil, ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		evb, at, principal, ok := commitment.SplitHeader(b)
		if !ok {
			return
		}
		var e agenttrailv1.Event
		if proto.Unmarshal(evb, &e) != nil {
			return
		}
		h, err := commitment.DecodeHeader(b)
		if err != nil {
			t.Fatalf("SplitHeader accepts what DecodeHeader refuses: %v", err)
		}
		if !proto.Equal(h.GetEvent(), &e) || !h.GetReceivedAt().AsTime().Equal(at) || h.GetReceivedAt().AsTime() != at || h.GetPrincipal() != string(principal) {
			t.Fatalf("SplitHeader = %v, %q; DecodeHeader %v, %q", at, principal, h.GetReceivedAt().AsTime(), h.GetPrincipal())
		}
	})
}
