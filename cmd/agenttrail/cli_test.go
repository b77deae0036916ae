package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
)

// cliServer is a real server on a loopback port over a store in a
// temporary directory, whose signing key the test holds.
type cliServer struct {
	addr   string
	dir    string
	vkey   string
	skey   string
	signer note.Signer
	c      *client.Client
	stop   func() // shuts the server down and closes the store; idempotent
}

const cliOrigin = "cli.test/agenttrail"

// noteKey generates a checkpoint signing key for the test origin.
func noteKey(t *testing.T) (skey, vkey string, signer note.Signer) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, cliOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	return skey, vkey, signer
}

// startCLIServer starts a server that signs a checkpoint with every batch.
func startCLIServer(t *testing.T, opts ...server.Option) *cliServer {
	t.Helper()
	skey, vkey, signer := noteKey(t)
	dir := t.TempDir()
	ts, err := servertest.Start(context.Background(), servertest.Config{
		Dir:           dir,
		SigningKey:    skey,
		StoreOptions:  []store.Option{store.WithOrigin(cliOrigin), store.WithCheckpointInterval(0)},
		ServerOptions: opts,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		c.Close()
		if err := ts.Close(); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
	}
	t.Cleanup(stop)
	return &cliServer{addr: ts.Addr, dir: dir, vkey: vkey, skey: skey, signer: signer, c: c, stop: stop}
}

// runCLI runs one command line through run and returns its outputs and
// exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIContext(context.Background(), args...)
}

func runCLIContext(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// toolEvent is a valid tool call event of a session.
func toolEvent(id, session, agent, tool string, step uint32, at time.Time) *agenttrailv1.Event {
	return &agenttrailv1.Event{
		EventId: id, SessionId: session, AgentId: agent, Step: step, OccurredAt: timestamppb.New(at),
		Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{
			ToolName: tool, Arguments: `{"q":"x"}`, Result: `{"ok":true}`, Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS,
		}},
	}
}

// appendEvents appends events through the client; each must be accepted.
func (s *cliServer) appendEvents(t *testing.T, evs ...*agenttrailv1.Event) {
	t.Helper()
	results, err := s.c.Append(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil {
			t.Fatalf("event %d: %v", i, r.Err)
		}
	}
}

// jsonLine is a protojson line of an event.
func jsonLine(t *testing.T, ev *agenttrailv1.Event) string {
	t.Helper()
	b, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFile writes lines to a file in a temporary directory.
func writeFile(t *testing.T, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonLines decodes each line of out into a map.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("output line %q is not JSON: %v", sc.Text(), err)
		}
		res = append(res, m)
	}
	return res
}

// entryIndexes returns the log indexes of JSON lines of entries.
func entryIndexes(t *testing.T, out string) []string {
	t.Helper()
	var idx []string
	for _, m := range jsonLines(t, out) {
		stamp, _ := m["stamp"].(map[string]any)
		i, ok := stamp["log_index"]
		if !ok {
			i = "0" // protojson leaves out zero values
		}
		idx = append(idx, fmt.Sprint(i))
	}
	return idx
}
