package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBinary builds the agenttrail binary and runs it as a user would:
// serve, append from stdin, query, stop the server with SIGINT, and verify
// its data directory offline. An agent key appends and a compliance key
// reads, both given in AGENTTRAIL_KEY.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	// The environment, without AGENTTRAIL_ settings that would change the
	// commands' flags.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTTRAIL_") {
			env = append(env, kv)
		}
	}
	command := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		return cmd
	}
	withKey := func(cmd *exec.Cmd, key string) *exec.Cmd {
		if key != "" {
			cmd.Env = append(cmd.Env, "AGENTTRAIL_KEY="+key)
		}
		return cmd
	}
	// From here on nothing should take more than seconds.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	data := filepath.Join(dir, "data")
	newKey := func(args ...string) string {
		out, err := command(ctx, append([]string{"keys", "create", "--data", data}, args...)...).Output()
		if err != nil {
			t.Fatalf("keys create %q: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	agentKey := newKey("--principal", "bin-agent", "--role", "agent", "--agent-id", "bin-agent")
	readerKey := newKey("--principal", "bin-auditor", "--role", "compliance")
	serve := command(ctx, "serve", "--data", data, "--listen", "127.0.0.1:0", "--http-listen", "off", "--checkpoint-interval", "0", "--log-level", "warn")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serveErr strings.Builder
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer serve.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var addr, vkey string
	for (addr == "" || vkey == "") && lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "agenttrail listening on "); ok {
			addr = a
		}
		if k, ok := strings.CutPrefix(lines.Text(), "checkpoint verifier key: "); ok {
			vkey = k
		}
	}
	if addr == "" || vkey == "" {
		t.Fatalf("serve did not print its address and key; stderr: %s", serveErr.String())
	}
	go io.Copy(io.Discard, stdout)

	var input strings.Builder
	for i := range 25 {
		fmt.Fprintln(&input, jsonLine(t, toolEvent(fmt.Sprintf("bin-%02d", i), "bin-session", "bin-agent", "search", uint32(i+1), time.Now().Add(-time.Minute))))
	}
	appendCmd := withKey(command(ctx, "append", "--addr", addr), agentKey)
	appendCmd.Stdin = strings.NewReader(input.String())
	out, err := appendCmd.Output()
	if err != nil {
		t.Fatalf("append: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), `"duplicate":false`); n != 25 {
		t.Fatalf("append printed %d receipts, want 25:\n%s", n, out)
	}

	out, err = withKey(command(ctx, "query", "--addr", addr, "--session", "bin-session", "--output", "table"), readerKey).Output()
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if rows := strings.Split(strings.TrimSpace(string(out)), "\n"); len(rows) != 26 || !strings.Contains(rows[25], "bin-session") {
		t.Fatalf("query printed %d lines, want a header and 25 events:\n%s", len(rows), out)
	}

	if err := serve.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve after SIGINT: %v\n%s", err, serveErr.String())
	}

	for _, args := range [][]string{{"--verifier-key", vkey}, nil} {
		out, err = command(ctx, append([]string{"verify", "--data", data}, args...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "data verified") {
			t.Errorf("verify --data %q: %v\n%s", args, err, out)
		}
	}
}
