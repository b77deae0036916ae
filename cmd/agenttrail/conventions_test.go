package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// version and --version print the module version, commit and Go version.
func TestVersion(t *testing.T) {
	out, _ := expect(t, []string{"version"}, 0, []string{"agenttrail ", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}, nil)
	flagOut, _ := expect(t, []string{"--version"}, 0, nil, nil)
	if flagOut != out {
		t.Errorf("--version printed %q, version %q", flagOut, out)
	}
	out, _ = expect(t, []string{"version", "--output", "json"}, 0, nil, nil)
	var b buildInfo
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.Version == "" || b.Go != runtime.Version() {
		t.Errorf("version --output json: %q (%v)", out, err)
	}
	expect(t, []string{"version", "extra"}, 2, nil, nil)
}

// help COMMAND prints that command's usage and flags, for every command;
// help with an unknown name says so.
func TestHelpEveryCommand(t *testing.T) {
	for _, c := range commands {
		out, _ := expect(t, []string{"help", c.name}, 0, []string{"usage: agenttrail " + c.name}, nil)
		if strings.Contains(out, "Run 'agenttrail help <command>'") {
			t.Errorf("help %s printed the top-level help:\n%s", c.name, out)
		}
		if c.name != "help" && c.name != "completion" && !strings.Contains(out, "-config") {
			t.Errorf("help %s lists no flags:\n%s", c.name, out)
		}
	}
	expect(t, []string{"help"}, 0, []string{"Run 'agenttrail help <command>'", "completion", "version"}, nil)
	expect(t, []string{"--help"}, 0, []string{"Run 'agenttrail help <command>'"}, nil)
	expect(t, []string{"help", "nope"}, 2, nil, []string{`unknown command "nope"`})
	expect(t, []string{"help", "verify", "export"}, 2, nil, []string{"at most one command"})
}

