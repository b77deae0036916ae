package main

import (
	"context"
	"slices"
	"testing"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

// The example leaves a complete trail: every kind an agent logs, one failed
// tool call, one approved, the approval gating the refund.
func TestAgentLoopLeavesACompleteTrail(t *testing.T) {
	ts := servertest.New(t, servertest.Config{StoreOptions: []store.Option{store.WithCheckpointInterval(0)}})
	c, err := client.New(ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := runAgent(context.Background(), c, "Please refund order 1234")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []agenttrailv1.EventKind
	var refundID, gated string
	failed := 0
	for e, err := range c.Query(context.Background(), &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: id}}) {
		if err != nil {
			t.Fatal(err)
		}
		ev := e.GetEvent()
		kinds = append(kinds, event.KindOf(ev))
		if tc := ev.GetToolCall(); tc != nil {
			if tc.GetOutcome() != agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS {
				failed++
			}
			if tc.GetToolName() == "payments.refund" {
				refundID = ev.GetEventId()
			}
		}
		if a := ev.GetHumanApproval(); a != nil {
			gated = a.GetGatedEventId()
		}
	}
	for k := agenttrailv1.EventKind_EVENT_KIND_SESSION_START; k <= agenttrailv1.EventKind_EVENT_KIND_SESSION_END; k++ {
		if !slices.Contains(kinds, k) {
			t.Errorf("the trail has no %v event: %v", k, kinds)
		}
	}
	if failed != 1 {
		t.Errorf("%d failed tool calls, want 1", failed)
	}
	if gated == "" || gated != refundID {
		t.Errorf("the approval gates %q, the refund is %q", gated, refundID)
	}
}
