package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
)

// expect checks a command's exit status and that its outputs hold the
// given substrings.
func expect(t *testing.T, args []string, code int, stdout, stderr []string) (string, string) {
	t.Helper()
	out, errOut, got := runCLI(t, args...)
	if got != code {
		t.Fatalf("%q: exit status %d, want %d\nstdout: %s\nstderr: %s", args, got, code, out, errOut)
	}
	for _, w := range stdout {
		if !strings.Contains(out, w) {
			t.Errorf("%q: stdout lacks %q:\n%s", args, w, out)
		}
	}
	for _, w := range stderr {
		if !strings.Contains(errOut, w) {
			t.Errorf("%q: stderr lacks %q:\n%s", args, w, errOut)
		}
	}
	return out, errOut
}

func someEvents(prefix string, n int) []*agenttrailv1.Event {
	var evs []*agenttrailv1.Event
	for i := range n {
		evs = append(evs, toolEvent(fmt.Sprintf("%s-%d", prefix, i), prefix, "agent", "search", uint32(i+1), time.Now().Add(-time.Minute)))
	}
	return evs
}

// signedState is a state file holding a checkpoint of any size and root
// signed with the log's key, as verify would write it.
func signedState(t *testing.T, s *cliServer, size uint64, root [32]byte) string {
	t.Helper()
	text := fmt.Sprintf("%s\n%d\n%s\n", cliOrigin, size, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: text}, s.signer)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(verifyState{VerifierKey: s.vkey, Origin: cliOrigin, TreeSize: size, RootHash: fmt.Sprintf("%x", root), Checkpoint: string(msg)})
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyOnline(t *testing.T) {
	s := startCLIServer(t)
	s.appendEvents(t, someEvents("v1", 4)...)
	state := filepath.Join(t.TempDir(), "state.json")
	addr := []string{"--addr", s.addr}

	// First run: no key, so the server's is trusted, with a warning, and
	// pinned in the state.
	expect(t, append([]string{"verify", "--state", state}, addr...), 0,
		[]string{"4 events", "signature verified", "verified events [0, 4): 4 events, content included", "state " + state + " now holds the checkpoint of 4 events"},
		[]string{"trust on first use"})
	var st verifyState
	b, _ := os.ReadFile(state)
	if err := json.Unmarshal(b, &st); err != nil || st.TreeSize != 4 || st.VerifierKey != s.vkey {
		t.Fatalf("state after the first run: %s (%v)", b, err)
	}

	// Later runs use the pinned key and check consistency.
	s.appendEvents(t, someEvents("v2", 3)...)
	_, errOut := expect(t, append([]string{"verify", "--state", state, "--from", "4"}, addr...), 0,
		[]string{"consistent with the checkpoint of 4 events", "verified events [4, 7): 3 events"}, nil)
	if strings.Contains(errOut, "trust on first use") {
		t.Errorf("a pinned key was warned about: %s", errOut)
	}
	expect(t, append([]string{"verify", "--state", state, "--verifier-key", s.vkey, "--from", "1", "--to", "3"}, addr...), 0,
		[]string{"consistent with the checkpoint of 7 events", "verified events [1, 3): 2 events"}, nil)
	expect(t, append([]string{"verify", "--verifier-key", s.vkey, "--to", "100"}, addr...), 0,
		[]string{"verified events [0, 7)"}, []string{"covers events below 7 only"})

	// A state the log is not consistent with: a checkpoint the key signed
	// of a tree the log never had.
	var root [32]byte
	root[0] = 1
	expect(t, append([]string{"verify", "--state", signedState(t, s, 3, root)}, addr...), 1, nil,
		[]string{"not consistent with the checkpoint in --state", "bad proof"})
	expect(t, append([]string{"verify", "--state", signedState(t, s, 7, root)}, addr...), 1, nil,
		[]string{"not consistent", "bad proof"})
	expect(t, append([]string{"verify", "--state", signedState(t, s, 50, root)}, addr...), 1, nil,
		[]string{"rolled back"})

	// A state whose root was edited without a signature.
	edited := strings.Replace(string(b), st.RootHash, strings.Repeat("0", 64), 1)
	editedPath := filepath.Join(t.TempDir(), "edited.json")
	os.WriteFile(editedPath, []byte(edited), 0o600)
	expect(t, append([]string{"verify", "--state", editedPath}, addr...), 1, nil, []string{"it was edited"})

	// A state pinning another key than the one given.
	_, other, _ := noteKey(t)
	expect(t, append([]string{"verify", "--state", state, "--verifier-key", other}, addr...), 1, nil, []string{"differs from the key the state file"})
	expect(t, append([]string{"verify", "--verifier-key", other}, addr...), 1, nil, []string{"latest checkpoint does not verify"})

	for _, args := range [][]string{
		{"verify", "--data", "d", "--state", "s"},
		{"verify", "--data", "d", "--export", "e"},
		{"verify", "--export", "e", "--from", "1"},
		{"verify", "--from", "3", "--to", "3"},
		{"verify", "--data", filepath.Join(t.TempDir(), "none")},
	} {
		expect(t, args, 2, nil, nil)
	}
}

