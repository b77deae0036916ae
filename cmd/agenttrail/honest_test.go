package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
)

// startSecureCLIServer starts a server that checks API keys, and returns
// it with keys of the roles: "agent" (scoped to support-agent),
// "developer" and "compliance".
func startSecureCLIServer(t *testing.T) (*cliServer, map[string]string) {
	t.Helper()
	return startCLIServerWithKeys(t, map[string]auth.KeySpec{
		"agent":      {Principal: "support-bot", Role: auth.Agent, AgentID: "support-agent"},
		"developer":  {Principal: "dev", Role: auth.Developer},
		"compliance": {Principal: "auditor", Role: auth.Compliance},
	})
}

// startCLIServerWithKeys starts a server that checks API keys and redacts
// with the default policy, and returns it with a key of each spec, by name.
func startCLIServerWithKeys(t *testing.T, specs map[string]auth.KeySpec) (*cliServer, map[string]string) {
	t.Helper()
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	var st *store.Store
	s := startCLIServer(t, server.WithAccessControlFunc(func(s *store.Store) (*auth.Authenticator, server.EventRedactor, error) {
		st = s
		a, err := auth.New(s, nil, nil)
		return a, red, err
	}))
	keys := map[string]string{}
	for name, spec := range specs {
		_, secret, err := auth.CreateKey(context.Background(), st, spec, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keys[name] = secret
	}
	return s, keys
}

// result is one line of append's output, decoded.
type result = map[string]any

// appendLinesAs runs append with a key over lines and returns the decoded
// results, stderr and the exit status.
func appendLinesAs(t *testing.T, addr, key string, lines ...string) ([]result, string, int) {
	t.Helper()
	args := []string{"append", "--addr", addr}
	if key != "" {
		args = append(args, "--key", key)
	}
	args = append(args, writeFile(t, "events.jsonl", lines...))
	out, errOut, code := runCLI(t, args...)
	return jsonLines(t, out), errOut, code
}

// A refusal says why, and advises sending again only where that can
// succeed: a wrong key or a role that may not append is not retried.
func TestAppendRefusalsSayWhyWithoutFalseRetryAdvice(t *testing.T) {
	s, keys := startSecureCLIServer(t)
	now := time.Now().Add(-time.Minute)
	ev := func(name, agent string, step uint32) string {
		return jsonLine(t, toolEvent(name, "s-1", agent, "search", step, now))
	}
	for _, tt := range []struct {
		name, key, code, stderr string
	}{
		{"wrong key", "at_0000000000000000_not-a-key", "UNAUTHENTICATED", "check the API key"},
		{"reader key", keys["developer"], "PERMISSION_DENIED", "needs a key of role agent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, errOut, code := appendLinesAs(t, s.addr, tt.key, ev(tt.name+"-1", "support-agent", 1), ev(tt.name+"-2", "support-agent", 2))
			if code != 1 || !strings.Contains(errOut, tt.code) || !strings.Contains(errOut, tt.stderr) || !strings.Contains(errOut, "0 of ") {
				t.Errorf("exit status %d, stderr %q: want 1, naming %s and what to do", code, errOut, tt.code)
			}
			// The second line is reported too, unless the stream had
			// ended before it was read.
			if len(res) != 2 && (len(res) != 1 || !strings.Contains(errOut, "input after line 1 was not read")) {
				t.Fatalf("%d result lines, want 2: %v; stderr %s", len(res), res, errOut)
			}
			for i, r := range res {
				msg, _ := r["message"].(string)
				if r["code"] != tt.code || !strings.Contains(msg, "the server refused the stream") || strings.Contains(msg, "again") {
					t.Errorf("line %d: %v, want %s, the stream refused, and no advice to send it again", i+1, r, tt.code)
				}
			}
		})
	}

	// An event outside the key's scope is refused alone, naming the scope.
	res, _, code := appendLinesAs(t, s.addr, keys["agent"], ev("in-scope", "support-agent", 1), ev("out-of-scope", "support-bot", 2), ev("in-scope-2", "support-agent", 3))
	if code != 1 || len(res) != 3 || res[0]["log_index"] == nil || res[2]["log_index"] == nil {
		t.Fatalf("exit status %d, results %v: want the in-scope events appended", code, res)
	}
	if msg, _ := res[1]["message"].(string); res[1]["code"] != "PERMISSION_DENIED" || !strings.Contains(msg, `agent_id "support-agent" only`) || strings.Contains(msg, "again") {
		t.Errorf("out-of-scope event: %v, want PERMISSION_DENIED naming the allowed agent id", res[1])
	}

	// Malformed events name the field and the accepted form; a missing
	// agent_id is missing, not out of scope.
	notUUID := toolEvent("x", "s-1", "support-agent", "search", 4, now)
	notUUID.EventId = "not-a-uuid"
	noID := jsonLine(t, notUUID)
	noStep := jsonLine(t, toolEvent("no-step", "s-1", "support-agent", "search", 0, now))
	noAgent := jsonLine(t, toolEvent("no-agent", "s-1", "", "search", 5, now))
	res, _, _ = appendLinesAs(t, s.addr, keys["agent"], noID, noStep, noAgent)
	for i, want := range []struct{ field, text string }{
		{"event.event_id", "must be a UUID"},
		{"event.step", "is required"},
		{"event.agent_id", "is required"},
	} {
		if msg, _ := res[i]["message"].(string); res[i]["code"] != "INVALID_ARGUMENT" || res[i]["field"] != want.field || !strings.Contains(msg, want.text) {
			t.Errorf("line %d: %v, want INVALID_ARGUMENT on %s: %s", i+1, res[i], want.field, want.text)
		}
	}
}

