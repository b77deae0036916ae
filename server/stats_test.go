package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func TestStatsForEveryReadingRole(t *testing.T) {
	h := startSecure(t)
	evs := agentEvents()
	appendAs(t, h, "agent", evs)
	stats := agenttrailv1.NewStatsServiceClient(h.conn)
	byKind := &agenttrailv1.StatsRequest{GroupBy: []agenttrailv1.StatsDimension{agenttrailv1.StatsDimension_STATS_DIMENSION_KIND}}
	count := func(resp *agenttrailv1.StatsResponse, k agenttrailv1.EventKind) uint64 {
		for _, r := range resp.GetRows() {
			if r.GetKind() == k {
				return r.GetEvents()
			}
		}
		return 0
	}
	// Reads by compliance are recorded, so access events exist (once the
	// record, appended in the background, commits).
	before, _ := h.st.Size()
	if _, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{}); err != nil {
		t.Fatal(err)
	}
	for try := 0; try < 100; try++ {
		if n, _ := h.st.Size(); n > before {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, who := range []string{"developer", "compliance", "admin"} {
		resp, err := stats.Stats(h.as(who), byKind)
		if err != nil {
			t.Fatalf("Stats as %s: %v", who, err)
		}
		if !resp.GetFromAggregates() || count(resp, agenttrailv1.EventKind_EVENT_KIND_LLM_CALL) == 0 {
			t.Errorf("Stats as %s: %v", who, resp)
		}
		access := count(resp, agenttrailv1.EventKind_EVENT_KIND_ACCESS)
		if who == "developer" && access != 0 || who == "compliance" && access == 0 {
			t.Errorf("Stats as %s counts %d access events", who, access)
		}
	}
	if _, err := stats.Stats(h.as("developer"), &agenttrailv1.StatsRequest{Filter: &agenttrailv1.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ACCESS}}}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a developer's stats of access events: %v, want PermissionDenied", err)
	}
	if _, err := stats.Stats(h.as("agent"), byKind); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Stats as an agent: %v, want PermissionDenied", err)
	}
	for _, bad := range []*agenttrailv1.StatsRequest{
		{GroupBy: []agenttrailv1.StatsDimension{99}},
		{Interval: 7},
		{Filter: &agenttrailv1.Filter{AgentId: "not an id"}},
	} {
		if _, err := stats.Stats(h.as("compliance"), bad); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Stats(%v): %v, want InvalidArgument", bad, err)
		}
	}
	// The call is recorded as a read, with its filter.
	resp, err := stats.Stats(h.as("admin"), &agenttrailv1.StatsRequest{Filter: &agenttrailv1.Filter{AgentId: "support-agent"}})
	if err != nil || len(resp.GetRows()) != 1 || resp.GetRows()[0].GetEvents() != uint64(len(evs)) {
		t.Fatalf("Stats of the agent: %v, %v", resp, err)
	}
	// Access records commit in the background: look for a while.
	found := false
	for try := 0; try < 50 && !found; try++ {
		time.Sleep(20 * time.Millisecond)
		entries, err := queryAs(t, h, "compliance", &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ACCESS}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if a := e.GetEvent().GetAccess(); a.GetRpc() == agenttrailv1.StatsService_Stats_FullMethodName && a.GetRole() == "admin" && a.GetFilter().GetAgentId() == "support-agent" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no access record of the admin's Stats call")
	}
}
