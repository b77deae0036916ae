package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

const (
	defaultSessionPage = 50
	maxSessionPage     = 500
	// A ListSessions call examines at most this many sessions, and for at
	// most sessionListBudget, before it returns what it found with a
	// resume token: a filter that matches few sessions never holds a call
	// open for long.
	maxSessionsExamined = 2000
	sessionListBudget   = 2 * time.Second
)

// ListSessions implements agenttrailv1.QueryServiceServer. Sessions are found
// by their session_start events (newest first, through the kind index) and
// each is summarized from the headers of its events (through the session
// index): metadata only, so every reading role sees the same summary.
func (q *queryService) ListSessions(ctx context.Context, req *agenttrailv1.ListSessionsRequest) (*agenttrailv1.ListSessionsResponse, error) {
	s := q.s
	if _, err := s.cfg.views(ctx); err != nil {
		return nil, err
	}
	sq, err := sessionQuery(req)
	if err != nil {
		return nil, statusError(ctx, s.log, err)
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = defaultSessionPage
	}
	outcomes := map[agenttrailv1.SessionOutcome]bool{}
	for _, o := range req.GetOutcomes() {
		outcomes[o] = true
	}
	deadline := time.Now().Add(sessionListBudget)
	resp := &agenttrailv1.ListSessionsResponse{}
	seen := map[string]bool{}
	examined, lastExamined := 0, uint64(0)
	for e, err := range s.st.Scan(ctx, sq) {
		if err != nil {
			return nil, statusError(ctx, s.log, err)
		}
		if examined > 0 && (len(resp.Sessions) == size || examined >= maxSessionsExamined || time.Now().After(deadline)) {
			// More may match: resume after the last session examined.
			resp.NextResumeAfter = &lastExamined
			break
		}
		examined++
		lastExamined = e.Index
		id := e.Header.GetSessionId()
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		sum, err := s.summarizeSession(ctx, e)
		if err != nil {
			return nil, statusError(ctx, s.log, err)
		}
		if len(outcomes) > 0 && !outcomes[sum.GetOutcome()] {
			continue
		}
		if req.HasErrors != nil && req.GetHasErrors() != (sum.GetErrorCount() > 0) {
			continue
		}
		resp.Sessions = append(resp.Sessions, sum)
	}
	return resp, nil
}

// sessionQuery checks a ListSessionsRequest and turns it into a scan of
// session_start headers, newest first.
func sessionQuery(req *agenttrailv1.ListSessionsRequest) (store.Query, error) {
	q := store.Query{
		Descending: true,
		Read:       store.HeaderOnly,
		After:      req.ResumeAfter,
		Filter: store.Filter{
			AgentID: req.GetAgentId(),
			UserID:  req.GetUserId(),
			Kinds:   []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_SESSION_START},
		},
	}
	for _, id := range []struct{ field, v string }{{"agent_id", req.GetAgentId()}, {"user_id", req.GetUserId()}} {
		if id.v != "" && !event.IsID(id.v) {
			return q, badRequest(id.field, "must be an id: 1 to 128 characters from [A-Za-z0-9._:-]")
		}
	}
	if t := req.GetStartedAfter(); t != nil {
		if t.CheckValid() != nil {
			return q, badRequest("started_after", "must be a valid timestamp")
		}
		q.Filter.OccurredAfter = t.AsTime()
	}
	if t := req.GetStartedBefore(); t != nil {
		if t.CheckValid() != nil {
			return q, badRequest("started_before", "must be a valid timestamp")
		}
		q.Filter.OccurredBefore = t.AsTime()
	}
	if !q.Filter.OccurredAfter.IsZero() && !q.Filter.OccurredBefore.IsZero() && !q.Filter.OccurredBefore.After(q.Filter.OccurredAfter) {
		return q, badRequest("started_before", "must be after started_after")
	}
	if req.GetPageSize() > maxSessionPage {
		return q, badRequest("page_size", "must be at most 500")
	}
	if len(req.GetOutcomes()) > 8 {
		return q, badRequest("outcomes", "at most 8 outcomes")
	}
	for _, o := range req.GetOutcomes() {
		if _, ok := agenttrailv1.SessionOutcome_name[int32(o)]; !ok || o == agenttrailv1.SessionOutcome_SESSION_OUTCOME_UNSPECIFIED {
			return q, badRequest("outcomes", "each outcome must be a defined SessionOutcome other than SESSION_OUTCOME_UNSPECIFIED")
		}
	}
	return q, nil
}

