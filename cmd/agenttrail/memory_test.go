package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	memoryEvents = flag.Int("memory.events", 0, "TestServeMemoryUnderLimit: events to append through the real serve (1000000 for the issue's run); 0 skips the test")
	memoryRSS    = flag.Int("memory.rss", 600, "TestServeMemoryUnderLimit: the most resident memory, in MB (10^6 bytes), serve may reach")
)

// rss returns a process's current and peak resident set size, in bytes.
func rss(pid int) (cur, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			cur = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return cur, peak, sc.Err()
}

// TestServeMemoryUnderLimit is the long run behind a flag:
//
//	go test ./cmd/agenttrail -run TestServeMemoryUnderLimit -memory.events 1000000 -timeout 2h -v
//
// It starts the real serve (built without the race detector) on its
// defaults, so under its 512 MiB memory limit, streams -memory.events
// events of 1 KiB into it from 8 streams with agenttrail bench, and fails
// when serve's resident memory ever exceeds -memory.rss MB. It reports the
// peak, sampled every 100 ms and from the kernel's high-water mark.
func TestServeMemoryUnderLimit(t *testing.T) {
	if *memoryEvents == 0 {
		t.Skip("the long memory run: give -memory.events N (1000000 for the issue's run)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "agenttrail")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	agentKey := createKey(t, bin, data, "--principal", "bench-agent", "--role", "agent")
	readKey := createKey(t, bin, data, "--principal", "bench-reader", "--role", "compliance")
	srv := startServe(t, bin, data, "127.0.0.1:0")
	pid := srv.cmd.Process.Pid

	var mu sync.Mutex
	var sampled int64
	stop := make(chan struct{})
	sampling := make(chan struct{})
	go func() {
		defer close(sampling)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if cur, _, err := rss(pid); err == nil {
					mu.Lock()
					sampled = max(sampled, cur)
					mu.Unlock()
				}
			}
		}
	}()
	began := time.Now()
	bench := exec.Command(bin, "bench", "--addr", srv.addr, "--key", agentKey, "--read-key", readKey,
		"--events", strconv.Itoa(*memoryEvents), "--size", "1024", "--streams", "8")
	bench.Stderr = os.Stderr
	out, err := bench.Output()
	close(stop)
	<-sampling
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	_, hwm, err := rss(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	if srv.err != nil {
		t.Errorf("serve after SIGTERM: %v", srv.err)
	}
	mu.Lock()
	peak := max(sampled, hwm)
	mu.Unlock()
	t.Logf("%d events in %v; serve's peak RSS %.0f MB (sampled %.0f MB, kernel high-water mark %.0f MB); bench: %s",
		*memoryEvents, time.Since(began).Round(time.Second), float64(peak)/1e6, float64(sampled)/1e6, float64(hwm)/1e6, strings.TrimSpace(string(out)))
	if peak > int64(*memoryRSS)*1e6 {
		t.Errorf("serve's resident memory reached %.0f MB, over %d MB", float64(peak)/1e6, *memoryRSS)
	}
}
