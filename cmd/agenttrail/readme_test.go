package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/agenttrail/agenttrail/store/postgres/pgtest"
)

// The README's walkthrough runs as written: the block between the
// walkthrough markers goes to bash, with the binary on PATH, in an empty
// directory, on a free port instead of the default one.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- walkthrough:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- walkthrough:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no walkthrough markers")
	}
	script, ok := strings.CutPrefix(strings.TrimSpace(block), "```sh\n")
	script, ok2 = strings.CutSuffix(script, "```")
	if !ok || !ok2 {
		t.Fatal("the walkthrough is not one sh code block")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	script = strings.ReplaceAll(script, "127.0.0.1:7700", addr)

	dir := t.TempDir()
	// Output goes to a file, not a pipe: a server the script leaves
	// running on failure must not keep the test waiting for EOF.
	logPath := filepath.Join(t.TempDir(), "walkthrough.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AGENTTRAIL_LISTEN="+addr,
		"AGENTTRAIL_ADDR="+addr,
		// The HTTP listener's default port may be taken on a shared
		// machine: any free one will do for the walkthrough.
		"AGENTTRAIL_HTTP_LISTEN=127.0.0.1:0",
	)
	err = cmd.Start()
	if err == nil {
		// Whatever happens, stop everything the script started.
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = cmd.Wait()
	}
	out, _ := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("the README walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"issue_refund",               // query and tail print the session
		"verified events [0,",        // online verify
		"erased content, each named", // online verify checks the erasure
		"data verified",              // offline verify
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "at_") {
		t.Errorf("the walkthrough printed an API key:\n%s", out)
	}
}

// The README's "More than one machine" block runs as written, with its
// database URL pointing at a private PostgreSQL cluster: two servers on one
// database, an event appended through one and read through the other, and
// the log verified offline.
func TestReadmeMoreThanOneMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary and a PostgreSQL cluster")
	}
	readme := readFile(t, "../../README.md")
	_, rest, ok := strings.Cut(readme, "<!-- multiserver:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- multiserver:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no multiserver markers")
	}
	script, ok := strings.CutPrefix(strings.TrimSpace(block), "```sh\n")
	script, ok2 = strings.CutSuffix(script, "```")
	if !ok || !ok2 {
		t.Fatal("the multiserver block is not one sh code block")
	}
	var lines []string
	replaced := false
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(line, "STORE=") {
			line, replaced = `STORE="$TEST_STORE"`, true
		}
		lines = append(lines, line)
	}
	if !replaced {
		t.Fatal("the multiserver block sets no STORE=")
	}
	script = strings.Join(lines, "\n")
	for _, port := range []string{"7710", "7711", "7716", "7717"} { // gRPC and HTTP of each server
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		script = strings.ReplaceAll(script, "127.0.0.1:"+port, lis.Addr().String())
		lis.Close()
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	storeURL := pgtest.NewDatabase(t)
	logPath := filepath.Join(t.TempDir(), "multiserver.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TEST_STORE="+storeURL,
	)
	err = cmd.Start()
	if err == nil {
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = cmd.Wait()
	}
	out, _ := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("the README's multiserver block failed: %v\n%s", err, out)
	}
	for _, want := range []string{"s-lb", "data verified"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The README's client snippets are the tested quickstarts of their
// packages, word for word: the Python one is run by clients/python's
// test_docs.py, the TypeScript one by clients/typescript's package test, the
// Go one is clients/go/examples/quickstart, run by its own test.
func TestReadmeClientSnippets(t *testing.T) {
	readme := readFile(t, "../../README.md")
	_, clients, ok := strings.Cut(readme, "## Clients")
	if !ok {
		t.Fatal("README.md has no Clients section")
	}
	for _, c := range []struct{ lang, source string }{
		{"python", "../../clients/python/README.md"},
		{"ts", "../../clients/typescript/README.md"},
		{"go", "../../clients/go/examples/quickstart/main.go"},
	} {
		_, rest, ok := strings.Cut(clients, "```"+c.lang+"\n")
		if !ok {
			t.Errorf("the Clients section has no %s snippet", c.lang)
			continue
		}
		snippet, _, _ := strings.Cut(rest, "```")
		if !strings.Contains(readFile(t, c.source), snippet) {
			t.Errorf("the README's %s snippet is not word for word in %s", c.lang, c.source)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
