package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/sketch"
)

// StatsCorpus returns n events for statistics, spread over hours hours
// before Now: several agents, users, tools and models, every kind agents
// write, failures, tokens, costs in two currencies, latencies and
// durations. The same n and seed give the same events.
func StatsCorpus(n, hours int, seed uint64) []*agenttrailv1.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	start := Now.Truncate(time.Hour).Add(-time.Duration(hours) * time.Hour)
	kinds := []func(*agenttrailv1.Event){
		func(ev *agenttrailv1.Event) {
			c := &agenttrailv1.LlmCall{ProviderName: "openai", RequestModel: fmt.Sprintf("model-%d", rng.IntN(4)),
				InputTokens: rng.Int64N(4000), OutputTokens: rng.Int64N(800), CacheReadInputTokens: rng.Int64N(100), ReasoningOutputTokens: rng.Int64N(50),
				Latency: durationpb.New(time.Duration(math.Exp(rng.NormFloat64()*0.8 + 20)))}
			if rng.IntN(3) > 0 {
				cur := []string{"USD", "EUR"}[rng.IntN(2)]
				c.Cost = &agenttrailv1.Cost{CurrencyCode: cur, Micros: rng.Int64N(20000)}
			}
			if rng.IntN(20) == 0 {
				c.ErrorType = "429"
			}
			if rng.IntN(2) == 0 {
				c.ResponseModel = c.RequestModel + "-2026"
			}
			ev.Payload = &agenttrailv1.Event_LlmCall{LlmCall: c}
		},
		func(ev *agenttrailv1.Event) {
			c := &agenttrailv1.ToolCall{ToolName: fmt.Sprintf("tool-%d", rng.IntN(8)), Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS,
				Duration: durationpb.New(time.Duration(rng.ExpFloat64() * float64(200*time.Millisecond)))}
			if rng.IntN(10) == 0 {
				c.Outcome = agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT
			}
			if rng.IntN(15) == 0 {
				c.Duration = nil
			}
			ev.Payload = &agenttrailv1.Event_ToolCall{ToolCall: c}
		},
		func(ev *agenttrailv1.Event) {
			ev.Payload = &agenttrailv1.Event_Error{Error: &agenttrailv1.AgentError{ErrorType: "ValueError"}}
		},
		func(ev *agenttrailv1.Event) {
			ev.Payload = &agenttrailv1.Event_SessionStart{SessionStart: &agenttrailv1.SessionStart{SourceChannel: "web"}}
		},
		func(ev *agenttrailv1.Event) {
			ev.Payload = &agenttrailv1.Event_SessionEnd{SessionEnd: &agenttrailv1.SessionEnd{Reason: agenttrailv1.EndReason(1 + rng.IntN(5))}}
		},
		func(ev *agenttrailv1.Event) {
			ev.Payload = &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Final: true}}
		},
	}
	weights := []int{0, 0, 0, 0, 1, 1, 1, 1, 2, 3, 4, 5} // mostly LLM and tool calls
	out := make([]*agenttrailv1.Event, n)
	for i := range out {
		ev := &agenttrailv1.Event{
			EventId:    fmt.Sprintf("stats-%d-%07d", seed, i),
			SessionId:  fmt.Sprintf("s-%d", rng.IntN(50)),
			AgentId:    fmt.Sprintf("agent-%d", rng.IntN(5)),
			OccurredAt: timestamppb.New(start.Add(time.Duration(rng.Int64N(int64(hours) * int64(time.Hour))))),
		}
		if rng.IntN(4) > 0 {
			ev.UserId = fmt.Sprintf("user-%d", rng.IntN(12))
		}
		if rng.IntN(5) == 0 {
			ev.ModelId = "configured-model"
		}
		kinds[weights[rng.IntN(len(weights))]](ev)
		out[i] = ev
	}
	return out
}

// bruteRow is one group's statistics, counted event by event.
type bruteRow struct {
	events, failures, llm, tools             uint64
	in, out, cacheRead, cacheWrite, reasoned int64
	cost                                     map[string]int64
	latencies, durations                     []time.Duration
}