func TestVerifyData(t *testing.T) {
	s := startCLIServer(t)
	s.appendEvents(t, someEvents("d1", 3)...)
	s.appendEvents(t, someEvents("d2", 5)...)
	s.stop()

	// This store was given its key, so none is kept in its directory (the
	// binary test covers a store that keeps its own).
	expect(t, []string{"verify", "--data", s.dir}, 2, nil, []string{"signing key", "pass the log's key with --verifier-key"})
	_, errOut := expect(t, []string{"verify", "--data", s.dir, "--verifier-key", s.vkey}, 0, []string{"tree size 8", "signed checkpoints", "data verified"}, nil)
	if strings.Contains(errOut, "warning") {
		t.Errorf("a warning with --verifier-key: %s", errOut)
	}
	_, other, _ := noteKey(t)
	expect(t, []string{"verify", "--data", s.dir, "--verifier-key", other}, 1, nil, []string{"event ", "does not verify", "checkpoint"})

	// Change one byte of the content of event 5 on disk, as an attacker
	// with access to the data directory could.
	mk, err := store.ReadMasterKeyFile(defaultMasterKeyFile(s.dir))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := badger.Tamper(badger.URL(s.dir), mk.StorageKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tp.Content(5)
	if err == nil {
		c[len(c)-1] ^= 0x01
		err = tp.SetContent(5, c)
	}
	if cerr := tp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	expect(t, []string{"verify", "--data", s.dir, "--verifier-key", s.vkey}, 1, []string{"tree size 8"},
		[]string{"event 5 does not verify", "content record of event 5 does not decrypt"})
}

func TestExportVerify(t *testing.T) {
	s := startCLIServer(t)
	evs := someEvents("x", 6)
	evs[2].GetToolCall().ToolName = "refund"
	evs[4].GetToolCall().ToolName = "refund"
	s.appendEvents(t, evs...)
	addr := []string{"--addr", s.addr}

	out, _ := expect(t, append([]string{"export", "--tool", "refund", "--verifier-key", s.vkey}, addr...), 0, nil, []string{"exported 2 events", "tree size 6"})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"format":"agenttrail-export-v1"`) {
		t.Fatalf("export:\n%s", out)
	}
	file := writeFile(t, "export.jsonl", lines...)
	expect(t, []string{"verify", "--export", file, "--verifier-key", s.vkey}, 0,
		[]string{"export verified: 2 events (log indexes 2 to 4, content checked for 2)", "of 6 events"}, nil)
	expect(t, []string{"verify", "--export", file}, 0, []string{"export verified"}, []string{"trust on first use", "consistent with itself"})

	// Everything, then a range: the first line alone when nothing matches.
	out, _ = expect(t, append([]string{"export"}, addr...), 0, nil, []string{"exported 6 events"})
	all := writeFile(t, "all.jsonl", strings.Split(strings.TrimSpace(out), "\n")...)
	expect(t, []string{"verify", "--export", all, "--verifier-key", s.vkey}, 0, []string{"6 events (log indexes 0 to 5"}, nil)
	out, _ = expect(t, append([]string{"export", "--from-index", "6"}, addr...), 0, nil, []string{"exported 0 events"})
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("an empty export has %d lines, want 1", n)
	}

	// A tampered export names the event.
	tampered := strings.Replace(lines[2], `"tool_name":"refund"`, `"tool_name":"refund_all"`, 1)
	if tampered == lines[2] {
		t.Fatalf("test: no tool name in %s", lines[2])
	}
	expect(t, []string{"verify", "--export", writeFile(t, "t.jsonl", lines[0], lines[1], tampered), "--verifier-key", s.vkey}, 1, nil,
		[]string{"event 4 (line 3 of the export) does not verify", "event disagrees with commitment"})
	expect(t, []string{"verify", "--export", writeFile(t, "r.jsonl", lines[0], lines[2], lines[1]), "--verifier-key", s.vkey}, 1, nil,
		[]string{"event 2 (line 3", "must increase"})
	_, other, _ := noteKey(t)
	expect(t, []string{"verify", "--export", file, "--verifier-key", other}, 1, nil, []string{"line 1 of the export", "no signature"})
	expect(t, []string{"verify", "--export", writeFile(t, "bad.jsonl", `{"format":"other"}`)}, 1, nil, []string{"line 1"})
	expect(t, append([]string{"export", "--verifier-key", other}, addr...), 1, nil, []string{"does not verify"})
}

// A developer verifies the whole log, although it holds access records of
// other principals that the developer may not see: the server sends those
// as withheld leaves, which verify proves to be in the log and reports as
// withheld, not missing.
func TestVerifyOnlineAsDeveloper(t *testing.T) {
	var st *store.Store
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	s := startCLIServer(t, server.WithAccessControlFunc(func(s *store.Store) (*auth.Authenticator, server.EventRedactor, error) {
		st = s
		a, err := auth.New(s, nil, nil)
		return a, red, err
	}))
	ctx := context.Background()
	key := func(principal string, role auth.Role, agent string) string {
		_, secret, err := auth.CreateKey(ctx, st, auth.KeySpec{Principal: principal, Role: role, AgentID: agent}, "test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	agentKey := key("bot", auth.Agent, "agent")
	devKey := key("dev-alice", auth.Developer, "")
	auditKey := key("audit-carol", auth.Compliance, "")
	agent, err := client.New(s.addr, client.WithAPIKey(agentKey))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	if _, err := agent.Append(ctx, someEvents("d1", 3)); err != nil {
		t.Fatal(err)
	}
	addr := []string{"--addr", s.addr, "--verifier-key", s.vkey}
	// The auditor and the developer read; each read is an access record.
	expect(t, append([]string{"query", "--key", auditKey}, addr[:2]...), 0, nil, nil)
	expect(t, append([]string{"query", "--key", devKey}, addr[:2]...), 0, nil, nil)
	if _, err := agent.Append(ctx, someEvents("d2", 2)); err != nil {
		t.Fatal(err)
	}
	// The auditor's read is withheld from the developer, whose own reads
	// are shown; everything verifies.
	out, _ := expect(t, append([]string{"verify", "--key", devKey}, addr...), 0,
		[]string{"signature verified", "withheld from your view"}, nil)
	if strings.Contains(out, "did not send") {
		t.Errorf("verify as a developer: %s", out)
	}
	expect(t, append([]string{"verify", "--key", auditKey}, addr...), 0,
		[]string{"content included"}, nil)
}
