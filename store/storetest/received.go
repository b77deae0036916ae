package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// Events submitted with the bytes they arrived in commit what encoding
// them gives, whatever those bytes were: Go's encoding (committed as it
// is), another encoding of the same event (encoded again), or none. They
// are refused as Submit refuses them, and the bytes must match the events
// one to one.
func testSubmitReceivedCommitsTheEventsEncoding(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t, store.WithMaxEventSize(4096))
	ctx := context.Background()
	evs := Samples()[:5]
	bad := proto.Clone(evs[4]).(*agenttrailv1.Event)
	bad.EventId = "not an id"
	huge := proto.Clone(evs[3]).(*agenttrailv1.Event) // a tool call
	huge.EventId = eventtest.ID("huge")
	huge.GetToolCall().Result = string(make([]byte, 8192))
	submitted := []*agenttrailv1.Event{evs[0], evs[1], evs[2], bad, huge, evs[3]}
	received := [][]byte{eventtest.Deterministic(evs[0]), eventtest.Backwards(evs[1]), nil, eventtest.Deterministic(bad), eventtest.Deterministic(huge), eventtest.Backwards(evs[3])}

	if _, err := s.SubmitReceived(ctx, "agent-1", submitted, received[:2]); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("bytes for 2 of 6 events: got %v, want ErrInvalidArgument", err)
	}
	ticket, err := s.SubmitReceived(ctx, "agent-1", submitted, received)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ticket.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, nil, nil, store.ErrInvalidEvent, store.ErrTooLarge, nil} {
		if got := res[i].Err; want == nil && got != nil || want != nil && !errors.Is(got, want) {
			t.Errorf("event %d: got %v, want %v", i, got, want)
		}
	}
	for _, i := range []int{0, 1, 2, 5} {
		ev := submitted[i]
		e, err := s.Get(ctx, res[i].Receipt.Index, store.HeaderAndContent)
		if err != nil {
			t.Fatal(err)
		}
		want, err := event.Encode(ev, event.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		header, _, _, ok := commitment.SplitHeader(e.HeaderBytes)
		if !ok || !bytes.Equal(header, want.Header) || !bytes.Equal(e.Content, want.Content) {
			t.Errorf("event %d: the log does not hold the event's encoding", i)
		}
	}
}