// bruteForce computes a query's rows by reading every event, without the
// store's code: the yardstick the aggregates are held to.
func bruteForce(evs []*agenttrailv1.Event, q store.StatsQuery) map[string]*bruteRow {
	out := map[string]*bruteRow{}
	f := q.Filter
	for _, ev := range evs {
		kind := kindOf(ev)
		tool := ev.GetToolCall().GetToolName()
		at := ev.GetOccurredAt().AsTime()
		failed := ev.GetError() != nil || ev.GetLlmCall().GetErrorType() != "" ||
			ev.GetToolCall() != nil && ev.GetToolCall().GetOutcome() != agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS ||
			ev.GetSessionEnd().GetReason() == agenttrailv1.EndReason_END_REASON_FAILED || ev.GetSessionEnd().GetReason() == agenttrailv1.EndReason_END_REASON_TIMED_OUT
		model := ev.GetModelId()
		if c := ev.GetLlmCall(); c != nil {
			model = c.GetRequestModel()
			if c.GetResponseModel() != "" {
				model = c.GetResponseModel()
			}
		}
		if f.AgentID != "" && ev.GetAgentId() != f.AgentID || f.UserID != "" && ev.GetUserId() != f.UserID ||
			f.SessionID != "" && ev.GetSessionId() != f.SessionID || f.ToolName != "" && tool != f.ToolName ||
			len(f.Kinds) > 0 && !slices.Contains(f.Kinds, kind) || f.ErrorsOnly && !failed ||
			!f.OccurredAfter.IsZero() && at.Before(f.OccurredAfter) || !f.OccurredBefore.IsZero() && !at.Before(f.OccurredBefore) {
			continue
		}
		var start int64
		switch q.Interval {
		case time.Hour:
			start = at.Truncate(time.Hour).Unix()
		case 24 * time.Hour:
			start = at.Unix() / 86400 * 86400
		}
		key := fmt.Sprint(start)
		for _, d := range q.GroupBy {
			switch d {
			case store.ByAgent:
				key += "|a=" + ev.GetAgentId()
			case store.ByModel:
				key += "|m=" + model
			case store.ByTool:
				key += "|t=" + tool
			case store.ByUser:
				key += "|u=" + ev.GetUserId()
			case store.ByKind:
				key += fmt.Sprintf("|k=%d", kind)
			}
		}
		r := out[key]
		if r == nil {
			r = &bruteRow{cost: map[string]int64{}}
			out[key] = r
		}
		r.events++
		if failed {
			r.failures++
		}
		if c := ev.GetLlmCall(); c != nil {
			r.llm++
			r.in += c.GetInputTokens()
			r.out += c.GetOutputTokens()
			r.cacheRead += c.GetCacheReadInputTokens()
			r.cacheWrite += c.GetCacheCreationInputTokens()
			r.reasoned += c.GetReasoningOutputTokens()
			if c.GetCost() != nil {
				r.cost[c.GetCost().GetCurrencyCode()] += c.GetCost().GetMicros()
			}
			if c.GetLatency() != nil {
				r.latencies = append(r.latencies, c.GetLatency().AsDuration())
			}
		}
		if c := ev.GetToolCall(); c != nil {
			r.tools++
			if c.GetDuration() != nil {
				r.durations = append(r.durations, c.GetDuration().AsDuration())
			}
		}
	}
	return out
}

func kindOf(ev *agenttrailv1.Event) agenttrailv1.EventKind {
	switch ev.GetPayload().(type) {
	case *agenttrailv1.Event_LlmCall:
		return agenttrailv1.EventKind_EVENT_KIND_LLM_CALL
	case *agenttrailv1.Event_ToolCall:
		return agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL
	case *agenttrailv1.Event_Error:
		return agenttrailv1.EventKind_EVENT_KIND_ERROR
	case *agenttrailv1.Event_SessionStart:
		return agenttrailv1.EventKind_EVENT_KIND_SESSION_START
	case *agenttrailv1.Event_SessionEnd:
		return agenttrailv1.EventKind_EVENT_KIND_SESSION_END
	case *agenttrailv1.Event_Output:
		return agenttrailv1.EventKind_EVENT_KIND_OUTPUT
	}
	return 0
}

