package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

func TestAppendMixedFile(t *testing.T) {
	s := startCLIServer(t)
	now := time.Now().Add(-time.Minute)
	a := toolEvent("ev-a", "sess-1", "agent-1", "search", 1, now)
	b := toolEvent("ev-b", "sess-1", "agent-1", "search", 2, now)
	changed := proto.Clone(a).(*agenttrailv1.Event)
	changed.GetToolCall().ToolName = "rm -rf"
	noPayload := proto.Clone(b).(*agenttrailv1.Event)
	noPayload.EventId, noPayload.Payload = eventtest.ID("ev-nopayload"), nil
	file := writeFile(t, "events.jsonl",
		jsonLine(t, a),
		`{"event_id": "broken",`,
		"",
		jsonLine(t, noPayload),
		jsonLine(t, b),
		jsonLine(t, changed),
		jsonLine(t, a),
		`{"event_id": "x", "no_such_field": 1}`,
	)
	out, errOut, code := runCLI(t, "append", "--addr", s.addr, file)
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr: %s", code, errOut)
	}
	if !strings.Contains(errOut, "4 of 7 events not appended") {
		t.Errorf("stderr %q, want the count of events not appended", errOut)
	}
	lines := jsonLines(t, out)
	want := []struct {
		line      float64
		id        string
		index     any // float64 log index of a receipt, or nil for a failure
		duplicate bool
		code      string
		field     string
	}{
		{1, eventtest.ID("ev-a"), 0.0, false, "", ""},
		{2, "", nil, false, "INVALID_ARGUMENT", ""},
		{4, eventtest.ID("ev-nopayload"), nil, false, "INVALID_ARGUMENT", "event.payload"},
		{5, eventtest.ID("ev-b"), 1.0, false, "", ""},
		{6, eventtest.ID("ev-a"), nil, false, "ALREADY_EXISTS", ""},
		{7, eventtest.ID("ev-a"), 0.0, true, "", ""},
		{8, "", nil, false, "INVALID_ARGUMENT", ""},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d result lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		l := lines[i]
		if l["line"] != w.line || l["event_id"] != nil && l["event_id"] != w.id || w.id != "" && l["event_id"] != w.id {
			t.Errorf("result %d: %v, want line %v event %q", i, l, w.line, w.id)
		}
		if w.code == "" {
			if l["log_index"] != w.index || l["duplicate"] != w.duplicate || len(l["leaf_hash"].(string)) != 64 || l["code"] != nil {
				t.Errorf("result %d: %v, want a receipt at %v (duplicate %v)", i, l, w.index, w.duplicate)
			}
			continue
		}
		if l["code"] != w.code || l["message"] == nil || l["log_index"] != nil || w.field != "" && l["field"] != w.field {
			t.Errorf("result %d: %v, want code %s field %q", i, l, w.code, w.field)
		}
	}
}

func TestAppendAllAcceptedTable(t *testing.T) {
	s := startCLIServer(t)
	now := time.Now().Add(-time.Minute)
	var lines []string
	for i := range 40 {
		lines = append(lines, jsonLine(t, toolEvent(fmt.Sprintf("t-%03d", i), "sess", "agent", "search", uint32(i+1), now)))
	}
	file := writeFile(t, "events.jsonl", lines...)
	out, errOut, code := runCLI(t, "append", "--addr", s.addr, "--in-flight", "3", "--output", "table", file)
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 41 || !strings.HasPrefix(rows[0], "LINE") || !strings.Contains(rows[40], "appended") || !strings.HasPrefix(rows[40], "40     39") {
		t.Errorf("table:\n%s", out)
	}
}

func TestAppendUsage(t *testing.T) {
	tests := [][]string{
		{"append", "a", "b"},
		{"append", "--in-flight", "0", "x"},
		{"append", "--output", "yaml"},
		{"append", "--tls-cert", "c.pem"},
		{"append", "--insecure", "--tls"},
		{"append", "--addr", "10.1.2.3:7700", "--insecure", "--key", "k-secret"},
		{"append", "--addr", "nohost"},
	}
	for _, args := range tests {
		f := writeFile(t, "e.jsonl", "")
		_, errOut, code := runCLI(t, append(args, f)...)
		if code != 2 {
			t.Errorf("%q: exit status %d, want 2 (%s)", args, code, errOut)
		}
		if strings.Contains(errOut, "k-secret") {
			t.Errorf("%q: the key is in the error: %s", args, errOut)
		}
	}
}

// failingWriter accepts n writes, then fails, as a closed pipe does.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("broken pipe")
	}
	w.n--
	return len(p), nil
}

func TestAppendOutputFails(t *testing.T) {
	s := startCLIServer(t)
	var lines []string
	for i := range 500 {
		lines = append(lines, jsonLine(t, toolEvent(fmt.Sprintf("o-%03d", i), "sess", "agent", "search", uint32(i+1), time.Now().Add(-time.Minute))))
	}
	file := writeFile(t, "events.jsonl", lines...)
	done := make(chan int, 1)
	var errOut strings.Builder
	go func() {
		done <- run(context.Background(), []string{"append", "--addr", s.addr, "--in-flight", "4", file}, &failingWriter{n: 1}, &errOut)
	}()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(errOut.String(), "broken pipe") {
			t.Errorf("exit status %d, stderr %q; want 1 and the write error", code, errOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("append hung after its output failed")
	}
}
