package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// session builds the events of one session: a start, the given payloads,
// and an end unless reason is nil.
func session(id, agent, user string, started time.Time, reason *agenttrailv1.EndReason, payloads ...any) []*agenttrailv1.Event {
	n := 0
	ev := func(p any) *agenttrailv1.Event {
		n++
		e := &agenttrailv1.Event{EventId: fmt.Sprintf("%s-%d", id, n), SessionId: id, AgentId: agent, UserId: user, Step: uint32(n), OccurredAt: timestamppb.New(started.Add(time.Duration(n) * time.Second))}
		switch p := p.(type) {
		case *agenttrailv1.SessionStart:
			e.Payload = &agenttrailv1.Event_SessionStart{SessionStart: p}
		case *agenttrailv1.LlmCall:
			e.Payload = &agenttrailv1.Event_LlmCall{LlmCall: p}
		case *agenttrailv1.ToolCall:
			e.Payload = &agenttrailv1.Event_ToolCall{ToolCall: p}
		case *agenttrailv1.AgentError:
			e.Payload = &agenttrailv1.Event_Error{Error: p}
		case *agenttrailv1.SessionEnd:
			e.Payload = &agenttrailv1.Event_SessionEnd{SessionEnd: p}
		}
		return e
	}
	out := []*agenttrailv1.Event{ev(&agenttrailv1.SessionStart{UserMessage: "hello"})}
	for _, p := range payloads {
		out = append(out, ev(p))
	}
	if reason != nil {
		out = append(out, ev(&agenttrailv1.SessionEnd{Reason: *reason}))
	}
	return out
}

func reasonOf(r agenttrailv1.EndReason) *agenttrailv1.EndReason { return &r }

func sessionFixture(t *testing.T, h *harness) time.Time {
	t.Helper()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	var evs []*agenttrailv1.Event
	evs = append(evs, session("s-a", "agent-a", "user-1", t0, reasonOf(agenttrailv1.EndReason_END_REASON_COMPLETED),
		&agenttrailv1.LlmCall{RequestModel: "m", InputTokens: 100, OutputTokens: 20, Cost: &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 1500}},
		&agenttrailv1.LlmCall{RequestModel: "m", InputTokens: 50, OutputTokens: 5, Cost: &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 500}},
		&agenttrailv1.ToolCall{ToolName: "refund", Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT, Duration: durationpb.New(time.Second)},
	)...)
	evs = append(evs, session("s-b", "agent-b", "user-2", t0.Add(10*time.Minute), reasonOf(agenttrailv1.EndReason_END_REASON_FAILED),
		&agenttrailv1.AgentError{ErrorType: "Boom"})...)
	evs = append(evs, session("s-c", "agent-a", "user-2", t0.Add(20*time.Minute), nil,
		&agenttrailv1.ToolCall{ToolName: "lookup", Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS})...)
	for _, r := range appendAll(t, h.append, requests(evs)) {
		if r.GetRejection() != nil {
			t.Fatalf("append rejected: %v", r.GetRejection())
		}
	}
	return t0
}

func sessionIDs(ss []*agenttrailv1.SessionSummary) string {
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.GetSessionId())
	}
	return strings.Join(ids, ",")
}

func TestListSessionsSummarizes(t *testing.T) {
	h := start(t, nil)
	t0 := sessionFixture(t, h)
	resp, err := h.query.ListSessions(context.Background(), &agenttrailv1.ListSessionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sessionIDs(resp.GetSessions()), "s-c,s-b,s-a"; got != want {
		t.Fatalf("sessions %s, want %s (newest first)", got, want)
	}
	if resp.NextResumeAfter != nil {
		t.Errorf("next_resume_after = %d on the last page, want unset", resp.GetNextResumeAfter())
	}
	want := &agenttrailv1.SessionSummary{
		SessionId: "s-a", AgentId: "agent-a", UserId: "user-1",
		StartedAt: timestamppb.New(t0.Add(time.Second)), LastEventAt: timestamppb.New(t0.Add(5 * time.Second)),
		StartIndex: 0, LastIndex: 4, Outcome: agenttrailv1.SessionOutcome_SESSION_OUTCOME_COMPLETED,
		EventCount: 5, LlmCallCount: 2, ToolCallCount: 1, ErrorCount: 1, InputTokens: 150, OutputTokens: 25,
		Cost: &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 2000},
	}
	if got := resp.GetSessions()[2]; !proto.Equal(got, want) {
		t.Errorf("summary of s-a:\n got %v\nwant %v", got, want)
	}
	if got := resp.GetSessions()[0].GetOutcome(); got != agenttrailv1.SessionOutcome_SESSION_OUTCOME_OPEN {
		t.Errorf("s-c outcome %v, want OPEN (no session_end)", got)
	}
	if got := resp.GetSessions()[1]; got.GetOutcome() != agenttrailv1.SessionOutcome_SESSION_OUTCOME_FAILED || got.GetErrorCount() != 2 {
		t.Errorf("s-b: outcome %v with %d errors, want FAILED with 2 (the error and the failed end)", got.GetOutcome(), got.GetErrorCount())
	}
}