// summarizeSession reads the headers of every event of the session that
// start begins and sums them up.
func (s *Server) summarizeSession(ctx context.Context, start *store.Entry) (*agenttrailv1.SessionSummary, error) {
	h := start.Header
	sum := &agenttrailv1.SessionSummary{
		SessionId:    h.GetSessionId(),
		AgentId:      h.GetAgentId(),
		AgentVersion: h.GetAgentVersion(),
		UserId:       h.GetUserId(),
		StartedAt:    h.GetOccurredAt(),
		StartIndex:   start.Index,
		Outcome:      agenttrailv1.SessionOutcome_SESSION_OUTCOME_OPEN,
	}
	var last time.Time
	currency, mixed := "", false
	var micros int64
	q := store.Query{Read: store.HeaderOnly, Filter: store.Filter{SessionID: h.GetSessionId()}}
	for e, err := range s.st.Scan(ctx, q) {
		if err != nil {
			return nil, err
		}
		ev := e.Header
		sum.EventCount++
		sum.LastIndex = e.Index
		if t := ev.GetOccurredAt().AsTime(); t.After(last) {
			last = t
		}
		if event.IsFailure(ev) {
			sum.ErrorCount++
		}
		switch p := ev.GetPayload().(type) {
		case *agenttrailv1.Event_LlmCall:
			sum.LlmCallCount++
			sum.InputTokens += p.LlmCall.GetInputTokens()
			sum.OutputTokens += p.LlmCall.GetOutputTokens()
			if c := p.LlmCall.GetCost(); c != nil {
				switch {
				case currency == "":
					currency = c.GetCurrencyCode()
				case c.GetCurrencyCode() != currency:
					mixed = true
				}
				micros += c.GetMicros()
			}
		case *agenttrailv1.Event_ToolCall:
			sum.ToolCallCount++
		case *agenttrailv1.Event_SessionEnd:
			sum.Outcome = outcomeOf(p.SessionEnd.GetReason())
		}
	}
	if !last.IsZero() {
		sum.LastEventAt = timestamppb.New(last)
	}
	if (currency != "" || micros != 0) && !mixed {
		sum.Cost = &agenttrailv1.Cost{CurrencyCode: currency, Micros: micros}
	}
	return sum, nil
}

func outcomeOf(r agenttrailv1.EndReason) agenttrailv1.SessionOutcome {
	switch r {
	case agenttrailv1.EndReason_END_REASON_COMPLETED:
		return agenttrailv1.SessionOutcome_SESSION_OUTCOME_COMPLETED
	case agenttrailv1.EndReason_END_REASON_FAILED:
		return agenttrailv1.SessionOutcome_SESSION_OUTCOME_FAILED
	case agenttrailv1.EndReason_END_REASON_TIMED_OUT:
		return agenttrailv1.SessionOutcome_SESSION_OUTCOME_TIMED_OUT
	case agenttrailv1.EndReason_END_REASON_MAX_ITERATIONS:
		return agenttrailv1.SessionOutcome_SESSION_OUTCOME_MAX_ITERATIONS
	case agenttrailv1.EndReason_END_REASON_CANCELLED:
		return agenttrailv1.SessionOutcome_SESSION_OUTCOME_CANCELLED
	}
	return agenttrailv1.SessionOutcome_SESSION_OUTCOME_ENDED
}
