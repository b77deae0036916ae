package server_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// eventField is a record of an AppendRequest field (1: event, 2: events)
// holding enc.
func eventField(num protowire.Number, enc []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), enc)
}

// The log commits what encoding an event gives, however the event came:
// in Go's encoding (committed as it arrived), in another encoding of the
// same event (encoded again), alone or in a batched frame, and in a frame
// that repeats its event field (which decoding merges).
func TestAppendCommitsTheEncodingOfTheEvent(t *testing.T) {
	h := start(t, nil)
	evs := fresh()[:8]
	llm := eventtest.RealisticLLMCall()
	llm.Labels = map[string]string{"env": "prod", "team": "support", "region": "eu-1"}
	llm.Attributes = map[string]string{"b": "2", "a": "1"}
	evs = append(evs, llm)
	frames := [][]byte{
		// alone, as Go encodes it
		eventField(1, eventtest.Deterministic(evs[0])),
		// alone, encoded otherwise
		eventField(1, eventtest.Backwards(evs[1])),
		// batched, mixed
		slices.Concat(eventField(2, eventtest.Deterministic(evs[2])), eventField(2, eventtest.Backwards(evs[3])), eventField(2, eventtest.Deterministic(evs[4]))),
		// the event field twice, which decoding merges
		slices.Concat(eventField(1, eventtest.Deterministic(evs[5])), eventField(1, eventtest.Deterministic(evs[5]))),
		eventField(2, eventtest.Backwards(evs[6])),
		eventField(2, eventtest.Deterministic(evs[7])),
		eventField(1, eventtest.Deterministic(evs[8])),
	}
	resps, err := appendRaw(t, h, frames)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resps {
		for _, one := range append([]*agenttrailv1.AppendResponse{r}, r.GetResults()...) {
			if one.GetRejection() != nil {
				t.Fatalf("event %s rejected: %v", one.GetEventId(), one.GetRejection())
			}
		}
	}
	stored := map[string]*store.Entry{}
	for e, err := range h.st.Scan(context.Background(), store.Query{Read: store.HeaderAndContent}) {
		if err != nil {
			t.Fatal(err)
		}
		stored[e.Header.GetEventId()] = e
	}
	for _, ev := range evs {
		e := stored[ev.GetEventId()]
		if e == nil {
			t.Fatalf("event %s is not in the log", ev.GetEventId())
		}
		want, err := event.Encode(ev, event.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		header, _, _, ok := commitment.SplitHeader(e.HeaderBytes)
		if !ok {
			t.Fatalf("event %s: the committed header does not split", ev.GetEventId())
		}
		if !bytes.Equal(header, want.Header) {
			t.Errorf("event %s: got header %x, want %x", ev.GetEventId(), header, want.Header)
		}
		if !bytes.Equal(e.Content, want.Content) {
			t.Errorf("event %s: the committed content is not the event's encoding", ev.GetEventId())
		}
	}
}
