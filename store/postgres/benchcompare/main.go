// Command benchcompare measures append throughput on PostgreSQL with one
// and with three servers beside Badger, in one run, with `agenttrail bench
// --addr` against real `agenttrail serve` processes, and reports how long
// each batch held the log state row's lock (what every server waits for).
//
//	go run ./store/postgres/benchcompare                 # 50,000 events per configuration
//	go run ./store/postgres/benchcompare -events 200000 -rounds 3
//
// Each round runs the configurations one after the other (Badger, PostgreSQL
// with one server, PostgreSQL with three), so that a round sees one state of
// a shared machine; read the ratios, not the absolute figures. PostgreSQL is
// a private cluster (store/postgres/pgtest) with fsync and synchronous_commit
// on, on the same disk as Badger. The result is a table on stdout and one
// JSON line per measurement on stderr.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agenttrail/agenttrail/store/postgres/pgtest"
)

func main() {
	events := flag.Int("events", 50000, "events each measurement appends")
	size := flag.Int("size", 1024, "bytes per event")
	streams := flag.Int("streams", 12, "concurrent Append streams (dealt out over the servers)")
	inFlight := flag.Int("in-flight", 256, "events each stream keeps unacknowledged")
	rounds := flag.Int("rounds", 1, "rounds of the three configurations")
	flag.Parse()
	if err := run(*events, *size, *streams, *inFlight, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "benchcompare:", err)
		os.Exit(1)
	}
}

// measurement is one configuration's result.
type measurement struct {
	Config  string          `json:"config"`
	Round   int             `json:"round"`
	Bench   json.RawMessage `json:"bench"`
	Commits []commits       `json:"commits,omitempty"` // per server, PostgreSQL only
	bench   benchLine
}

// benchLine is what this program reads of agenttrail bench's JSON line.
type benchLine struct {
	EventsPerSecond   float64  `json:"events_per_second"`
	AckP50Millis      float64  `json:"ack_latency_p50_ms"`
	AckP99Millis      float64  `json:"ack_latency_p99_ms"`
	QueryableAfterAck *float64 `json:"queryable_after_last_ack_ms"`
}

// commits is the "postgres commits" line a server logs when it stops.
type commits struct {
	Batches      int     `json:"batches"`
	Events       int     `json:"events"`
	Stale        int     `json:"stale"`
	Retries      int     `json:"retries"`
	LockHoldMean float64 `json:"lock_hold_mean"` // nanoseconds
	LockHoldP50  float64 `json:"lock_hold_p50"`
	LockHoldP99  float64 `json:"lock_hold_p99"`
	LockHoldMax  float64 `json:"lock_hold_max"`
}

func run(events, size, streams, inFlight, rounds int) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "agenttrail-benchcompare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "agenttrail")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/agenttrail").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/agenttrail (run from the repository's root): %v\n%s", err, out)
	}
	cluster, err := pgtest.Start(pgtest.Options{Settings: map[string]string{"shared_buffers": "256MB"}})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	benchArgs := []string{"--events", fmt.Sprint(events), "--size", fmt.Sprint(size), "--streams", fmt.Sprint(streams), "--in-flight", fmt.Sprint(inFlight)}

	var all []measurement
	for round := 1; round <= rounds; round++ {
		for _, cfg := range []struct {
			name    string
			servers int
		}{{"badger, 1 server", 0}, {"postgres, 1 server", 1}, {"postgres, 3 servers", 3}} {
			m, err := measure(ctx, bin, cluster, tmp, cfg.servers, benchArgs)
			if err != nil {
				return fmt.Errorf("%s: %w", cfg.name, err)
			}
			m.Config, m.Round = cfg.name, round
			b, _ := json.Marshal(m)
			fmt.Fprintln(os.Stderr, string(b))
			all = append(all, m)
		}
	}
	report(os.Stdout, all, events, size, streams)
	return nil
}