// The completion scripts name every command, and bash's completes
// commands, flags and fixed flag values when bash runs it.
func TestCompletion(t *testing.T) {
	for _, shell := range completionShells {
		out, _ := expect(t, []string{"completion", shell}, 0, []string{"verifier-key", "tool_call", "compliance"}, nil)
		for _, c := range commands {
			if !strings.Contains(out, c.name) {
				t.Errorf("the %s script lacks the command %s", shell, c.name)
			}
		}
		path := filepath.Join(t.TempDir(), "agenttrail."+shell)
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		// Each shell present checks its script's syntax (zsh and fish are
		// not installed everywhere).
		if sh, err := exec.LookPath(shell); err == nil {
			if b, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
				t.Errorf("%s -n on the %s script: %v\n%s", shell, shell, err, b)
			}
		} else if shell == "bash" {
			t.Fatal("no bash")
		}
	}
	expect(t, []string{"completion"}, 2, nil, []string{"bash, zsh or fish"})
	expect(t, []string{"completion", "powershell"}, 2, nil, []string{`unknown shell "powershell"`})

	script, _ := expect(t, []string{"completion", "bash"}, 0, nil, nil)
	path := filepath.Join(t.TempDir(), "agenttrail.bash")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		words string // the command line so far; the last word is completed
		want  []string
	}{
		{"agenttrail ver", []string{"verify", "version"}},
		{"agenttrail verify --verifier-", []string{"--verifier-key"}},
		{"agenttrail keys create --role a", []string{"admin", "agent"}},
		{"agenttrail query --output t", []string{"table"}},
		{"agenttrail query --kind tool", []string{"tool_call"}},
		{"agenttrail keys c", []string{"create"}},
		{"agenttrail completion z", []string{"zsh"}},
		{"agenttrail help exp", []string{"export"}},
	} {
		words := strings.Fields(tt.words)
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _agenttrail; printf '%s\n' "${COMPREPLY[@]}"`
		b, err := exec.Command("bash", append([]string{"-c", prog, "bash", path}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", tt.words, err, b)
		}
		got := strings.Fields(string(b))
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("completing %q: got %q, want %q", tt.words, got, tt.want)
		}
	}
}

// A query that matches nothing says so on stderr, and leaves stdout empty
// for whatever reads its JSON lines.
func TestQueryNoEventsMatch(t *testing.T) {
	s := startCLIServer(t)
	s.appendEvents(t, someEvents("q", 2)...)
	for _, format := range []string{"json", "table"} {
		out, _ := expect(t, []string{"query", "--addr", s.addr, "--session", "nothing-like-it", "--output", format}, 0, nil, []string{"no events match"})
		if out != "" {
			t.Errorf("query --output %s with no match printed %q on stdout", format, out)
		}
	}
	_, errOut := expect(t, []string{"query", "--addr", s.addr, "--session", "q"}, 0, []string{"search"}, nil)
	if strings.Contains(errOut, "no events match") {
		t.Errorf("a query with matches said %q", errOut)
	}
}

// verify --output json prints one object, on success and on failure, in
// each mode; export --output json reports what it wrote.
func TestVerifyAndExportOutputJSON(t *testing.T) {
	s := startCLIServer(t)
	s.appendEvents(t, someEvents("j", 4)...)
	addr := []string{"--addr", s.addr}
	state := filepath.Join(t.TempDir(), "state.json")

	decode := func(out string) verifyReport {
		t.Helper()
		var r verifyReport
		if strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("want one JSON line, got:\n%s", out)
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		return r
	}
	out, _ := expect(t, append([]string{"verify", "--verifier-key", s.vkey, "--state", state, "--output", "json"}, addr...), 0, nil, nil)
	r := decode(out)
	if !r.Verified || r.Mode != "online" || r.TreeSize != 4 || r.Events != 4 || r.ContentChecked != 4 || r.From != 0 || r.To != 4 || r.RootHash == "" || r.State != state {
		t.Errorf("online: %+v", r)
	}
	s.appendEvents(t, someEvents("k", 2)...)
	out, _ = expect(t, append([]string{"verify", "--state", state, "--output", "json"}, addr...), 0, nil, nil)
	if r := decode(out); !r.Verified || len(r.ConsistentWith) != 1 || r.ConsistentWith[0].TreeSize != 4 || r.ConsistentWith[0].Source != state {
		t.Errorf("online against a state: %+v", r)
	}
	_, other, _ := noteKey(t)
	out, _ = expect(t, append([]string{"verify", "--verifier-key", other, "--output", "json"}, addr...), 1, nil, nil)
	if r := decode(out); r.Verified || r.Error == "" {
		t.Errorf("online with the wrong key: %+v", r)
	}
	// A usage error is not a verification result: no JSON.
	out, _ = expect(t, []string{"verify", "--from", "3", "--to", "3", "--output", "json"}, 2, nil, nil)
	if out != "" {
		t.Errorf("a usage error printed %q", out)
	}

	// Export: the report goes to stderr, as JSON; the bundle to stdout.
	bundle, errOut := expect(t, append([]string{"export", "--session", "j", "--verifier-key", s.vkey, "--output", "json"}, addr...), 0, nil, nil)
	var er exportReport
	if err := json.Unmarshal([]byte(errOut), &er); err != nil || er.Events != 4 || er.TreeSize < 6 || er.Origin != cliOrigin || er.VerifierKey != s.vkey {
		t.Errorf("export --output json reported %q (%v)", errOut, err)
	}
	file := writeFile(t, "export.jsonl", strings.Split(strings.TrimSpace(bundle), "\n")...)
	out, _ = expect(t, []string{"verify", "--export", file, "--verifier-key", s.vkey, "--output", "json"}, 0, nil, nil)
	if r := decode(out); !r.Verified || r.Mode != "export" || r.Events != 4 || r.From != 0 || r.To != 4 {
		t.Errorf("export: %+v", r)
	}
	_, errOut = expect(t, append([]string{"export", "--session", "none", "--verifier-key", s.vkey, "--output", "json"}, addr...), 0, nil, nil)
	if err := json.Unmarshal([]byte(errOut), &er); err != nil || er.Events != 0 {
		t.Errorf("an empty export reported %q (%v)", errOut, err)
	}

	// Offline, then with one byte of event 2's content changed on disk.
	s.stop()
	out, _ = expect(t, []string{"verify", "--data", s.dir, "--verifier-key", s.vkey, "--output", "json"}, 0, nil, nil)
	if r := decode(out); !r.Verified || r.Mode != "data" || r.TreeSize < 6 || r.Checkpoints == 0 {
		t.Errorf("data: %+v", r)
	}
	flipContentByte(t, s.dir, 2)
	out, _ = expect(t, []string{"verify", "--data", s.dir, "--verifier-key", s.vkey, "--output", "json"}, 1, nil, nil)
	if r := decode(out); r.Verified || r.ProblemIndex == nil || *r.ProblemIndex != 2 || !strings.Contains(r.Error, "event 2") {
		t.Errorf("tampered data: %+v", r)
	}
}

// keys --output json: create prints the key with what it is, list each
// key without its secret, revoke the key revoked.
func TestKeysOutputJSON(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	out, _ := expect(t, []string{"keys", "create", "--data", data, "--principal", "bot", "--role", "agent", "--agent-id", "support-agent", "--output", "json"}, 0, nil, nil)
	var created struct {
		Key       string `json:"key"`
		ID        string `json:"key_id"`
		Principal string `json:"principal"`
		Role      string `json:"role"`
		AgentID   string `json:"agent_id"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.Key, "at_"+created.ID) || created.Principal != "bot" || created.Role != "agent" || created.AgentID != "support-agent" {
		t.Fatalf("keys create --output json: %q (%v)", out, err)
	}
	out, _ = expect(t, []string{"keys", "list", "--data", data, "--output", "json"}, 0, []string{created.ID}, nil)
	if strings.Contains(out, created.Key) {
		t.Errorf("keys list printed a secret: %s", out)
	}
	out, _ = expect(t, []string{"keys", "revoke", "--data", data, "--id", created.ID, "--output", "json"}, 0, []string{`"key_id":"` + created.ID + `"`}, nil)
	if strings.Contains(out, created.Key) {
		t.Errorf("keys revoke printed a secret: %s", out)
	}
	expect(t, []string{"keys", "create", "--data", data, "--principal", "x", "--role", "root"}, 2, nil, []string{`invalid value "root" for flag -role: want agent or developer or compliance or admin`})
}