// Oversized events are refused one by one, naming their size and the
// limit, and the lines after them are appended on the same stream.
func TestAppendRefusesOversizedEventsOneByOne(t *testing.T) {
	s := startCLIServer(t)
	now := time.Now().Add(-time.Minute)
	small := toolEvent("small", "s", "a", "search", 1, now)
	huge := toolEvent("huge", "s", "a", "search", 2, now)
	huge.GetToolCall().Result = strings.Repeat("x", 5<<20)
	big := toolEvent("big", "s", "a", "search", 3, now)
	big.GetToolCall().Result = strings.Repeat("y", 2<<20)
	last := toolEvent("last", "s", "a", "search", 4, now)
	res, errOut, code := appendLinesAs(t, s.addr, "", jsonLine(t, small), jsonLine(t, huge), jsonLine(t, big), jsonLine(t, last))
	if code != 1 || !strings.Contains(errOut, "2 of 4 events not appended") {
		t.Errorf("exit status %d, stderr %q: want 1 and 2 of 4 not appended", code, errOut)
	}
	if len(res) != 4 {
		t.Fatalf("%d results, want 4: %v", len(res), res)
	}
	if res[0]["log_index"] != 0.0 || res[3]["log_index"] != 1.0 {
		t.Errorf("the events around the big ones: %v, %v: want log indexes 0 and 1", res[0], res[3])
	}
	hugeSize := proto.Size(&agenttrailv1.AppendRequest{Event: huge})
	for i, want := range []string{fmt.Sprintf("%d bytes encoded, over the 4194304 bytes", hugeSize), fmt.Sprintf("event: %d bytes encoded, over this server's limit of 1048576 bytes (1 MiB)", proto.Size(big))} {
		r := res[i+1]
		if msg, _ := r["message"].(string); r["code"] != "RESOURCE_EXHAUSTED" || !strings.Contains(msg, want) || strings.Contains(msg, "again") {
			t.Errorf("line %d: %v, want RESOURCE_EXHAUSTED: %q", i+2, r, want)
		}
	}
}

// With no server at the address, append fails at once, says so, and
// exits 1.
func TestAppendWithNoServerFails(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	started := time.Now()
	res, errOut, code := appendLinesAs(t, addr, "", jsonLine(t, toolEvent("e", "s", "a", "search", 1, time.Now())))
	if code != 1 || !strings.Contains(errOut, "UNAVAILABLE") || !strings.Contains(errOut, "is the server running") {
		t.Errorf("exit status %d, stderr %q: want 1 and UNAVAILABLE", code, errOut)
	}
	if len(res) > 1 || len(res) == 1 && res[0]["code"] != "UNAVAILABLE" {
		t.Errorf("results %v, want none, or one UNAVAILABLE", res)
	}
	if d := time.Since(started); d > 10*time.Second {
		t.Errorf("append took %v with no server, want a prompt failure", d)
	}
}
