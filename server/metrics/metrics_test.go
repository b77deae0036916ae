package metrics_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/server/metrics"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)} }

// feed appends perMinute events of an agent in each of minutes minutes,
// one in ten a failure.
func feed(v *metrics.Volume, c *clock, agent string, perMinute, minutes int) {
	for range minutes {
		for i := range perMinute {
			v.Observe(agent, i%10 == 0)
		}
		c.advance(time.Minute)
	}
}

func reading(t *testing.T, v *metrics.Volume, agent string) metrics.AgentVolume {
	t.Helper()
	for _, r := range v.Snapshot() {
		if r.Agent == agent {
			return r
		}
	}
	t.Fatalf("no reading for %s", agent)
	return metrics.AgentVolume{}
}

func TestVolumeBaselineAndSpike(t *testing.T) {
	c := newClock()
	v := metrics.NewVolume(metrics.VolumeOptions{Now: c.now})
	feed(v, c, "steady", 20, 30)
	r := reading(t, v, "steady")
	if r.LastMinute != 20 || math.Abs(r.Baseline-20) > 0.5 || r.Spike || r.FailuresLastMinute != 2 {
		t.Errorf("steady agent: %+v, want 20 a minute, baseline 20, no spike, 2 failures", r)
	}
	feed(v, c, "steady", 400, 1)
	if r = reading(t, v, "steady"); r.LastMinute != 400 || !r.Spike {
		t.Errorf("after a burst: %+v, want a spike", r)
	}
	// The same burst from an agent too new for a baseline is no spike.
	feed(v, c, "newcomer", 400, 1)
	if r = reading(t, v, "newcomer"); !math.IsNaN(r.Baseline) || r.Spike {
		t.Errorf("new agent: %+v, want no baseline and no spike", r)
	}
	// A quiet agent rising from 1 to 30 a minute is under the floor.
	feed(v, c, "quiet", 1, 20)
	feed(v, c, "quiet", 30, 1)
	if r = reading(t, v, "quiet"); r.Spike {
		t.Errorf("quiet agent: %+v, want no spike under 60 events", r)
	}
	// An hour of silence forgets an agent.
	c.advance(2 * time.Hour)
	if n := len(v.Snapshot()); n != 0 {
		t.Errorf("%d agents tracked after two silent hours", n)
	}
}

func TestVolumeIsBounded(t *testing.T) {
	c := newClock()
	v := metrics.NewVolume(metrics.VolumeOptions{Now: c.now, MaxAgents: 50})
	for i := range 500 {
		v.Observe(fmt.Sprintf("agent-%d", i), false)
		c.advance(time.Second)
	}
	snap := v.Snapshot()
	if len(snap) != 50 {
		t.Fatalf("%d agents tracked, want the bound, 50", len(snap))
	}
	for _, r := range snap {
		var n int
		fmt.Sscanf(r.Agent, "agent-%d", &n)
		if n < 450 {
			t.Errorf("%s kept, want only the 50 most recently active", r.Agent)
		}
	}
}

// logState is a LogState to test WatchStore with.
type logState struct{ size, cp uint64 }

func (l logState) Size() uint64           { return l.size }
func (l logState) CheckpointSize() uint64 { return l.cp }
func (l logState) Watch() <-chan struct{} { return make(chan struct{}) }

// scrape reads /metrics as Prometheus would, in the text format.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	web := httptest.NewServer(m.Handler())
	defer web.Close()
	resp, err := web.Client().Get(web.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	return string(b)
}

var sample = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? `)

func TestScrapeNamesAndCardinality(t *testing.T) {
	c := newClock()
	v := metrics.NewVolume(metrics.VolumeOptions{Now: c.now})
	m, err := metrics.New(metrics.Options{TopAgents: 3, Volume: v})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchStore(context.Background(), logState{size: 120, cp: 100}, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		for range i + 1 {
			m.Event(fmt.Sprintf("agent-%02d", i), "tool_call", "stored", "", i%2 == 0)
		}
	}
	m.Event("x", "llm_call", "rejected", "InvalidArgument", false)
	m.Event("x", "llm_call", "duplicate", "", false)
	m.Ack(3 * time.Millisecond)
	m.Read("developer", "Query")
	m.Tail("compliance", 1)
	m.Redaction(time.Millisecond)
	m.OTLPSpans(5, 2)
	m.WitnessLag("witness.example", 42*time.Second)
	m.Commit(256, 4*time.Millisecond)
	c.advance(time.Minute)
	text := scrape(t, m)

	agents := map[string]bool{}
	names := map[string]bool{}
	for _, s := range sample.FindAllStringSubmatch(text, -1) {
		names[s[1]] = true
		if !strings.HasPrefix(s[1], "agenttrail_") {
			t.Errorf("metric %s lacks the agenttrail_ prefix", s[1])
		}
		if a := regexp.MustCompile(`agent="([^"]*)"`).FindStringSubmatch(s[2]); a != nil {
			agents[a[1]] = true
		}
	}
	want := []string{"agent-39", "agent-38", "agent-37", "other"}
	var got []string
	for a := range agents {
		got = append(got, a)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("agent label values %v, want the 3 busiest and other: %v", got, want)
	}
	for _, line := range []string{
		`agenttrail_events_appended_total{kind="tool_call",outcome="stored"} 820`,
		`agenttrail_events_appended_total{kind="llm_call",outcome="duplicate"} 1`,
		`agenttrail_events_rejected_total{code="InvalidArgument"} 1`,
		`agenttrail_failure_events_total{kind="tool_call"} 400`,
		`agenttrail_agent_events_last_minute{agent="agent-39"} 40`,
		`agenttrail_agent_events_last_minute{agent="other"} 703`,
		`agenttrail_reads_total{role="developer",rpc="Query"} 1`,
		`agenttrail_tails_open{role="compliance"} 1`,
		`agenttrail_otlp_spans_total{outcome="rejected"} 2`,
		`agenttrail_witness_lag_seconds{witness="witness.example"} 42`,
		`agenttrail_log_size 120`,
		`agenttrail_checkpoint_lag_events 20`,
		`agenttrail_append_ack_seconds_count 1`,
		`agenttrail_redaction_seconds_count 1`,
		`agenttrail_agents_tracked 40`,
		`agenttrail_store_commit_seconds_count 1`,
		`agenttrail_store_batch_events_sum 256`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("the scrape lacks %q", line)
		}
	}
	for _, name := range []string{"agenttrail_disk_free_bytes", "agenttrail_disk_size_bytes", "agenttrail_store_bytes", "agenttrail_checkpoint_age_seconds", "agenttrail_go_goroutines", "agenttrail_process_resident_memory_bytes"} {
		if !names[name] {
			t.Errorf("the scrape lacks %s", name)
		}
	}

	// Every metric the alert rules use is one agenttrail exports.
	rules, err := os.ReadFile("../../docs/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, used := range regexp.MustCompile(`agenttrail_[a-z_]+`).FindAllString(string(rules), -1) {
		if !names[used] && !names[strings.TrimSuffix(used, "_total")+"_total"] {
			t.Errorf("docs/alerts.yml uses %s, which is not exported", used)
		}
	}
}
