package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/metrics"
)

// What the server does shows in a scrape of its metrics.
func TestMetricsRecordWhatTheServerDoes(t *testing.T) {
	m, err := metrics.New(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := startSecure(t, server.WithMetrics(m))
	evs := agentEvents()
	appendAs(t, h, "agent", evs)
	appendAs(t, h, "agent", evs[:2]) // duplicates
	bad := agentEvents()[0]
	bad.AgentId = "billing-agent" // outside the key's scope
	appendAs(t, h, "agent", []*agenttrailv1.Event{bad})
	if _, err := coltracepb.NewTraceServiceClient(h.conn).Export(h.as("agent"), agentTrace()); err != nil {
		t.Fatal(err)
	}
	if _, err := queryAs(t, h, "developer", &agenttrailv1.QueryRequest{}); err != nil {
		t.Fatal(err)
	}
	// A live tail, open while the scrape is taken.
	ctx, cancel := context.WithCancel(h.as("compliance"))
	defer cancel()
	tail, err := h.query.Query(ctx, &agenttrailv1.QueryRequest{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := tail.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetCaughtUp() != nil {
			break
		}
	}

	web := httptest.NewServer(m.Handler())
	defer web.Close()
	var text string
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := web.Client().Get(web.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		if strings.Contains(text, `agenttrail_tails_open{role="compliance"} 1`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stored := len(evs) + 6 // the session, and the OTLP run's six events
	for _, want := range []string{
		`agenttrail_events_appended_total{kind="tool_call",outcome="stored"}`,
		`agenttrail_events_appended_total{kind="session_start",outcome="duplicate"} 1`,
		`agenttrail_events_rejected_total{code="PermissionDenied"} 2`, // the append and the OTLP span
		`agenttrail_otlp_spans_total{outcome="accepted"} 3`,
		`agenttrail_otlp_spans_total{outcome="rejected"} 2`,
		`agenttrail_reads_total{role="developer",rpc="Query"} 1`,
		`agenttrail_tails_open{role="compliance"} 1`,
		`agenttrail_agent_events_last_minute{agent="support-agent"}`,
		`agenttrail_agents_tracked 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
	var total float64
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, `agenttrail_events_appended_total{`) && strings.Contains(line, `outcome="stored"`) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += v
			}
		}
	}
	if int(total) != stored {
		t.Errorf("%v events counted stored, want %d", total, stored)
	}
	if !strings.Contains(text, "agenttrail_redaction_seconds_count") || strings.Contains(text, "agenttrail_redaction_seconds_count 0\n") {
		t.Errorf("the developer's query recorded no redaction time")
	}
}