// measure starts the servers of one configuration (pgServers 0: one
// server on Badger), runs agenttrail bench against them, stops them and
// collects their commit statistics.
func measure(ctx context.Context, bin string, cluster *pgtest.Cluster, tmp string, pgServers int, benchArgs []string) (measurement, error) {
	var m measurement
	dir, err := os.MkdirTemp(tmp, "run-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(dir)
	var storeArgs []string
	if pgServers == 0 {
		storeArgs = []string{"--data", filepath.Join(dir, "data")}
	} else {
		db, err := cluster.CreateDatabase(ctx)
		if err != nil {
			return m, err
		}
		defer cluster.DropDatabase(ctx, db)
		storeArgs = []string{"--store", cluster.URL(db), "--signing-key", filepath.Join(dir, "signing.key")}
	}
	key := func(role string) (string, error) {
		cmd := exec.Command(bin, append(append([]string{"keys", "create"}, storeArgs...), "--principal", "bench-"+role, "--role", role)...)
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("keys create: %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	agentKey, err := key("agent")
	if err != nil {
		return m, err
	}
	readKey, err := key("compliance")
	if err != nil {
		return m, err
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.cmd.Process.Kill()
		}
	}()
	for i := 0; i < max(1, pgServers); i++ {
		args := storeArgs
		if pgServers > 0 {
			args = append(append([]string(nil), storeArgs...), "--checkpoint-record", filepath.Join(dir, fmt.Sprintf("server-%d-checkpoints.json", i)))
		}
		s, err := startServer(bin, args, filepath.Join(dir, fmt.Sprintf("server-%d.log", i)))
		if err != nil {
			return m, err
		}
		servers = append(servers, s)
	}
	args := append([]string{"bench", "--addr", servers[0].addr, "--key", agentKey, "--read-key", readKey}, benchArgs...)
	if len(servers) > 1 {
		var rest []string
		for _, s := range servers[1:] {
			rest = append(rest, s.addr)
		}
		args = append(args, "--spread", strings.Join(rest, ","))
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = io.Discard
	out, err := cmd.Output()
	if err != nil {
		return m, fmt.Errorf("agenttrail bench: %w", err)
	}
	m.Bench = json.RawMessage(strings.TrimSpace(string(out)))
	if err := json.Unmarshal(m.Bench, &m.bench); err != nil {
		return m, fmt.Errorf("reading bench's result %q: %w", out, err)
	}
	for _, s := range servers {
		c, err := s.stop()
		if err != nil {
			return m, err
		}
		if pgServers > 0 {
			m.Commits = append(m.Commits, c)
		}
	}
	servers = nil
	return m, nil
}

// server is a running agenttrail serve, logging JSON to a file.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  string
}

func startServer(bin string, storeArgs []string, logPath string) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--http-listen", "off", "--log-format", "json", "--log-level", "info",
		"--rate-limit", "100000", "--rate-burst", "100000"}, storeArgs...)...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, log: logPath}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "agenttrail listening on "); ok {
			s.addr = a
			break
		}
	}
	if s.addr == "" {
		cmd.Process.Kill()
		cmd.Wait()
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("serve did not start:\n%s", b)
	}
	go io.Copy(io.Discard, stdout)
	return s, nil
}

// stop stops the server with SIGTERM and returns the commit statistics it
// logged (zero for Badger, which logs none).
func (s *server) stop() (commits, error) {
	var c commits
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return c, err
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return c, fmt.Errorf("serve after SIGTERM: %w", err)
		}
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		return c, errors.New("serve did not stop within a minute of SIGTERM")
	}
	f, err := os.Open(s.log)
	if err != nil {
		return c, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var l struct {
			Msg string `json:"msg"`
			commits
		}
		if json.Unmarshal(lines.Bytes(), &l) == nil && l.Msg == "postgres commits" {
			c = l.commits
		}
	}
	return c, lines.Err()
}

// report prints one row per measurement, and the ratio of each
// configuration's throughput to Badger's in the same round.
func report(w io.Writer, all []measurement, events, size, streams int) {
	fmt.Fprintf(w, "%d events of %d bytes over %d streams per measurement; PostgreSQL with fsync and synchronous_commit on\n\n", events, size, streams)
	fmt.Fprintf(w, "%-5s %-20s %10s %8s %9s %9s %9s %9s %8s %10s %10s %7s\n",
		"round", "config", "events/s", "×badger", "ack p50", "ack p99", "tail lag", "batches", "ev/batch", "lock p50", "lock p99", "stale")
	base := map[int]float64{}
	for _, m := range all {
		if m.Commits == nil {
			base[m.Round] = m.bench.EventsPerSecond
		}
	}
	for _, m := range all {
		lag := "-"
		if m.bench.QueryableAfterAck != nil {
			lag = fmt.Sprintf("%.1fms", *m.bench.QueryableAfterAck)
		}
		row := fmt.Sprintf("%-5d %-20s %10.0f %8.2f %7.1fms %7.1fms %9s", m.Round, m.Config, m.bench.EventsPerSecond,
			m.bench.EventsPerSecond/base[m.Round], m.bench.AckP50Millis, m.bench.AckP99Millis, lag)
		if m.Commits == nil {
			fmt.Fprintf(w, "%s %9s %8s %10s %10s %7s\n", row, "-", "-", "-", "-", "-")
			continue
		}
		var batches, evs, stale int
		var p50, p99 float64
		for _, c := range m.Commits {
			batches += c.Batches
			evs += c.Events
			stale += c.Stale
			// Weighted by batches: the servers' medians and p99s, averaged.
			p50 += c.LockHoldP50 * float64(c.Batches)
			p99 += c.LockHoldP99 * float64(c.Batches)
		}
		if batches == 0 {
			batches = 1
		}
		fmt.Fprintf(w, "%s %9d %8.1f %8.2fms %8.2fms %7d\n", row, batches, float64(evs)/float64(batches),
			p50/float64(batches)/1e6, p99/float64(batches)/1e6, stale)
	}
	fmt.Fprintln(w, "\ntail lag: from the last receipt to the last event seen by a tail on the first server")
	fmt.Fprintln(w, "lock: how long a batch held log_state's row lock, from the lock's grant to the end of COMMIT")
	fmt.Fprintln(w, "stale: batches another server committed ahead of, prepared again and retried")
}
