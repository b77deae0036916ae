package server_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
)

// A batched frame is answered by one response holding one result per
// event, in order, each as a single-event request would be answered; a bad
// event of the frame is rejected alone. Single-event requests on the same
// stream go on as before, and the stream's headers say how many events a
// frame may hold. A frame over that, or with both event and events, has
// every event rejected, and the stream goes on.
func TestAppendBatchedFrames(t *testing.T) {
	h := start(t, nil, server.WithInFlight(6, 1<<20))
	evs := agentEvents()
	badID := proto.Clone(evs[2]).(*agenttrailv1.Event)
	badID.EventId = "not an id"
	changed := proto.Clone(evs[0]).(*agenttrailv1.Event)
	changed.GetSessionStart().UserMessage = "changed"

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := h.append.Append(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*agenttrailv1.AppendRequest{
		{Event: evs[0]},
		{Events: []*agenttrailv1.Event{evs[1], badID, evs[0], changed, evs[3]}},
		{Events: evs[4:11]}, // 7 events: over the bound of 6
		{Event: evs[4], Events: evs[5:6]},
		{Events: evs[4:5]},
	}
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	var resps []*agenttrailv1.AppendResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d responses: %v", len(resps), err)
		}
		resps = append(resps, resp)
	}
	md, err := stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Get(server.BatchHeader); len(got) != 1 || got[0] != strconv.Itoa(6) {
		t.Errorf("header %s: %q, want [6]", server.BatchHeader, got)
	}
	if len(resps) != len(reqs) {
		t.Fatalf("%d responses to %d requests", len(resps), len(reqs))
	}
	if resps[0].GetReceipt() == nil || len(resps[0].GetResults()) != 0 {
		t.Errorf("single event: %v, want a receipt", resps[0])
	}
	type want struct {
		id    string
		code  codes.Code
		field string
		dup   bool
	}
	check := func(name string, got []*agenttrailv1.AppendResponse, wants []want) {
		t.Helper()
		if len(got) != len(wants) {
			t.Errorf("%s: %d results, want %d", name, len(got), len(wants))
			return
		}
		for i, w := range wants {
			r := got[i]
			if r.GetEventId() != w.id {
				t.Errorf("%s[%d]: event id %q, want %q", name, i, r.GetEventId(), w.id)
			}
			if w.code == codes.OK {
				if r.GetReceipt() == nil || r.GetReceipt().GetEventId() != w.id || r.GetReceipt().GetDuplicate() != w.dup {
					t.Errorf("%s[%d]: %v, want a receipt (duplicate %v)", name, i, r, w.dup)
				}
				continue
			}
			if rej := r.GetRejection(); codes.Code(rej.GetCode()) != w.code || rej.GetField() != w.field || rej.GetMessage() == "" {
				t.Errorf("%s[%d]: %v, want %v naming %q", name, i, r, w.code, w.field)
			}
		}
	}
	check("batch", resps[1].GetResults(), []want{
		{evs[1].GetEventId(), codes.OK, "", false},
		{"not an id", codes.InvalidArgument, "event.event_id", false},
		{evs[0].GetEventId(), codes.OK, "", true},
		{evs[0].GetEventId(), codes.AlreadyExists, "", false},
		{evs[3].GetEventId(), codes.OK, "", false},
	})
	var over []want
	for _, ev := range evs[4:11] {
		over = append(over, want{ev.GetEventId(), codes.ResourceExhausted, "events", false})
	}
	check("frame over the bound", resps[2].GetResults(), over)
	check("event and events", resps[3].GetResults(), []want{{evs[5].GetEventId(), codes.InvalidArgument, "event", false}})
	check("batch of one", resps[4].GetResults(), []want{{evs[4].GetEventId(), codes.OK, "", false}})
	if size, _ := h.st.Size(); size != 4 {
		t.Errorf("log size %d, want 4", size)
	}
	if resps[1].GetResults()[2].GetReceipt().GetLogIndex() != resps[0].GetReceipt().GetLogIndex() {
		t.Errorf("duplicate in a batch: %v, want the receipt of %v", resps[1].GetResults()[2], resps[0])
	}
}
