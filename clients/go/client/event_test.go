package client_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// sentWithEvent is the full view as a server that predates
// event_from_commitment shows it: every entry with its event.
type sentWithEvent struct{}

func (sentWithEvent) Kind() agenttrailv1.ViewKind { return server.FullView{}.Kind() }
func (sentWithEvent) PolicyVersion() string       { return "" }
func (sentWithEvent) Read() store.ReadMode        { return server.FullView{}.Read() }
func (sentWithEvent) Shows(*store.Entry) bool     { return true }
func (sentWithEvent) Render(e *store.Entry) (*agenttrailv1.Entry, error) {
	return server.FullView{}.Render(e)
}

// Query yields each entry of the full view with its event, whether the
// server sends the event (an older server) or leaves it to be rebuilt from
// the commitment: the same entries as GetEvent returns, erased ones
// included.
func TestQueryRebuildsEventFromCommitment(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []server.Option
	}{
		{"event rebuilt", nil},
		{"event sent", []server.Option{server.WithViews(func(context.Context) (server.View, error) { return sentWithEvent{}, nil })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := start(t, tc.opts...)
			c := dial(t, ts.addr)
			var evs []*agenttrailv1.Event
			for _, s := range eventtest.Samples() {
				switch s.Event.GetPayload().(type) {
				case *agenttrailv1.Event_Access, *agenttrailv1.Event_Erasure, *agenttrailv1.Event_Retention, *agenttrailv1.Event_KeyChange:
					continue // written by the server only
				}
				ev := proto.Clone(s.Event).(*agenttrailv1.Event)
				ev.OccurredAt = timestamppb.New(time.Now().Add(-time.Minute))
				evs = append(evs, ev)
			}
			appendAll(t, c, evs)
			ctx := context.Background()
			if _, err := ts.st.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-1", EventIDs: []string{evs[2].GetEventId()}}); err != nil {
				t.Fatal(err)
			}
			got := collect(t, c, &agenttrailv1.QueryRequest{})
			if len(got) < len(evs) {
				t.Fatalf("%d entries, want at least %d", len(got), len(evs))
			}
			erased := 0
			for _, e := range got {
				if e.GetEvent() == nil {
					t.Fatalf("entry %d without its event", e.GetStamp().GetLogIndex())
				}
				if e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_ERASED {
					erased++
				}
				want, err := c.GetEventByIndex(ctx, e.GetStamp().GetLogIndex())
				if err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(e, want) {
					t.Errorf("entry %d:\ngot  %v\nwant %v", e.GetStamp().GetLogIndex(), e, want)
				}
			}
			if erased != 1 {
				t.Errorf("%d erased entries, want 1", erased)
			}
		})
	}
}
