package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/store/postgres/pgtest"
)

// The README's path runs as written, in order, as a new user would run
// it: the walkthrough (the block between the walkthrough markers), then
// the Clients section (its sh blocks, with each client snippet saved under
// the name its <!-- file: NAME --> marker gives), all in one bash, with the
// binary on PATH, in an empty directory, on a free port instead of the
// default one. The clients are built from a copy of this checkout (SRC):
// Python in a new virtual environment, TypeScript packed and installed in
// a new npm project, Go with go run. Any command that fails, or a
// quickstart that exits non-zero because an event was refused or not
// acknowledged, fails the test.
func TestReadmePath(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary and the three clients' quickstarts")
	}
	readme := readFile(t, "../../README.md")
	walkthrough := shBlocks(t, markedSection(t, readme, "walkthrough"))
	clients, files := clientsSection(t, markedSection(t, readme, "clients"))

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	var lines []string
	replaced := false
	for _, line := range strings.Split(clients, "\n") {
		if strings.HasPrefix(line, "SRC=") {
			line, replaced = `SRC="$TEST_SRC"`, true
		}
		lines = append(lines, line)
	}
	if !replaced {
		t.Fatal("the Clients section sets no SRC=")
	}
	script := strings.ReplaceAll(walkthrough+"\n"+strings.Join(lines, "\n"), "127.0.0.1:7700", addr)

	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := copyCheckout(t)
	// Output goes to a file, not a pipe: a server the script leaves
	// running on failure must not keep the test waiting for EOF.
	logPath := filepath.Join(t.TempDir(), "readme.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTTRAIL_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AGENTTRAIL_LISTEN="+addr,
		"AGENTTRAIL_ADDR="+addr,
		// The HTTP listener's default port may be taken on a shared
		// machine: any free one will do.
		"AGENTTRAIL_HTTP_LISTEN=127.0.0.1:0",
		"TEST_SRC="+src,
	)
	started := time.Now()
	err = cmd.Start()
	if err == nil {
		// Whatever happens, stop everything the script started, and give
		// up on a script that hangs (a server that never says it listens).
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		hung := time.AfterFunc(readmeScriptLimit, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
		err = cmd.Wait()
		hung.Stop()
	}
	out, _ := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("the README path failed after %v: %v\n%s", time.Since(started).Round(time.Second), err, out)
	}
	t.Logf("the README path (walkthrough and the three quickstarts) ran in %v", time.Since(started).Round(time.Second))
	for _, want := range []string{
		"issue_refund",               // query and tail print the session
		"verified events [0,",        // online verify
		"erased content, each named", // online verify checks the erasure
		"data verified",              // offline verify
		"logged session ",            // Python and Go
		"Order A-17 has shipped.",
		"consistent with the checkpoint of", // the second verify extends the first
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README path's output lacks %q:\n%s", want, out)
		}
	}
	// The walkthrough's session and one of each quickstart, all of agent
	// support-agent, in the auditor's query.
	if n := strings.Count(string(out), "session_start"); n < 4 {
		t.Errorf("the auditor's query shows %d session starts, want the walkthrough's and three quickstarts':\n%s", n, out)
	}
	if strings.Contains(string(out), "at_") {
		t.Errorf("the README path printed an API key:\n%s", out)
	}
	// What the packages installed carry: a version, a README with the
	// quickstart, and type information.
	for _, glob := range []string{
		"py/lib/python3*/site-packages/agenttrail/py.typed",
		"py/lib/python3*/site-packages/agenttrail-0.1.0.dist-info/METADATA",
		"ts/node_modules/@agenttrail/client/dist/index.d.ts",
		"ts/node_modules/@agenttrail/client/README.md",
	} {
		if m, _ := filepath.Glob(filepath.Join(dir, glob)); len(m) == 0 {
			t.Errorf("the installed packages lack %s", glob)
		}
	}
}

// readmeScriptLimit is how long a README script may run before its test
// gives up on it: minutes on a quiet machine, so this is only a hang guard.
const readmeScriptLimit = 20 * time.Minute

// markedSection is what README.md holds between <!-- NAME:begin --> and
// <!-- NAME:end -->.
func markedSection(t *testing.T, readme, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- "+name+":begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- "+name+":end -->")
	if !ok || !ok2 {
		t.Fatalf("README.md has no %s markers", name)
	}
	return block
}

// shBlocks joins the sh code blocks of a section, in order.
func shBlocks(t *testing.T, section string) string {
	t.Helper()
	script, _ := clientsSection(t, section)
	return script
}

// clientsSection returns the sh code blocks of a section, joined in order,
// and the other code blocks that follow a <!-- file: NAME --> marker, by
// NAME.
func clientsSection(t *testing.T, section string) (string, map[string]string) {
	t.Helper()
	var sh []string
	files := map[string]string{}
	rest := section
	for {
		before, after, ok := strings.Cut(rest, "```")
		if !ok {
			break
		}
		lang, after, ok := strings.Cut(after, "\n")
		if !ok {
			t.Fatal("a code block with no newline after its opening fence")
		}
		body, after, ok := strings.Cut(after, "```")
		if !ok {
			t.Fatalf("a %s code block is not closed", lang)
		}
		rest = after
		switch {
		case lang == "sh":
			sh = append(sh, body)
		default:
			_, marker, ok := strings.Cut(before, "<!-- file: ")
			if !ok {
				continue // shown, not run (the Go quickstart is a file of the checkout)
			}
			name, _, _ := strings.Cut(marker, " -->")
			files[strings.TrimSpace(name)] = body
		}
	}
	if len(sh) == 0 {
		t.Fatal("a README section to run has no sh block")
	}
	return strings.Join(sh, "\n"), files
}

// copyCheckout copies the files of this checkout that git tracks or would
// track (what a fresh clone would have, with this worktree's edits) into a
// temporary directory, and returns its path.
func copyCheckout(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "agenttrail")
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		from := filepath.Join(root, name)
		fi, err := os.Lstat(from)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the worktree, or a link
		}
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
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
