package client_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
)

func appendAll(t *testing.T, c *client.Client, evs []*agenttrailv1.Event) {
	t.Helper()
	results, err := c.Append(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("event %d: %v", i, r.Err)
		}
	}
}

func TestQueryFilters(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	a, b := events("qa", 4), events("qb", 3)
	b[1].GetToolCall().ToolName = "refund"
	b[2].GetToolCall().Outcome = agenttrailv1.ToolOutcome_TOOL_OUTCOME_ERROR
	appendAll(t, c, append(slices.Clone(a), b...)) // indexes 0-3 session qa, 4-6 session qb
	from := uint64(2)
	to := uint64(5)
	tests := []struct {
		name string
		req  *agenttrailv1.QueryRequest
		want []uint64
	}{
		{"all", nil, []uint64{0, 1, 2, 3, 4, 5, 6}},
		{"session", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: "qb-session"}}, []uint64{4, 5, 6}},
		{"agent", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{AgentId: "agent-qa"}}, []uint64{0, 1, 2, 3}},
		{"tool", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{ToolName: "refund"}}, []uint64{5}},
		{"errors only", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{ErrorsOnly: true}}, []uint64{6}},
		{"index range", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{FromIndex: &from, ToIndex: &to}}, []uint64{2, 3, 4}},
		{"descending limit", &agenttrailv1.QueryRequest{Order: agenttrailv1.Order_ORDER_DESCENDING, Limit: 2}, []uint64{6, 5}},
		{"resume after", &agenttrailv1.QueryRequest{ResumeAfter: &to}, []uint64{6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := indexes(collect(t, c, tt.req)); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// The request is not modified by the iteration.
	req := &agenttrailv1.QueryRequest{Limit: 1}
	collect(t, c, req)
	if req.ResumeAfter != nil {
		t.Errorf("Query changed its request: %v", req)
	}
}

func TestQueryResumesAfterUnavailable(t *testing.T) {
	var mu sync.Mutex
	var resumes []*uint64
	var limits []uint32
	ts := start(t, server.WithInterceptors(nil, []grpc.StreamServerInterceptor{
		func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if info.FullMethod == "/agenttrail.v1.QueryService/Query" {
				ss = &recordingStream{ServerStream: ss, record: func(req *agenttrailv1.QueryRequest) {
					mu.Lock()
					resumes = append(resumes, req.ResumeAfter)
					limits = append(limits, req.GetLimit())
					mu.Unlock()
				}}
			}
			return h(srv, ss)
		},
		breakAfter("/agenttrail.v1.QueryService/Query", 3, 2),
	}))
	c := dial(t, ts.addr)
	appendAll(t, c, events("resume", 10))

	// Without WithResume the error ends the query.
	var err error
	n := 0
	for _, err = range c.Query(context.Background(), nil) {
		if err != nil {
			break
		}
		n++
	}
	if status.Code(err) != codes.Unavailable || n != 3 {
		t.Fatalf("without resume: %d entries, then %v; want 3 and UNAVAILABLE", n, err)
	}
	// With it, the query goes on after the last index received, once per
	// failure, with the limit reduced by what came.
	got := collect(t, c, &agenttrailv1.QueryRequest{Limit: 9}, client.WithResume(client.RetryPolicy{Initial: time.Millisecond}))
	if want := []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(indexes(got), want) {
		t.Fatalf("with resume: got %v, want %v", indexes(got), want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(resumes) != 3 || resumes[1] != nil || resumes[2] == nil || *resumes[2] != 2 || limits[1] != 9 || limits[2] != 6 {
		t.Errorf("requests: resume_after %v, limits %v; want nil then 2, limits 9 then 6", resumes, limits)
	}
}

// recordingStream reports each request a server-streaming call receives.
type recordingStream struct {
	grpc.ServerStream
	record func(*agenttrailv1.QueryRequest)
}

func (s *recordingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if req, ok := m.(*agenttrailv1.QueryRequest); ok && err == nil {
		s.record(req)
	}
	return err
}

func TestQueryResumeGivesUp(t *testing.T) {
	for _, tt := range []struct {
		failures int
		want     codes.Code
	}{{2, codes.OK}, {3, codes.Aborted}} {
		// ABORTED, which gRPC's own retries of a stream's start leave
		// alone, so that only WithResume retries.
		ts := start(t, server.WithInterceptors(nil, []grpc.StreamServerInterceptor{failAfter("/agenttrail.v1.QueryService/Query", 0, tt.failures, codes.Aborted)}))
		c := dial(t, ts.addr)
		appendAll(t, c, events("giveup", 2))
		var err error
		n := 0
		for _, err = range c.Query(context.Background(), nil, client.WithResume(client.RetryPolicy{Initial: time.Millisecond, Attempts: 3})) {
			if err != nil {
				break
			}
			n++
		}
		if status.Code(err) != tt.want || tt.want == codes.OK && n != 2 {
			t.Errorf("%d failures, 3 attempts: %d entries, error %v; want %v", tt.failures, n, err, tt.want)
		}
	}
}

func TestTailSeesNewEvents(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	appendAll(t, c, events("tail-old", 2))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caughtUp := make(chan uint64, 1)
	entries := make(chan *agenttrailv1.Entry)
	tailErr := make(chan error, 1)
	go func() {
		filter := &agenttrailv1.Filter{SessionId: "tail-new-session"}
		for e, err := range c.Tail(ctx, filter, nil, client.WithCaughtUp(func(size uint64) { caughtUp <- size })) {
			if err != nil {
				tailErr <- err
				return
			}
			entries <- e
		}
	}()
	select {
	case size := <-caughtUp:
		if size != 2 {
			t.Errorf("caught up at size %d, want 2", size)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tail never caught up")
	}
	appendAll(t, c, events("tail-new", 3))
	for i := range 3 {
		select {
		case e := <-entries:
			if e.GetStamp().GetLogIndex() != uint64(2+i) {
				t.Errorf("tail entry %d at index %d, want %d", i, e.GetStamp().GetLogIndex(), 2+i)
			}
		case err := <-tailErr:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("tail entry %d never came", i)
		}
	}
	cancel()
	select {
	case err := <-tailErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("tail ended with %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the tail did not end on cancel")
	}
}

func TestGetEvent(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	evs := events("get", 3)
	appendAll(t, c, evs)
	ctx := context.Background()
	e, err := c.GetEvent(ctx, evs[1].GetEventId())
	if err != nil || e.GetStamp().GetLogIndex() != 1 {
		t.Fatalf("GetEvent = %v, %v; want index 1", e.GetStamp(), err)
	}
	e, err = c.GetEventByIndex(ctx, 2)
	if err != nil || e.GetEvent().GetEventId() != evs[2].GetEventId() {
		t.Fatalf("GetEventByIndex(2) = %v, %v", e.GetEvent().GetEventId(), err)
	}
	if _, err := c.GetEventByIndex(ctx, 99); status.Code(err) != codes.NotFound {
		t.Errorf("GetEventByIndex(99) = %v, want NotFound", err)
	}
	if _, err := c.GetEvent(ctx, ""); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("GetEvent(\"\") = %v, want ErrInvalidOption", err)
	}
}

// WithEventsInCommitment yields the entries without their events, and
// EntryEvent rebuilds each one the client would have set.
func TestQueryEventsInCommitment(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	appendAll(t, c, events("ec", 3))
	want := collect(t, c, nil)
	got := collect(t, c, nil, client.WithEventsInCommitment())
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if e.GetEvent() != nil {
			t.Errorf("entry %d: got an event, want it left in the commitment", i)
		}
		ev, err := client.EntryEvent(e)
		if err != nil {
			t.Fatalf("entry %d: EntryEvent: %v", i, err)
		}
		if e.GetEvent() != nil {
			t.Errorf("entry %d: EntryEvent set the entry's event", i)
		}
		if !proto.Equal(ev, want[i].GetEvent()) || want[i].GetEvent() == nil {
			t.Errorf("entry %d: got event %v, want %v", i, ev, want[i].GetEvent())
		}
		if sent, err := client.EntryEvent(want[i]); err != nil || sent != want[i].GetEvent() {
			t.Errorf("entry %d: EntryEvent of an entry with its event: got %p, %v; want the entry's own", i, sent, err)
		}
	}
	if _, err := client.EntryEvent(&agenttrailv1.Entry{}); err == nil {
		t.Error("EntryEvent of an entry without event or commitment: got no error")
	}
}
