package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// sampleLog appends 6 events: session s1 (agent a1) at indexes 0-2, an
// hour apart from session s2 (agent a2) at 3-5, with a failed refund at 5
// and an LLM call at 4.
func sampleLog(t *testing.T, s *cliServer) time.Time {
	t.Helper()
	early := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	late := early.Add(2 * time.Hour)
	failed := toolEvent("e5", "s2", "a2", "refund", 3, late)
	failed.GetToolCall().Outcome = agenttrailv1.ToolOutcome_TOOL_OUTCOME_ERROR
	llm := &agenttrailv1.Event{EventId: eventtest.ID("e4"), SessionId: "s2", AgentId: "a2", Step: 2, OccurredAt: toolEvent("", "", "", "", 0, late).OccurredAt,
		Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{RequestModel: "gpt-4.1-mini", InputTokens: 10, OutputTokens: 5}}}
	s.appendEvents(t,
		toolEvent("e0", "s1", "a1", "search", 1, early),
		toolEvent("e1", "s1", "a1", "lookup", 2, early),
		toolEvent("e2", "s1", "a1", "search", 3, early),
		toolEvent("e3", "s2", "a2", "search", 1, late),
		llm,
		failed,
	)
	return late
}

func TestQueryFlags(t *testing.T) {
	s := startCLIServer(t)
	late := sampleLog(t, s)
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"0", "1", "2", "3", "4", "5"}},
		{[]string{"--session", "s2"}, []string{"3", "4", "5"}},
		{[]string{"--agent", "a1"}, []string{"0", "1", "2"}},
		{[]string{"--user", "nobody"}, nil},
		{[]string{"--tool", "search"}, []string{"0", "2", "3"}},
		{[]string{"--kind", "llm_call"}, []string{"4"}},
		{[]string{"--kind", "LLM_CALL,tool_call", "--session", "s2"}, []string{"3", "4", "5"}},
		{[]string{"--kind", "llm_call", "--kind", "EVENT_KIND_TOOL_CALL", "--agent", "a1"}, []string{"0", "1", "2"}},
		{[]string{"--errors-only"}, []string{"5"}},
		{[]string{"--since", "90m"}, []string{"3", "4", "5"}},
		{[]string{"--until", "90m"}, []string{"0", "1", "2"}},
		{[]string{"--since", late.Format(time.RFC3339), "--until", late.Add(time.Second).Format(time.RFC3339)}, []string{"3", "4", "5"}},
		{[]string{"--from-index", "2", "--to-index", "4"}, []string{"2", "3"}},
		{[]string{"--desc", "--limit", "2"}, []string{"5", "4"}},
		{[]string{"--resume-after", "3"}, []string{"4", "5"}},
		{[]string{"--desc", "--resume-after", "3"}, []string{"2", "1", "0"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := runCLI(t, append([]string{"query", "--addr", s.addr}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit status %d: %s", code, errOut)
			}
			if got := entryIndexes(t, out); !slices.Equal(got, tt.want) {
				t.Errorf("got indexes %v, want %v", got, tt.want)
			}
		})
	}
}

func TestQueryTable(t *testing.T) {
	s := startCLIServer(t)
	sampleLog(t, s)
	out, errOut, code := runCLI(t, "query", "--addr", s.addr, "--session", "s2", "--output", "table")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"INDEX   TIME                 KIND           SESSION                              AGENT            SUMMARY",
		"3 tool_call s2 a2 search success",
		"4 llm_call s2 a2 gpt-4.1-mini tokens=10/5",
		"5 tool_call s2 a2 refund error",
	}
	if len(rows) != len(want) || rows[0] != want[0] {
		t.Fatalf("table:\n%s", out)
	}
	for i, w := range want[1:] {
		fields := strings.Fields(rows[i+1])
		got := strings.Join(append(fields[:1:1], fields[2:]...), " ") // without the time
		if got != w {
			t.Errorf("row %d: %q, want %q", i+1, got, w)
		}
	}
}

func TestQueryUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--kind", "llm"},
		{"--since", "yesterday"},
		{"--since", "-1h"},
		{"--since", "1h", "--until", "2h"},
		{"--from-index", "5", "--to-index", "5"},
		{"--from-index", "-1"},
		{"--output", "yaml"},
		{"extra"},
	} {
		_, errOut, code := runCLI(t, append([]string{"query", "--addr", "127.0.0.1:1"}, args...)...)
		if code != 2 {
			t.Errorf("%q: exit status %d, want 2 (%s)", args, code, errOut)
		}
	}
}

