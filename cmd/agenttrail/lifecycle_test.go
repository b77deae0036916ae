package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
)

// securedCLIServer is a CLI test server with access control and a key per
// role: agent, developer, compliance, admin.
func securedCLIServer(t *testing.T) (*cliServer, map[string]string) {
	t.Helper()
	return startCLIServerWithKeys(t, map[string]auth.KeySpec{
		"agent":      {Principal: "bot", Role: auth.Agent, AgentID: "agent"},
		"developer":  {Principal: "dev-alice", Role: auth.Developer},
		"compliance": {Principal: "audit-carol", Role: auth.Compliance},
		"admin":      {Principal: "ops-dave", Role: auth.Admin},
	})
}

func TestEraseHoldRetentionCommands(t *testing.T) {
	s, keys := securedCLIServer(t)
	ctx := context.Background()
	agent, err := client.New(s.addr, client.WithAPIKey(keys["agent"]))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	evs := someEvents("s1", 3)
	for _, ev := range evs {
		ev.UserId = "customer-42"
	}
	evs = append(evs, someEvents("s2", 2)...)
	if _, err := agent.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	with := func(role string, args ...string) []string {
		return append(args, "--addr", s.addr, "--key", keys[role])
	}
	expect(t, with("developer", "erase", "--user", "customer-42", "--reason", "DSR-1"), 1, nil, []string{"PermissionDenied"})
	expect(t, with("agent", "erase", "--user", "customer-42", "--reason", "DSR-1"), 1, nil, []string{"PermissionDenied"})
	expect(t, with("compliance", "erase", "--user", "customer-42"), 2, nil, []string{"--reason"})
	expect(t, with("compliance", "erase", "--user", "a", "--session", "b", "--reason", "x"), 2, nil, []string{"exactly one"})

	// A hold on the session refuses the erasure, naming the hold.
	expect(t, with("admin", "hold", "place", "--session", "s1", "--reason", "case 1"), 0, []string{"placed hold-1 on session s1"}, nil)
	expect(t, with("compliance", "hold", "list"), 0, []string{"hold-1", "session s1", "ops-dave", "case 1"}, nil)
	expect(t, with("compliance", "erase", "--user", "customer-42", "--reason", "DSR-1"), 1, nil, []string{"FailedPrecondition", "hold-1"})
	expect(t, with("compliance", "hold", "release", "--id", "hold-1"), 2, nil, []string{"--reason"})
	expect(t, with("admin", "hold", "release", "--id", "hold-1", "--reason", "closed"), 0, []string{"released hold-1"}, nil)
	out, _ := expect(t, with("admin", "hold", "list", "--output", "json"), 0, nil, nil)
	if strings.TrimSpace(out) != "" {
		t.Errorf("holds after the release: %s", out)
	}

	expect(t, with("compliance", "erase", "--user", "customer-42", "--reason", "DSR-1"), 0, []string{"erased the content of 3 events", "log index"}, nil)
	expect(t, with("admin", "erase", "--user", "customer-42", "--reason", "DSR-1"), 0, []string{"already erased: 3 events"}, nil)
	expect(t, with("compliance", "erase", "--event", evs[3].GetEventId(), "--reason", "ticket 9"), 0, []string{"erased the content of 1 event;"}, nil)
	expect(t, with("compliance", "erase", "--user", "nobody", "--reason", "DSR-2"), 0, []string{"nothing to erase"}, nil)
	expect(t, with("compliance", "erase", "--event", "nope", "--reason", "DSR-3"), 1, nil, []string{"NotFound", "event_ids[0]"})

	// The erased entries show as erased, in a table and in JSON.
	out, _ = expect(t, with("compliance", "query", "--user", "customer-42", "--output", "table"), 0, nil, nil)
	if strings.Count(out, "erased") < 3 {
		t.Errorf("query --output table does not show the erased entries as erased:\n%s", out)
	}
	out, _ = expect(t, with("compliance", "get", "--id", evs[0].GetEventId()), 0, []string{"CONTENT_STATE_ERASED", "erased_by"}, nil)
	// They still verify, in both views.
	expect(t, with("compliance", "verify", "--verifier-key", s.vkey), 0, []string{"signature verified", "4 events with erased content, each named by a later erasure"}, nil)
	expect(t, with("developer", "verify", "--verifier-key", s.vkey), 0, []string{"signature verified", "4 events with erased content"}, nil)
	expect(t, with("compliance", "verify", "--verifier-key", s.vkey, "--from", "4", "--to", "7"), 0, []string{"3 events with erased content"}, nil)

	// An export of the subject's events carries the erasure, and verifies
	// offline.
	bundle := filepath.Join(t.TempDir(), "export.jsonl")
	out, _ = expect(t, with("compliance", "export", "--user", "customer-42"), 0, nil, []string{"exported 4 events"})
	if err := os.WriteFile(bundle, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, []string{"verify", "--export", bundle, "--verifier-key", s.vkey}, 0, []string{"export verified: 4 events", "3 erased, each named by an erasure in the export"}, nil)
	// Without the erasure, the export does not verify.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	trimmed := filepath.Join(t.TempDir(), "trimmed.jsonl")
	if err := os.WriteFile(trimmed, []byte(strings.Join(lines[:len(lines)-1], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, []string{"verify", "--export", trimmed, "--verifier-key", s.vkey}, 1, nil, []string{"no later erasure or retention event of the export names it"})

	// Retention policies.
	expect(t, with("admin", "retention", "show"), 0, []string{"no retention policies"}, nil)
	expect(t, with("admin", "retention", "set", "--name", "short", "--keep", "12h"), 1, nil, []string{"InvalidArgument", "keep_for"})
	expect(t, with("admin", "retention", "set", "--name", "llm-90d", "--agent", "agent", "--kind", "llm_call", "--keep", "90d"), 0, []string{"version 1", "1 policy"}, nil)
	expect(t, with("admin", "retention", "set", "--name", "staging", "--label", "env=staging", "--keep", "7d"), 0, []string{"version 2", "2 policies"}, nil)
	out, _ = expect(t, with("compliance", "retention", "show", "--output", "json"), 0, []string{`"version": 2`, `"keep_for": "90d"`, `"label_value": "staging"`}, nil)
	file := filepath.Join(t.TempDir(), "policies.json")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, with("admin", "retention", "set", "--file", file, "--if-version", "1"), 1, nil, []string{"FailedPrecondition", "version 2"})
	expect(t, with("admin", "retention", "set", "--file", file, "--if-version", "2"), 0, []string{"version 3", "2 policies"}, nil)
	expect(t, with("compliance", "retention", "set", "--file", file), 1, nil, []string{"PermissionDenied"})
	expect(t, with("admin", "retention", "remove", "--name", "staging"), 0, []string{"version 4", "1 policy"}, nil)
	expect(t, with("admin", "retention", "remove", "--name", "staging"), 1, nil, []string{"no policy named"})
	expect(t, with("admin", "retention", "apply"), 0, []string{"nothing expired"}, nil)
	expect(t, with("admin", "retention", "show"), 0, []string{"version 4", "llm-90d", "llm_call", "90d"}, nil)
}

func TestRotateMasterKey(t *testing.T) {
	s := startCLIServer(t)
	s.appendEvents(t, someEvents("r", 4)...)
	s.stop()
	mkFile := defaultMasterKeyFile(s.dir)
	before, err := store.ReadMasterKeyFile(mkFile)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := expect(t, []string{"keys", "rotate-master", "--data", s.dir, "--signing-key", writeSigningKey(t, s)}, 0, []string{"rotated the master key", "no content rewritten"}, nil)
	after, err := store.ReadMasterKeyFile(mkFile)
	if err != nil {
		t.Fatal(err)
	}
	if after.Equal(before) || !strings.Contains(out, before.ID()) || !strings.Contains(out, after.ID()) {
		t.Errorf("the key file still holds the old key, or the output does not name both:\n%s", out)
	}
	if _, err := os.Stat(mkFile + ".next"); !os.IsNotExist(err) {
		t.Errorf("the rotation left %s.next behind", mkFile)
	}
	// The store opens with the new key only, and every event reads back.
	expect(t, []string{"verify", "--data", s.dir, "--verifier-key", s.vkey}, 0, []string{"tree size 5", "data verified"}, nil)
	old := filepath.Join(t.TempDir(), "old.key")
	if err := store.WriteMasterKeyFile(old, before); err != nil {
		t.Fatal(err)
	}
	expect(t, []string{"verify", "--data", s.dir, "--verifier-key", s.vkey, "--master-key-file", old}, 1, nil, []string{"master key"})
	st, err := store.Open(context.Background(), badgerURL(s.dir), store.WithSigningKeyFile(writeSigningKey(t, s)), store.WithMasterKey(after))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range uint64(5) {
		e, err := st.Get(context.Background(), i, store.HeaderAndContent)
		if err != nil || e.ContentState != store.ContentPresent {
			t.Fatalf("event %d after rotation: %v, %v", i, e, err)
		}
	}
	last, _ := st.Get(context.Background(), 4, store.HeaderOnly)
	if kc := last.Header.GetKeyChange(); kc.GetAction() != agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_MASTER_KEY_ROTATED || kc.GetKeyId() != after.ID() {
		t.Errorf("the last event is %v, want the rotation's key change", last.Header)
	}
}

// writeSigningKey writes the CLI server's signing key to its default file,
// beside the data directory.
func writeSigningKey(t *testing.T, s *cliServer) string {
	t.Helper()
	f := defaultKeyFile(s.dir)
	if _, err := os.Stat(f); err == nil {
		return f
	}
	if err := os.WriteFile(f, []byte(s.skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMigrateCommand(t *testing.T) {
	old := filepath.Join(t.TempDir(), "old")
	copyTree(t, "../../store/badger/testdata/v1/data", old)
	if err := os.Chmod(filepath.Join(old, legacyKeyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	newDir := filepath.Join(t.TempDir(), "new")
	expect(t, []string{"keys", "list", "--data", old}, 1, nil, []string{"agenttrail migrate"})
	expect(t, []string{"migrate", "--data", old, "--to", newDir}, 0, []string{"36 events", "12 checkpoints", "verified", "created the master key " + defaultMasterKeyFile(newDir), "destroy it"}, nil)
	expect(t, []string{"verify", "--data", newDir}, 0, []string{"tree size 36", "data verified"}, nil)
	expect(t, []string{"keys", "list", "--data", newDir}, 0, []string{"auditor"}, nil)
	expect(t, []string{"migrate", "--data", old, "--to", newDir}, 1, nil, []string{"not empty"})
}

func badgerURL(dir string) string { return badger.URL(dir) }

// copyTree copies a directory tree.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
