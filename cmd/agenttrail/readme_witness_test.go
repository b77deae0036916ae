package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The README's witness walkthrough runs as written, on free ports.
func TestReadmeWitnessWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- witness:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- witness:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no witness walkthrough markers")
	}
	script, ok := strings.CutPrefix(strings.TrimSpace(block), "```sh\n")
	script, ok2 = strings.CutSuffix(script, "```")
	if !ok || !ok2 {
		t.Fatal("the witness walkthrough is not one sh code block")
	}
	for _, port := range []string{"127.0.0.1:7710", "127.0.0.1:7720"} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		script = strings.ReplaceAll(script, port, lis.Addr().String())
		lis.Close()
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "walkthrough.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	dir := cmd.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(cleanEnv(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if err = cmd.Start(); err == nil {
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = cmd.Wait()
	}
	out, _ := os.ReadFile(logPath)
	if err != nil {
		serveLog, _ := os.ReadFile(filepath.Join(dir, "witnessed.log"))
		witnessLog, _ := os.ReadFile(filepath.Join(dir, "witness.log"))
		t.Fatalf("the README witness walkthrough failed: %v\n%s\nserve.log:\n%s\nwitness.log:\n%s", err, out, serveLog, witnessLog)
	}
	for _, want := range []string{"cosigned by witness.example/w1 (quorum 1 of 1)", "extends the trusted checkpoint", "data verified"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
}
