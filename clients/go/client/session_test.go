package client_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store/event"
)

// runSession records a small session: start, LLM call, tool call, error,
// output, end.
func runSession(t *testing.T, s *client.Session) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	record := func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		return id
	}
	llm := record(s.LLMCall(ctx, &agenttrailv1.LlmCall{
		ProviderName: "openai", RequestModel: "gpt-4.1-mini", InputTokens: 120, OutputTokens: 30,
		Cost: &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 900}, OutputText: "calling search",
	}))
	record(s.ToolCall(ctx, &agenttrailv1.ToolCall{ToolName: "search", Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS}, client.WithParent(llm)))
	record(s.LLMCall(ctx, &agenttrailv1.LlmCall{RequestModel: "gpt-4.1-mini", InputTokens: 200, OutputTokens: 50,
		Cost: &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 1100}}))
	record(s.Error(ctx, &agenttrailv1.AgentError{ErrorType: "Timeout", Retryable: true}))
	record(s.Reasoning(ctx, &agenttrailv1.Reasoning{Thought: "retry once"}, client.WithLabels(map[string]string{"phase": "recovery"})))
	record(s.Output(ctx, &agenttrailv1.Output{Text: "done", Final: true}))
	record(s.End(ctx, agenttrailv1.EndReason_END_REASON_COMPLETED))
	return ids
}