func TestListSessionsFilters(t *testing.T) {
	h := start(t, nil)
	t0 := sessionFixture(t, h)
	yes, no := true, false
	for _, tc := range []struct {
		name string
		req  *agenttrailv1.ListSessionsRequest
		want string
	}{
		{"agent", &agenttrailv1.ListSessionsRequest{AgentId: "agent-a"}, "s-c,s-a"},
		{"user", &agenttrailv1.ListSessionsRequest{UserId: "user-2"}, "s-c,s-b"},
		{"started after", &agenttrailv1.ListSessionsRequest{StartedAfter: timestamppb.New(t0.Add(5 * time.Minute))}, "s-c,s-b"},
		{"started before", &agenttrailv1.ListSessionsRequest{StartedBefore: timestamppb.New(t0.Add(5 * time.Minute))}, "s-a"},
		{"outcome", &agenttrailv1.ListSessionsRequest{Outcomes: []agenttrailv1.SessionOutcome{agenttrailv1.SessionOutcome_SESSION_OUTCOME_OPEN, agenttrailv1.SessionOutcome_SESSION_OUTCOME_FAILED}}, "s-c,s-b"},
		{"has errors", &agenttrailv1.ListSessionsRequest{HasErrors: &yes}, "s-b,s-a"},
		{"no errors", &agenttrailv1.ListSessionsRequest{HasErrors: &no}, "s-c"},
		{"agent and errors", &agenttrailv1.ListSessionsRequest{AgentId: "agent-b", HasErrors: &no}, ""},
	} {
		resp, err := h.query.ListSessions(context.Background(), tc.req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := sessionIDs(resp.GetSessions()); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestListSessionsPagesResume(t *testing.T) {
	h := start(t, nil)
	sessionFixture(t, h)
	var all []string
	req := &agenttrailv1.ListSessionsRequest{PageSize: 1}
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pages never end")
		}
		resp, err := h.query.ListSessions(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, sessionIDs(resp.GetSessions()))
		if resp.NextResumeAfter == nil {
			break
		}
		req.ResumeAfter = resp.NextResumeAfter
	}
	if got := strings.Join(all, ","); got != "s-c,s-b,s-a" && got != "s-c,s-b,s-a," {
		t.Errorf("pages of one: %q, want each session once, newest first", got)
	}
}

func TestListSessionsRefusesBadRequests(t *testing.T) {
	h := start(t, nil)
	for _, tc := range []struct {
		req   *agenttrailv1.ListSessionsRequest
		field string
	}{
		{&agenttrailv1.ListSessionsRequest{PageSize: 501}, "page_size"},
		{&agenttrailv1.ListSessionsRequest{AgentId: "has space"}, "agent_id"},
		{&agenttrailv1.ListSessionsRequest{Outcomes: []agenttrailv1.SessionOutcome{0}}, "outcomes"},
		{&agenttrailv1.ListSessionsRequest{Outcomes: []agenttrailv1.SessionOutcome{99}}, "outcomes"},
		{&agenttrailv1.ListSessionsRequest{StartedAfter: timestamppb.New(time.Unix(10, 0)), StartedBefore: timestamppb.New(time.Unix(5, 0))}, "started_before"},
	} {
		_, err := h.query.ListSessions(context.Background(), tc.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.field) {
			t.Errorf("ListSessions(%v) = %v, want InvalidArgument naming %s", tc.req, err, tc.field)
		}
	}
}

func TestGetInclusionProofsVerify(t *testing.T) {
	h := start(t, nil)
	appendAll(t, h.append, requests(agentEvents()))
	cp, err := h.logs.GetCheckpoint(context.Background(), &agenttrailv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	size := cp.GetCheckpoint().GetTreeSize()
	indexes := []uint64{size - 1, 0, 2}
	resp, err := h.logs.GetInclusionProofs(context.Background(), &agenttrailv1.GetInclusionProofsRequest{LogIndexes: indexes, TreeSize: &size})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetProofs()) != len(indexes) || resp.GetTreeSize() != size || resp.GetCheckpoint().GetTreeSize() != size {
		t.Fatalf("got %d proofs for tree size %d (checkpoint %v), want %d for %d", len(resp.GetProofs()), resp.GetTreeSize(), resp.GetCheckpoint(), len(indexes), size)
	}
	var root tlog.Hash
	copy(root[:], cp.GetCheckpoint().GetRootHash())
	for i, p := range resp.GetProofs() {
		e, err := h.query.GetEvent(context.Background(), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: indexes[i]}})
		if err != nil {
			t.Fatal(err)
		}
		var leaf tlog.Hash
		copy(leaf[:], e.GetEntry().GetCommitment().GetLeafHash())
		if p.GetLogIndex() != indexes[i] {
			t.Errorf("proof %d is of index %d, want %d", i, p.GetLogIndex(), indexes[i])
		}
		if err := tlog.CheckRecord(hashes(p.GetHashes()), int64(size), root, int64(indexes[i]), leaf); err != nil {
			t.Errorf("proof of %d does not verify: %v", indexes[i], err)
		}
	}
	for _, bad := range [][]uint64{nil, make([]uint64, 1001), {size}} {
		_, err := h.logs.GetInclusionProofs(context.Background(), &agenttrailv1.GetInclusionProofsRequest{LogIndexes: bad})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "log_indexes") {
			t.Errorf("GetInclusionProofs(%d indexes) = %v, want InvalidArgument naming log_indexes", len(bad), err)
		}
	}
}