// statsQueries are queries of every shape: each dimension, both intervals,
// filters the aggregates answer and filters that need the headers.
func statsQueries() []struct {
	name           string
	q              store.StatsQuery
	fromAggregates bool
} {
	h := Now.Truncate(time.Hour)
	llm := []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_LLM_CALL}
	return []struct {
		name           string
		q              store.StatsQuery
		fromAggregates bool
	}{
		{"everything", store.StatsQuery{}, true},
		{"by agent, hourly", store.StatsQuery{GroupBy: []store.Dimension{store.ByAgent}, Interval: time.Hour}, true},
		{"by tool, daily, one agent", store.StatsQuery{Filter: store.Filter{AgentID: "agent-2"}, GroupBy: []store.Dimension{store.ByTool}, Interval: 24 * time.Hour}, true},
		{"LLM calls by model and kind", store.StatsQuery{Filter: store.Filter{Kinds: llm}, GroupBy: []store.Dimension{store.ByModel, store.ByKind}}, true},
		{"by user, one agent", store.StatsQuery{Filter: store.Filter{AgentID: "agent-1"}, GroupBy: []store.Dimension{store.ByUser}}, true},
		{"one user by kind, hourly", store.StatsQuery{Filter: store.Filter{UserID: "user-3"}, GroupBy: []store.Dimension{store.ByKind}, Interval: time.Hour}, true},
		{"two whole hours by agent and kind", store.StatsQuery{Filter: store.Filter{OccurredAfter: h.Add(-3 * time.Hour), OccurredBefore: h.Add(-time.Hour)}, GroupBy: []store.Dimension{store.ByAgent, store.ByKind}}, true},
		{"errors only, by agent", store.StatsQuery{Filter: store.Filter{ErrorsOnly: true}, GroupBy: []store.Dimension{store.ByAgent}}, false},
		{"one session", store.StatsQuery{Filter: store.Filter{SessionID: "s-7"}, GroupBy: []store.Dimension{store.ByKind}}, false},
		{"off the hour", store.StatsQuery{Filter: store.Filter{OccurredAfter: h.Add(-150 * time.Minute)}, GroupBy: []store.Dimension{store.ByTool}, Interval: time.Hour}, false},
		{"users by tool", store.StatsQuery{GroupBy: []store.Dimension{store.ByUser, store.ByTool}}, false},
	}
}

// checkStats compares every query's answer with the brute-force count.
func checkStats(t *testing.T, s *store.Store, evs []*agenttrailv1.Event) {
	t.Helper()
	for _, tc := range statsQueries() {
		res, err := s.Stats(context.Background(), tc.q)
		if err != nil {
			t.Fatalf("%s: Stats: %v", tc.name, err)
		}
		if res.FromAggregates != tc.fromAggregates {
			t.Errorf("%s: from aggregates %v, want %v", tc.name, res.FromAggregates, tc.fromAggregates)
		}
		want := bruteForce(evs, tc.q)
		if len(res.Rows) != len(want) {
			t.Errorf("%s: %d rows, brute force %d", tc.name, len(res.Rows), len(want))
		}
		for _, row := range res.Rows {
			key := fmt.Sprint(row.Start.Unix())
			if row.Start.IsZero() {
				key = "0"
			}
			for _, d := range tc.q.GroupBy {
				switch d {
				case store.ByAgent:
					key += "|a=" + row.Key.Agent
				case store.ByModel:
					key += "|m=" + row.Key.Model
				case store.ByTool:
					key += "|t=" + row.Key.Tool
				case store.ByUser:
					key += "|u=" + row.Key.User
				case store.ByKind:
					key += fmt.Sprintf("|k=%d", row.Key.Kind)
				}
			}
			w := want[key]
			if w == nil {
				t.Errorf("%s: row %s not in the brute-force count", tc.name, key)
				continue
			}
			tot := row.Totals
			if tot.Events != w.events || tot.Failures != w.failures || row.LLMCalls != w.llm || row.ToolCalls != w.tools ||
				tot.InputTokens != w.in || tot.OutputTokens != w.out || tot.CacheReadTokens != w.cacheRead ||
				tot.CacheCreationTokens != w.cacheWrite || tot.ReasoningTokens != w.reasoned {
				t.Errorf("%s: row %s: got %+v (llm %d, tools %d), brute force %+v", tc.name, key, tot, row.LLMCalls, row.ToolCalls, *w)
			}
			for cur, v := range w.cost {
				if tot.Cost[cur] != v {
					t.Errorf("%s: row %s: cost %v, brute force %v", tc.name, key, tot.Cost, w.cost)
				}
			}
			checkQuantiles(t, tc.name+" "+key+" latency", &row.LLMLatency, w.latencies)
			checkQuantiles(t, tc.name+" "+key+" durations", &row.ToolDurations, w.durations)
		}
	}
}

