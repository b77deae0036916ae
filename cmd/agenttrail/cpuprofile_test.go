package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestCPUProfileFlag: export and verify --cpuprofile FILE each write a CPU
// profile that go tool pprof can read (gzipped profile.proto with its
// sample types), and still do their work; a profile that cannot be created
// is an error naming the flag, before anything is done.
func TestCPUProfileFlag(t *testing.T) {
	s := startCLIServer(t)
	s.appendEvents(t, someEvents("prof", 50)...)
	dir := t.TempDir()
	addr := []string{"--addr", s.addr, "--verifier-key", s.vkey}

	exportProfile := filepath.Join(dir, "export.pprof")
	bundle, _ := expect(t, append([]string{"export", "--to-index", "50", "--cpuprofile", exportProfile}, addr...), 0, nil, []string{"exported 50 events"})
	checkCPUProfile(t, exportProfile)
	verifyProfile := filepath.Join(dir, "verify.pprof")
	expect(t, append([]string{"verify", "--to", "50", "--cpuprofile", verifyProfile}, addr...), 0, []string{"verified events [0, 50): 50 events"}, nil)
	checkCPUProfile(t, verifyProfile)
	file := writeFile(t, "export.jsonl", strings.Split(strings.TrimSpace(bundle), "\n")...)
	offlineProfile := filepath.Join(dir, "offline.pprof")
	expect(t, []string{"verify", "--export", file, "--verifier-key", s.vkey, "--cpuprofile", offlineProfile}, 0, []string{"export verified: 50 events"}, nil)
	checkCPUProfile(t, offlineProfile)

	missing := filepath.Join(dir, "no-such-dir", "p.pprof")
	expect(t, append([]string{"export", "--cpuprofile", missing}, addr...), 1, nil, []string{"--cpuprofile"})
	expect(t, append([]string{"verify", "--cpuprofile", missing}, addr...), 1, nil, []string{"--cpuprofile"})
}

// checkCPUProfile reads a profile as go tool pprof does: gzip, then the
// protobuf of perftools.profiles.Profile, whose string table must name the
// CPU sample types.
func checkCPUProfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: not gzip: %v", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var sampleTypes int
	var strs [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: not a profile.proto", path)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			t.Fatalf("%s: not a profile.proto", path)
		}
		switch num {
		case 1: // sample_type
			sampleTypes++
		case 6: // string_table
			s, _ := protowire.ConsumeBytes(b[n:])
			strs = append(strs, s)
		}
		b = b[n+m:]
	}
	joined := bytes.Join(strs, []byte(" "))
	if sampleTypes == 0 || !bytes.Contains(joined, []byte("cpu")) || !bytes.Contains(joined, []byte("nanoseconds")) {
		t.Errorf("%s: a profile without CPU sample types (%d sample types; strings %q)", path, sampleTypes, joined)
	}
}
