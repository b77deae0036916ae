package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// memStatus is a process's resident memory, in bytes, from /proc/PID/status.
type memStatus struct {
	RSS, Anon, File, Shmem int64 // VmRSS = RssAnon + RssFile + RssShmem
	HWM                    int64 // VmHWM, the kernel's high-water mark of VmRSS
}

func (m memStatus) String() string {
	return fmt.Sprintf("%.0f MB (anonymous %.0f MB, file-backed %.0f MB, shmem %.0f MB)",
		float64(m.RSS)/1e6, float64(m.Anon)/1e6, float64(m.File)/1e6, float64(m.Shmem)/1e6)
}

// readMemStatus reads a process's resident memory.
func readMemStatus(pid int) (memStatus, error) {
	var m memStatus
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
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
			m.RSS = kb << 10
		case "VmHWM":
			m.HWM = kb << 10
		case "RssAnon":
			m.Anon = kb << 10
		case "RssFile":
			m.File = kb << 10
		case "RssShmem":
			m.Shmem = kb << 10
		}
	}
	return m, sc.Err()
}

// gcTrace reads the Go runtime's GODEBUG=gctrace=1 lines from a process's
// stderr and keeps the largest heap seen at the start of a collection and
// the largest goal; other lines go on to out.
type gcTrace struct {
	out io.Writer

	mu       sync.Mutex
	buf      []byte
	gcs      int
	peakHeap int64 // bytes, the largest heap when a collection started
	peakGoal int64 // bytes
}

// gcHeap matches "A->B->C MB, D MB goal" in a gctrace line.
var gcHeap = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

func (g *gcTrace) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf = append(g.buf, p...)
	for {
		i := bytes.IndexByte(g.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := g.buf[:i+1]
		if m := gcHeap.FindSubmatch(line); m != nil && bytes.HasPrefix(line, []byte("gc ")) {
			start, _ := strconv.ParseInt(string(m[1]), 10, 64)
			goal, _ := strconv.ParseInt(string(m[4]), 10, 64)
			g.gcs++
			g.peakHeap = max(g.peakHeap, start<<20)
			g.peakGoal = max(g.peakGoal, goal<<20)
		} else {
			g.out.Write(line)
		}
		g.buf = g.buf[i+1:]
	}
}

func (g *gcTrace) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return fmt.Sprintf("Go heap at most %.0f MB at the start of a collection (goal at most %.0f MB, %d collections)",
		float64(g.peakHeap)/1e6, float64(g.peakGoal)/1e6, g.gcs)
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
	gc := &gcTrace{out: os.Stderr}
	srv := startServeWith(t, bin, data, "127.0.0.1:0", func(cmd *exec.Cmd) {
		cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
		cmd.Stderr = gc
	})
	pid := srv.cmd.Process.Pid

	// The sample with the most resident memory, with its split, and the
	// most anonymous and file-backed memory seen in any sample.
	var mu sync.Mutex
	var peak memStatus
	var peakAnon, peakFile int64
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
				if m, err := readMemStatus(pid); err == nil {
					mu.Lock()
					if m.RSS > peak.RSS {
						peak = m
					}
					peakAnon, peakFile = max(peakAnon, m.Anon), max(peakFile, m.File)
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
	last, err := readMemStatus(pid)
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
	defer mu.Unlock()
	hwm := max(peak.RSS, last.HWM)
	t.Logf("%d events in %v; serve's peak RSS %.0f MB (kernel high-water mark %.0f MB); sampled every 100 ms, at most %v; most anonymous %.0f MB, most file-backed %.0f MB; at the end %v; %v; bench: %s",
		*memoryEvents, time.Since(began).Round(time.Second), float64(hwm)/1e6, float64(last.HWM)/1e6, peak,
		float64(peakAnon)/1e6, float64(peakFile)/1e6, last, gc, strings.TrimSpace(string(out)))
	if hwm > int64(*memoryRSS)*1e6 {
		t.Errorf("serve's resident memory reached %.0f MB, over %d MB", float64(hwm)/1e6, *memoryRSS)
	}
}