func TestListSessionsIsRecordedAndShownToEveryReader(t *testing.T) {
	h := startSecure(t)
	appendAs(t, h, "agent", seeded())
	for _, who := range []string{"developer", "compliance", "admin"} {
		resp, err := h.query.ListSessions(h.as(who), &agenttrailv1.ListSessionsRequest{AgentId: "support-agent"})
		if err != nil || len(resp.GetSessions()) != 1 {
			t.Errorf("ListSessions as %s: %v, %d sessions; want 1", who, err, len(resp.GetSessions()))
		}
	}
	if _, err := h.query.ListSessions(h.as("agent"), &agenttrailv1.ListSessionsRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ListSessions as an agent: %v, want PermissionDenied", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ACCESS}}})
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, e := range entries {
			a := e.GetEvent().GetAccess()
			if a.GetRpc() == agenttrailv1.QueryService_ListSessions_FullMethodName && a.GetFilter().GetAgentId() == "support-agent" && a.GetEventsReturned() == 1 {
				found++
			}
		}
		if found == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("found %d access records of ListSessions, want 3 (one per reader)", found)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The browser API serves the same services, with the same roles and views,
// over Connect; AppendService is not on it.
func TestBrowserHandlerSpeaksConnectWithTheSameRoles(t *testing.T) {
	h := startSecure(t)
	evs := seeded()
	appendAs(t, h, "agent", evs)
	api, err := h.srv.BrowserHandler()
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(api)
	defer web.Close()
	call := func(who, path, body string) (int, string) {
		req, _ := http.NewRequest("POST", web.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Connect-Protocol-Version", "1")
		if who != "" {
			req.Header.Set("Authorization", "Bearer "+h.keys[who])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAll(resp))
		return resp.StatusCode, b.String()
	}
	getStart := fmt.Sprintf(`{"eventId":%q}`, evs[0].GetEventId())
	if code, body := call("compliance", "/agenttrail.v1.QueryService/GetEvent", getStart); code != 200 || !strings.Contains(body, secrets["email"]) {
		t.Errorf("GetEvent as compliance over Connect: %d %s; want 200 and the full view", code, body)
	}
	if code, body := call("developer", "/agenttrail.v1.QueryService/GetEvent", getStart); code != 200 || strings.Contains(body, secrets["email"]) || !strings.Contains(body, "[EMAIL]") {
		t.Errorf("GetEvent as developer over Connect: %d %s; want 200 and the redacted view", code, body)
	}
	if code, body := call("agent", "/agenttrail.v1.QueryService/GetEvent", getStart); code != 403 {
		t.Errorf("GetEvent as agent over Connect: %d %s; want 403", code, body)
	}
	if code, _ := call("", "/agenttrail.v1.QueryService/GetEvent", getStart); code != 401 {
		t.Errorf("GetEvent without credentials over Connect: %d; want 401", code)
	}
	if code, _ := call("agent", "/agenttrail.v1.AppendService/Append", `{}`); code != 404 && code != 415 {
		t.Errorf("AppendService over the browser API: %d; want it not served", code)
	}
}

func readAll(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