// lockedBuffer is an output that a test reads while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the output holds want.
func waitFor(t *testing.T, out *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q:\n%s", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTail(t *testing.T) {
	s := startCLIServer(t)
	now := time.Now().Add(-time.Minute)
	s.appendEvents(t, toolEvent("old-1", "tail-s", "a", "search", 1, now), toolEvent("other", "elsewhere", "a", "search", 1, now))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"tail", "--addr", s.addr, "--session", "tail-s", "--output", "table"}, &out, &errOut)
	}()
	waitFor(t, &out, "search success") // the stored match came
	s.appendEvents(t, toolEvent("new-2", "tail-s", "a", "lookup", 2, now), toolEvent("other-2", "elsewhere", "a", "x", 2, now))
	waitFor(t, &out, "lookup success")
	s.appendEvents(t, toolEvent("new-3", "tail-s", "a", "refund", 3, now))
	waitFor(t, &out, "refund success")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("tail ended with status %d after Ctrl-C, want 0: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not end on cancel")
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(rows) != 4 || strings.Contains(out.String(), "elsewhere") {
		t.Errorf("tail printed:\n%s\nwant a header and the 3 events of session tail-s", out.String())
	}
}

func TestGetCheckpointProve(t *testing.T) {
	s := startCLIServer(t)
	now := time.Now().Add(-time.Minute)
	s.appendEvents(t, toolEvent("g0", "s", "a", "search", 1, now), toolEvent("g1", "s", "a", "search", 2, now))
	s.appendEvents(t, toolEvent("g2", "s", "a", "search", 3, now), toolEvent("g3", "s", "a", "search", 4, now), toolEvent("g4", "s", "a", "search", 5, now))
	_, otherKey, _ := noteKey(t)
	// Batches end at sizes 2 and 5 at least (each append waits for its
	// receipts); find a size without a checkpoint, if the store made one.
	noCheckpoint := ""
	for size := uint64(1); size < 5 && noCheckpoint == ""; size++ {
		if _, err := s.c.CheckpointAt(context.Background(), size); status.Code(err) == codes.NotFound {
			noCheckpoint = fmt.Sprint(size)
		}
	}

	type check struct {
		args   []string
		code   int
		stdout []string // substrings
		stderr []string
	}
	for _, tt := range []check{
		{[]string{"get", "--id", eventtest.ID("g1")}, 0, []string{`"event_id":"` + eventtest.ID("g1") + `"`, `"log_index":"1"`}, nil},
		{[]string{"get", "--index", "3", "--output", "table"}, 0, []string{"3 ", "tool_call"}, nil},
		{[]string{"get", "--id", "missing"}, 1, nil, []string{"NotFound"}},
		{[]string{"get"}, 2, nil, []string{"exactly one of --id and --index"}},
		{[]string{"get", "--id", eventtest.ID("g1"), "--index", "1"}, 2, nil, nil},
		{[]string{"checkpoint"}, 0, []string{"origin:    " + cliOrigin, "tree size: 5", "not checked", "— " + cliOrigin}, nil},
		{[]string{"checkpoint", "--size", "2", "--verifier-key", s.vkey, "--output", "json"}, 0, []string{`"tree_size":2`, `"verified_with":"` + s.vkey}, nil},
		{[]string{"checkpoint", "--size", noCheckpoint}, 1, nil, []string{"NotFound"}},
		{[]string{"checkpoint", "--verifier-key", otherKey}, 1, nil, []string{"does not verify", "no signature"}},
		{[]string{"checkpoint", "--verifier-key", "garbage"}, 2, nil, []string{"--verifier-key"}},
		{[]string{"prove", "--index", "3", "--verifier-key", s.vkey}, 0, []string{"event 3 (" + eventtest.ID("g3") + ") is in the log of 5 events", "proof:      3 hashes"}, nil},
		{[]string{"prove", "--index", "1", "--size", "2", "--verifier-key", s.vkey, "--output", "json"}, 0, []string{`"kind":"inclusion"`, `"tree_size":2`}, nil},
		{[]string{"prove", "--index", "1"}, 0, []string{"event 1 (" + eventtest.ID("g1") + ")"}, []string{"trust on first use"}},
		{[]string{"prove", "--index", "0", "--size", noCheckpoint, "--verifier-key", s.vkey}, 2, nil, []string{"no checkpoint was signed at that size"}},
		{[]string{"prove", "--index", "7", "--verifier-key", s.vkey}, 1, nil, []string{"InvalidArgument"}},
		{[]string{"prove", "--index", "1", "--verifier-key", otherKey}, 1, nil, []string{"no signature"}},
		{[]string{"prove", "--from", "2", "--verifier-key", s.vkey}, 0, []string{"the log of 2 events is a prefix of the log of 5 events"}, nil},
		{[]string{"prove", "--from", "2", "--to", "5", "--verifier-key", s.vkey}, 0, []string{"prefix of the log of 5 events"}, nil},
		{[]string{"prove", "--from", noCheckpoint, "--verifier-key", s.vkey}, 2, nil, []string{"--from " + noCheckpoint + ": no checkpoint"}},
		{[]string{"prove", "--from", "0"}, 2, nil, nil},
		{[]string{"prove", "--index", "1", "--from", "2"}, 2, nil, nil},
		{[]string{"prove"}, 2, nil, nil},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if slices.Contains(tt.args, "") {
				t.Skip("every batch was one event: every size has a checkpoint")
			}
			args := append([]string{tt.args[0], "--addr", s.addr}, tt.args[1:]...)
			out, errOut, code := runCLI(t, args...)
			if code != tt.code {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}