// checkQuantiles holds a sketch's p50, p95 and p99 to the exact ones,
// within the sketch's relative accuracy.
func checkQuantiles(t *testing.T, name string, sk *sketch.Sketch, exact []time.Duration) {
	t.Helper()
	if sk.Count() != uint64(len(exact)) {
		t.Errorf("%s: sketch of %d values, %d exact", name, sk.Count(), len(exact))
		return
	}
	if len(exact) == 0 {
		return
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		got, want := sk.Quantile(q), exact[int(q*float64(len(exact)-1))]
		if math.Abs(float64(got-want)) > sketch.RelativeAccuracy*float64(want)+1 {
			t.Errorf("%s: p%v = %v, exact %v", name, q*100, got, want)
		}
	}
}

// appendInBatches appends events in calls of varying sizes, as many
// clients would, so that hours get many batches (deltas and rollups).
func appendInBatches(t *testing.T, s *store.Store, evs []*agenttrailv1.Event, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	for len(evs) > 0 {
		n := min(len(evs), 1+rng.IntN(40))
		AppendOK(t, s, evs[:n]...)
		evs = evs[n:]
	}
}

// Statistics answered from the aggregates (and from the headers, for the
// filters the aggregates cannot answer) equal a brute-force count of the
// events, before and after the store is reopened and appended to again,
// and verification recomputes the same aggregates.
func testStatsMatchBruteForce(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0))
	evs := StatsCorpus(3000, 6, 1)
	appendInBatches(t, s, evs, 1)
	checkStats(t, s, evs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = l.Open(t, store.WithCheckpointInterval(0))
	checkStats(t, s, evs)
	more := StatsCorpus(1500, 6, 2)
	appendInBatches(t, s, more, 2)
	evs = append(evs, more...)
	checkStats(t, s, evs)
	rep, err := s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() || rep.AggregateHours == 0 {
		t.Fatalf("Verify = %+v, %v; want the recomputed aggregates to agree", rep, err)
	}
}

// noAggregates drops the aggregates of every batch, as a build written
// before they existed did.
type noAggregates struct{ store.Driver }

func (d noAggregates) Commit(ctx context.Context, b *store.Batch) error {
	c := *b
	c.Aggregates = nil
	return d.Driver.Commit(ctx, &c)
}

// A log written without aggregates gets them when the engine next opens
// it, computed from the headers; verification reports them absent before,
// and agreeing after.
func testStatsOfAnOlderLog(t *testing.T, h Harness) {
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.New(context.Background(), noAggregates{d}, l.Options(store.WithCheckpointInterval(0))...)
	if err != nil {
		t.Fatal(err)
	}
	evs := StatsCorpus(800, 3, 3)
	appendInBatches(t, s, evs, 3)
	vk := s.VerifierKey().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := store.VerifyStorage(context.Background(), l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	if err != nil || !rep.OK() || !rep.AggregatesAbsent {
		t.Fatalf("VerifyStorage of a log without aggregates = %+v, %v; want OK, aggregates absent", rep, err)
	}
	s = l.Open(t, store.WithCheckpointInterval(0))
	checkStats(t, s, evs)
	more := StatsCorpus(300, 3, 4)
	appendInBatches(t, s, more, 4)
	checkStats(t, s, append(evs, more...))
	rep, err = s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() || rep.AggregatesAbsent {
		t.Fatalf("Verify after the engine computed the aggregates = %+v, %v", rep, err)
	}
}

// Verification recomputes the aggregates and names the hour whose stored
// cells were changed, though every event still verifies.
func testVerifyFindsTamperedStats(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Skip("the driver offers no tampering")
	}
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0))
	appendInBatches(t, s, StatsCorpus(400, 2, 5), 5)
	vk := s.VerifierKey().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tp, err := h.Tamper(l.URL, l.MasterKey(t).StorageKey())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := tp.AggregateRecords()
	if err != nil || len(recs) == 0 {
		t.Fatalf("AggregateRecords: %d, %v", len(recs), err)
	}
	// Inflate a cell of every record of one cube and hour: whichever of
	// them readers use.
	target := recs[len(recs)-1]
	for _, r := range recs {
		if r.Cube != target.Cube || r.Hour != target.Hour {
			continue
		}
		cells, err := store.UnmarshalCells(r.Cells)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range cells {
			a.Events += 1000
			break
		}
		r.Cells, _ = cells.MarshalBinary()
		if err := tp.SetAggregateRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := store.VerifyStorage(context.Background(), l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	if err != nil || rep.Problem != nil || rep.AggregateProblem == "" || rep.OK() {
		t.Fatalf("VerifyStorage after an aggregate was changed = %+v, %v; want the events to verify and the statistics not", rep, err)
	}
}
