package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// backup writes full and incremental backups online and offline; restore
// refuses what does not verify and restores the rest into a new directory
// that verifies offline.
func TestBackupAndRestoreCommands(t *testing.T) {
	s := startCLIServer(t)
	at := time.Now().Add(-time.Hour)
	var evs []*agenttrailv1.Event
	for i := range 15 {
		evs = append(evs, toolEvent(fmt.Sprintf("01963a4e-7c1b-7000-8000-%012d", i+1), "s-1", "a-1", "lookup", uint32(i+1), at))
	}
	s.appendEvents(t, evs[:10]...)
	dir := t.TempDir()
	full, incr, offline := filepath.Join(dir, "full.bak"), filepath.Join(dir, "incr.bak"), filepath.Join(dir, "offline.bak")

	out, errOut, code := runCLI(t, "backup", "--addr", s.addr, "--verifier-key", s.vkey, "--out", full)
	if code != 0 || !strings.Contains(out, "full backup") || !strings.Contains(out, "events [0, 10)") {
		t.Fatalf("backup: %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = runCLI(t, "backup", "--addr", s.addr, "--verifier-key", s.vkey, "--out", full)
	if code != 2 || !strings.Contains(errOut, "exists") {
		t.Fatalf("backup over an existing file: %d %s; want a usage error", code, errOut)
	}
	s.appendEvents(t, evs[10:]...)
	out, errOut, code = runCLI(t, "backup", "--addr", s.addr, "--verifier-key", s.vkey, "--since", full, "--out", incr)
	if code != 0 || !strings.Contains(out, "incremental backup") || !strings.Contains(out, "events [10, 15)") {
		t.Fatalf("backup --since: %d\n%s%s", code, out, errOut)
	}
	s.stop()
	out, errOut, code = runCLI(t, "backup", "--data", s.dir, "--verifier-key", s.vkey, "--out", offline)
	if code != 0 || !strings.Contains(out, "events [0, 15)") {
		t.Fatalf("backup --data: %d\n%s%s", code, out, errOut)
	}

	// A damaged backup is refused, and nothing is created.
	damaged := filepath.Join(dir, "damaged.bak")
	b, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "restored-damaged")
	_, errOut, code = runCLI(t, "restore", "--in", damaged, "--data", target, "--verifier-key", s.vkey)
	if code != 1 || !strings.Contains(errOut, "SHA-256") {
		t.Fatalf("restore of a damaged backup: %d %s; want it refused", code, errOut)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("a refused restore left %s behind (%v)", target, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Fatalf("a refused restore left files in %s: %v", dir, entries)
	}

	// The content is encrypted: restoring needs the store's master key.
	mkf := defaultMasterKeyFile(s.dir)
	_, errOut, code = runCLI(t, "restore", "--in", full, "--data", filepath.Join(t.TempDir(), "restored"), "--verifier-key", s.vkey)
	if code != 2 || !strings.Contains(errOut, "--master-key-file") {
		t.Fatalf("restore of an encrypted store's backup without its master key: %d %s; want a usage error", code, errOut)
	}

	// The chain restores, and the result verifies offline.
	for _, chain := range [][]string{{full, incr}, {offline}} {
		target := filepath.Join(t.TempDir(), "restored")
		args := []string{"restore", "--data", target, "--master-key-file", mkf, "--verifier-key", s.vkey}
		for _, f := range chain {
			args = append(args, "--in", f)
		}
		out, errOut, code := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "15 events, tree size 15") {
			t.Fatalf("restore %v: %d\n%s%s", chain, code, out, errOut)
		}
		out, errOut, code = runCLI(t, "verify", "--data", target, "--master-key-file", mkf, "--verifier-key", s.vkey)
		if code != 0 || !strings.Contains(out, "data verified") {
			t.Fatalf("verify --data of the restored directory: %d\n%s%s", code, out, errOut)
		}
		_, errOut, code = runCLI(t, append(args[:5:5], "--in", full, "--verifier-key", s.vkey)...)
		if code != 2 || !strings.Contains(errOut, "not empty") {
			t.Fatalf("restore into a directory that holds a store: %d %s; want a usage error", code, errOut)
		}
	}
}