func TestSession(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	s, err := c.StartSession(ctx, client.SessionOptions{
		AgentID: "support-agent", AgentVersion: "1.2.0", UserID: "u_42",
		Labels: map[string]string{"env": "test"},
		Start:  &agenttrailv1.SessionStart{UserMessage: "help", SourceChannel: "api"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := runSession(t, s)
	if _, err := s.Output(ctx, &agenttrailv1.Output{Text: "late"}); !errors.Is(err, client.ErrClosed) {
		t.Errorf("recording after End = %v, want ErrClosed", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Recorded != 8 || st.Acknowledged != 8 || st.Pending != 0 || st.Streams != 1 {
		t.Errorf("stats %+v, want 8 recorded and acknowledged on 1 stream", st)
	}

	entries := collect(t, c, &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: s.ID()}})
	if len(entries) != 8 {
		t.Fatalf("the session has %d entries, want 8", len(entries))
	}
	uuid7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for i, e := range entries {
		ev := e.GetEvent()
		if ev.GetStep() != uint32(i+1) || ev.GetAgentId() != "support-agent" || ev.GetAgentVersion() != "1.2.0" ||
			ev.GetUserId() != "u_42" || ev.GetLabels()["env"] != "test" || !uuid7.MatchString(ev.GetEventId()) {
			t.Errorf("entry %d: step %d, envelope %v", i, ev.GetStep(), ev)
		}
		if i > 0 && ev.GetEventId() != ids[i-1] {
			t.Errorf("entry %d has id %s, the method returned %s", i, ev.GetEventId(), ids[i-1])
		}
	}
	if got := entries[2].GetEvent().GetParentEventId(); got != ids[0] {
		t.Errorf("tool call parent %q, want %q", got, ids[0])
	}
	// Without WithParent an event's parent is the session's start.
	startID := entries[0].GetEvent().GetEventId()
	if got := entries[0].GetEvent().GetParentEventId(); got != "" {
		t.Errorf("session start has parent %q, want none", got)
	}
	for _, i := range []int{1, 3, 7} {
		if got := entries[i].GetEvent().GetParentEventId(); got != startID {
			t.Errorf("entry %d parent %q, want the session start %q", i, got, startID)
		}
	}
	if got := entries[5].GetEvent().GetLabels(); got["phase"] != "recovery" || got["env"] != "test" {
		t.Errorf("reasoning labels %v", got)
	}
	end := entries[7].GetEvent().GetSessionEnd()
	want := &agenttrailv1.SessionEnd{Reason: agenttrailv1.EndReason_END_REASON_COMPLETED, StepCount: 8, LlmCallCount: 2,
		ToolCallCount: 1, ErrorCount: 1, InputTokens: 320, OutputTokens: 80, Cost: &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 2000}}
	if end.String() != want.String() {
		t.Errorf("session end %v, want %v", end, want)
	}
}

// TestSessionResendsAfterBrokenStream breaks the first two Append streams
// after a few receipts, with events committed whose receipts were never
// sent: the session resends them with the same ids, and every event is
// stored exactly once.
func TestSessionResendsAfterBrokenStream(t *testing.T) {
	ts := start(t, server.WithInterceptors(nil, []grpc.StreamServerInterceptor{breakAfter("/agenttrail.v1.AppendService/Append", 3, 2)}))
	c := dial(t, ts.addr)
	ctx := context.Background()
	s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "resender", MaxInFlight: 4, Retry: client.RetryPolicy{Initial: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.ToolCall(ctx, &agenttrailv1.ToolCall{ToolName: "t", Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS}); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if _, err := s.End(ctx, agenttrailv1.EndReason_END_REASON_COMPLETED); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Streams != 3 || st.Acknowledged != 22 || st.Duplicates == 0 {
		t.Errorf("stats %+v: want 3 streams, 22 acknowledged, some duplicates", st)
	}
	entries := collect(t, c, &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: s.ID()}})
	var steps []uint32
	for _, e := range entries {
		steps = append(steps, e.GetEvent().GetStep())
	}
	want := make([]uint32, 22)
	for i := range want {
		want[i] = uint32(i + 1)
	}
	if !slices.Equal(steps, want) {
		t.Errorf("stored steps %v, want each of 1..22 once", steps)
	}
}

func TestSessionRejection(t *testing.T) {
	ts := start(t, server.WithAppendCheck(func(_ context.Context, ev *agenttrailv1.Event) error {
		if ev.GetToolCall().GetToolName() == "forbidden" {
			return status.Error(codes.PermissionDenied, "this agent may not record that tool")
		}
		return nil
	}))
	c := dial(t, ts.addr)
	ctx := context.Background()
	var mu sync.Mutex
	var refused []string
	s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "a", OnRejected: func(ev *agenttrailv1.Event, err *client.RejectionError) {
		mu.Lock()
		refused = append(refused, ev.GetEventId()+" "+err.Code.String())
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.ToolCall(ctx, &agenttrailv1.ToolCall{ToolName: "forbidden"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ToolCall(ctx, &agenttrailv1.ToolCall{ToolName: "fine"}); err != nil {
		t.Fatal(err)
	}
	// Flush reports the refusal once, naming the event and the reason;
	// Close has none left to report.
	err = s.Flush(ctx)
	if !errors.Is(err, client.ErrRejected) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "may not record that tool") {
		t.Fatalf("Flush = %v, want ErrRejected naming %s", err, id)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close after Flush reported the refusal = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 1 || refused[0] != id+" PermissionDenied" {
		t.Errorf("OnRejected saw %v, want %s PermissionDenied", refused, id)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Acknowledged != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestSessionChecksEventsLocally(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	if _, err := c.StartSession(ctx, client.SessionOptions{}); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("no agent id: %v, want ErrInvalidOption", err)
	}
	if _, err := c.StartSession(ctx, client.SessionOptions{AgentID: "has space"}); !errors.Is(err, client.ErrInvalidEvent) {
		t.Errorf("bad agent id: %v, want ErrInvalidEvent", err)
	}
	s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.LLMCall(ctx, &agenttrailv1.LlmCall{InputTokens: -1})
	var fe *event.FieldError
	if !errors.Is(err, client.ErrInvalidEvent) || !errors.As(err, &fe) || fe.Field != "llm_call.input_tokens" {
		t.Errorf("negative tokens: %v, want ErrInvalidEvent naming llm_call.input_tokens", err)
	}
	if _, err := s.ToolCall(ctx, &agenttrailv1.ToolCall{ToolName: "t", Result: "\xff"}); !errors.Is(err, client.ErrInvalidEvent) {
		t.Errorf("invalid UTF-8: %v, want ErrInvalidEvent", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Recorded != 1 {
		t.Errorf("recorded %d events, want only the start", st.Recorded)
	}
}

// unreachable returns a loopback address nothing listens on.
func unreachable(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func TestSessionFullBuffer(t *testing.T) {
	c := dial(t, unreachable(t))
	ctx := context.Background()
	t.Run("drop", func(t *testing.T) {
		s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "a", BufferSize: 3, FullPolicy: client.DropNewest})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			_, err := s.Output(ctx, &agenttrailv1.Output{Text: "x"})
			if full := i >= 2; full != errors.Is(err, client.ErrBufferFull) {
				t.Errorf("output %d: %v, buffer full %v", i, err, full)
			}
		}
		if st := s.Stats(); st.Recorded != 3 || st.Dropped != 2 || st.Pending != 3 {
			t.Errorf("stats %+v, want 3 recorded, 2 dropped, 3 pending", st)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err = s.Close(cctx)
		if !errors.Is(err, context.DeadlineExceeded) || !regexp.MustCompile(`3 events unacknowledged`).MatchString(err.Error()) {
			t.Errorf("Close = %v, want 3 unacknowledged and the deadline", err)
		}
		if _, err := s.Output(ctx, &agenttrailv1.Output{}); !errors.Is(err, client.ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("block", func(t *testing.T) {
		s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "a", BufferSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := s.Output(wctx, &agenttrailv1.Output{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Output into a full buffer = %v, want the deadline", err)
		}
		if err := s.Flush(wctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Flush = %v, want the deadline", err)
		}
		cctx, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel2()
		if err := s.Close(cctx); err == nil {
			t.Error("Close with an undelivered event returned nil")
		}
	})
}

func TestSessionDeliversOnceServerIsBack(t *testing.T) {
	// The server starts after the session has buffered events.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	// gRPC waits a second before redialing by default.
	c := dial(t, addr, client.WithDialOptions(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, MaxDelay: 50 * time.Millisecond}})))
	ctx := context.Background()
	s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "late", Retry: client.RetryPolicy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.End(ctx, agenttrailv1.EndReason_END_REASON_COMPLETED); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	ts := startOn(t, addr)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, dial(t, ts.addr), nil)); n != 2 {
		t.Errorf("stored %d events, want 2", n)
	}
}

func TestNewEventID(t *testing.T) {
	uuid7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	prev := ""
	for i := range 20000 {
		id := client.NewEventID()
		if !uuid7.MatchString(id) {
			t.Fatalf("id %d: %q is not a UUIDv7", i, id)
		}
		if id <= prev {
			t.Fatalf("id %d: %q does not sort after %q", i, id, prev)
		}
		if err := event.Validate(&agenttrailv1.Event{EventId: id}, event.Limits{}); err != nil {
			var fe *event.FieldError
			if errors.As(err, &fe) && fe.Field == "event_id" {
				t.Fatalf("id %q is not an event id: %v", id, err)
			}
		}
		prev = id
	}
}
