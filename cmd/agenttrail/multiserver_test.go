package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
	"github.com/agenttrail/agenttrail/store/postgres/pgtest"
)

var multiLong = flag.Bool("multiserver.long", false, "TestSeveralServersOneDatabase: the long campaign (a minute of load, several kills and database crashes)")

// pgServe is one "agenttrail serve" process on a PostgreSQL store.
type pgServe struct {
	*served
	name string
	log  *os.File
}

// masterKeyBeside is the master key file the tests keep beside a signing
// key file: a store given by --store has no default.
func masterKeyBeside(keyFile string) string {
	return filepath.Join(filepath.Dir(keyFile), "master.key")
}

func startPGServe(t *testing.T, bin, storeURL, keyFile, name string) *pgServe {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	// Each server keeps its own checkpoint record, as on its own host.
	cmd := exec.Command(bin, "serve", "--store", storeURL, "--signing-key", keyFile, "--master-key-file", masterKeyBeside(keyFile), "--listen", "127.0.0.1:0", "--http-listen", "off",
		"--checkpoint-record", filepath.Join(t.TempDir(), name+"-checkpoints.json"),
		"--checkpoint-interval", "100ms", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &pgServe{served: &served{cmd: cmd, done: make(chan struct{})}, name: name, log: logf}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if addr, ok := strings.CutPrefix(lines.Text(), "agenttrail listening on "); ok {
			s.addr = addr
			break
		}
	}
	if s.addr == "" {
		cmd.Process.Kill()
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("%s did not print its address:\n%s", name, b)
	}
	go io.Copy(io.Discard, stdout)
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	return s
}

// loadAgent appends its own events through whichever server is up,
// keeping at most a window unacknowledged, and sends every event that has
// no receipt again (with the same id) after a stream breaks.
type loadAgent struct {
	id      int
	key     string
	mu      sync.Mutex
	next    int
	pending map[string]*agenttrailv1.Event
	acked   map[string]uint64
	errs    []string
	lastErr error // the last stream's end, for failure messages
}

func (a *loadAgent) newEvent() *agenttrailv1.Event {
	ev := proto.Clone(eventtest.Samples()[3].Event).(*agenttrailv1.Event)
	ev.EventId = fmt.Sprintf("multi-%d-%06d", a.id, a.next)
	ev.SessionId = fmt.Sprintf("multi-session-%d", a.id)
	ev.ParentEventId = ""
	ev.OccurredAt = timestamppb.Now()
	a.next++
	return ev
}

// run streams to servers (chosen in turn from addrs, skipping dead ones)
// until stop is closed and every event has a receipt, or ctx ends.
func (a *loadAgent) run(ctx context.Context, addrs func() []string, stop <-chan struct{}) {
	const window = 64
	for attempt := a.id; ctx.Err() == nil; attempt++ {
		select {
		case <-stop:
			a.mu.Lock()
			n := len(a.pending)
			a.mu.Unlock()
			if n == 0 {
				return
			}
		default:
		}
		list := addrs()
		addr := list[attempt%len(list)]
		c, err := client.New(addr, client.WithInsecure(), client.WithAPIKey(a.key))
		if err != nil {
			a.mu.Lock()
			a.lastErr = err
			a.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		a.stream(ctx, c, stop, window)
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

func (a *loadAgent) stream(ctx context.Context, c *client.Client, stop <-chan struct{}, window int) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := agenttrailv1.NewAppendServiceClient(c.Conn()).Append(sctx)
	if err != nil {
		a.mu.Lock()
		a.lastErr = err
		a.mu.Unlock()
		return
	}
	slots := make(chan struct{}, window)
	// Everything not acknowledged goes first, again.
	a.mu.Lock()
	var resend []*agenttrailv1.Event
	for _, ev := range a.pending {
		resend = append(resend, ev)
	}
	a.mu.Unlock()
	slices.SortFunc(resend, func(x, y *agenttrailv1.Event) int { return strings.Compare(x.EventId, y.EventId) })
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for _, ev := range resend {
			select {
			case slots <- struct{}{}:
			case <-sctx.Done():
				return
			}
			if stream.Send(&agenttrailv1.AppendRequest{Event: ev}) != nil {
				return
			}
		}
		for {
			select {
			case slots <- struct{}{}:
			case <-sctx.Done():
				return
			}
			select {
			case <-stop:
				stream.CloseSend()
				return
			default:
			}
			a.mu.Lock()
			ev := a.newEvent()
			a.pending[ev.EventId] = ev
			a.mu.Unlock()
			if stream.Send(&agenttrailv1.AppendRequest{Event: ev}) != nil {
				return
			}
		}
	}()
	for {
		r, err := stream.Recv()
		if err != nil {
			a.mu.Lock()
			a.lastErr = err
			a.mu.Unlock()
			cancel()
			<-sent
			return
		}
		select {
		case <-slots:
		default:
		}
		a.mu.Lock()
		switch {
		case r.GetReceipt() != nil:
			rc := r.GetReceipt()
			if prev, ok := a.acked[rc.GetEventId()]; ok && prev != rc.GetLogIndex() {
				a.errs = append(a.errs, fmt.Sprintf("%s acknowledged at %d, then at %d", rc.GetEventId(), prev, rc.GetLogIndex()))
			}
			a.acked[rc.GetEventId()] = rc.GetLogIndex()
			delete(a.pending, rc.GetEventId())
		case r.GetRejection() != nil:
			if code := codes.Code(r.GetRejection().GetCode()); code != codes.Unavailable && code != codes.Aborted {
				a.errs = append(a.errs, fmt.Sprintf("%s rejected: %v %s", r.GetEventId(), code, r.GetRejection().GetMessage()))
				delete(a.pending, r.GetEventId())
			}
		}
		a.mu.Unlock()
	}
}

// tailer follows the log on one server and records every index it
// receives, in order.
type tailer struct {
	mu      sync.Mutex
	indexes []uint64
	err     error
}

func (tl *tailer) run(ctx context.Context, addr, key string) {
	c, err := client.New(addr, client.WithInsecure(), client.WithAPIKey(key))
	if err != nil {
		tl.err = err
		return
	}
	defer c.Close()
	for e, err := range c.Tail(ctx, &agenttrailv1.Filter{}, nil, client.WithResume(client.RetryPolicy{Initial: 50 * time.Millisecond, Max: time.Second, Attempts: 1000})) {
		if err != nil {
			if ctx.Err() == nil {
				tl.mu.Lock()
				tl.err = err
				tl.mu.Unlock()
			}
			return
		}
		tl.mu.Lock()
		tl.indexes = append(tl.indexes, e.GetStamp().GetLogIndex())
		tl.mu.Unlock()
	}
}

func (tl *tailer) count() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.indexes)
}

// Three servers share one PostgreSQL database. Agents append through all
// three at once; one server is killed with SIGKILL mid-batch (and started
// again), and the database is crashed with pg_ctl stop -m immediate (and
// started again). Afterwards every acknowledged event is at its
// acknowledged index, the log has no gap, its checkpoints form one
// consistent chain (offline verification checks each against the
// recomputed tree), a tail on each server saw every event, and
// `agenttrail verify --store` passes as a read-only database role.
func TestSeveralServersOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three servers and a PostgreSQL cluster")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := pgtest.Start(pgtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db, err := cluster.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	storeURL := cluster.URL(db)
	keyFile := filepath.Join(t.TempDir(), "signing.key")

	// The first key creates the log and its signing key; every server
	// holds that one key.
	newKey := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"keys", "create", "--store", storeURL, "--signing-key", keyFile, "--master-key-file", masterKeyBeside(keyFile)}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("keys create: %v\n%s", err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	agentKey := newKey("--principal", "multi-agent", "--role", "agent")
	auditKey := newKey("--principal", "multi-auditor", "--role", "compliance")

	servers := make([]*pgServe, 3)
	var serversMu sync.Mutex
	for i := range servers {
		servers[i] = startPGServe(t, bin, storeURL, keyFile, fmt.Sprintf("server-%d", i))
	}
	alive := func() []string {
		serversMu.Lock()
		defer serversMu.Unlock()
		var out []string
		for _, s := range servers {
			select {
			case <-s.done:
			default:
				out = append(out, s.addr)
			}
		}
		return out
	}

	tailCtx, stopTails := context.WithCancel(ctx)
	defer stopTails()
	tails := make([]*tailer, len(servers))
	for i, s := range servers {
		tails[i] = &tailer{}
		go tails[i].run(tailCtx, s.addr, auditKey)
	}

	stop := make(chan struct{})
	agents := make([]*loadAgent, 6)
	var wg sync.WaitGroup
	for i := range agents {
		agents[i] = &loadAgent{id: i, key: agentKey, pending: map[string]*agenttrailv1.Event{}, acked: map[string]uint64{}}
		wg.Add(1)
		go func(a *loadAgent) {
			defer wg.Done()
			a.run(ctx, alive, stop)
		}(agents[i])
	}
	ackedCount := func() int {
		n := 0
		for _, a := range agents {
			a.mu.Lock()
			n += len(a.acked)
			a.mu.Unlock()
		}
		return n
	}
	waitLimit := 2 * time.Minute
	if d := os.Getenv("MULTI_WAIT"); d != "" {
		waitLimit, _ = time.ParseDuration(d)
	}
	began := time.Now()
	waitAcked := func(n int, what string) {
		t.Helper()
		defer func() { t.Logf("%6.2fs %s: %d receipts", time.Since(began).Seconds(), what, ackedCount()) }()
		deadline := time.Now().Add(waitLimit)
		for ackedCount() < n {
			if time.Now().After(deadline) {
				for _, a := range agents {
					a.mu.Lock()
					t.Logf("agent %d: %d acknowledged, %d pending, last stream error: %v", a.id, len(a.acked), len(a.pending), a.lastErr)
					a.mu.Unlock()
				}
				for _, s := range servers {
					b, _ := os.ReadFile(s.log.Name())
					t.Logf("%s log:\n%s", s.name, b)
				}
				t.Fatalf("%s: %d receipts after 2 minutes, want %d", what, ackedCount(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	rounds, perRound := 1, 600
	if *multiLong {
		rounds, perRound = 5, 20000
	}
	for round := 0; round < rounds; round++ {
		waitAcked(ackedCount()+perRound, fmt.Sprintf("round %d, before the kill", round))
		// kill -9 one server while batches flow through it, then start it
		// again with a fresh tail.
		victim := round % len(servers)
		if err := servers[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-servers[victim].done
		waitAcked(ackedCount()+perRound/3, fmt.Sprintf("round %d, after the kill", round))
		restarted := startPGServe(t, bin, storeURL, keyFile, fmt.Sprintf("server-%d-again-%d", victim, round))
		serversMu.Lock()
		servers[victim] = restarted
		serversMu.Unlock()
		// The restarted server's tail starts at 0; it replaces the tail of
		// the killed one, which ended with it.
		tails[victim] = &tailer{}
		go tails[victim].run(tailCtx, restarted.addr, auditKey)

		// Crash the database while appends flow, and start it again.
		waitAcked(ackedCount()+perRound/3, fmt.Sprintf("round %d, before the database crash", round))
		if err := cluster.StopServer("immediate"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if err := cluster.Restart(); err != nil {
			t.Fatal(err)
		}
		waitAcked(ackedCount()+perRound/3, fmt.Sprintf("round %d, after the database crash", round))
	}
	close(stop)
	wg.Wait()

	acked := map[string]uint64{}
	for _, a := range agents {
		for _, e := range a.errs {
			t.Error(e)
		}
		for id, idx := range a.acked {
			acked[id] = idx
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A tail on every server reaches the whole log: the tails of servers
	// never killed rode out the kills and the crashes; a restarted
	// server's tail began at 0.
	var size uint64
	{
		d, err := store.OpenDriver(ctx, storeURL, store.DriverConfig{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		st, err := d.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		size = st.Size
		ids := make([]string, 0, len(acked))
		for id := range acked {
			ids = append(ids, id)
		}
		found, err := d.LookupIDs(ctx, ids)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		for id, idx := range acked {
			if at, ok := found[id]; !ok || at != idx {
				t.Errorf("%s was acknowledged at %d, the log has it at %d (stored: %v)", id, idx, at, ok)
			}
			if idx >= size {
				t.Errorf("%s was acknowledged at %d, beyond the log's size %d", id, idx, size)
			}
		}
	}
	for i, tl := range tails {
		deadline := time.Now().Add(time.Minute + time.Duration(size)*time.Millisecond)
		for uint64(tl.count()) < size && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		tl.mu.Lock()
		got, terr := tl.indexes, tl.err
		tl.mu.Unlock()
		if terr != nil {
			t.Errorf("tail %d ended: %v", i, terr)
		}
		// (The log grows after size was read: the tails' own access
		// records.)
		if uint64(len(got)) < size {
			t.Errorf("tail %d saw %d events, the log has %d", i, len(got), size)
			continue
		}
		for k, idx := range got {
			if idx != uint64(k) {
				t.Errorf("tail %d: event %d of the stream is index %d: a gap or a repeat", i, k, idx)
				break
			}
		}
	}
	stopTails()

	// Stop every server cleanly, then verify the whole log offline, from
	// its rows, as a read-only role.
	for _, s := range servers {
		s.cmd.Process.Signal(syscall.SIGTERM)
		<-s.done
		if s.err != nil {
			b, _ := os.ReadFile(s.log.Name())
			t.Errorf("%s after SIGTERM: %v\n%s", s.name, s.err, b)
		}
	}
	if err := cluster.Exec(ctx, db, `CREATE ROLE multi_reader LOGIN`, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO multi_reader`); err != nil {
		t.Fatal(err)
	}
	vk, err := (storeLocation{url: storeURL, signingKey: keyFile}).localVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", "--store", cluster.URLAs("multi_reader", db), "--verifier-key", vk, "--master-key-file", masterKeyBeside(keyFile)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "data verified") {
		t.Fatalf("verify --store as a read-only role: %v\n%s", err, out)
	}
	// Export from the database as the read-only role, and verify the
	// bundle without any server.
	bundle := filepath.Join(t.TempDir(), "export.jsonl")
	exp := exec.Command(bin, "export", "--store", cluster.URLAs("multi_reader", db), "--verifier-key", vk, "--master-key-file", masterKeyBeside(keyFile), "--session", "multi-session-1")
	bf, err := os.Create(bundle)
	if err != nil {
		t.Fatal(err)
	}
	exp.Stdout = bf
	var expErr strings.Builder
	exp.Stderr = &expErr
	err = exp.Run()
	bf.Close()
	if err != nil {
		t.Fatalf("export --store as a read-only role: %v\n%s", err, expErr.String())
	}
	out2, err := exec.Command(bin, "verify", "--export", bundle, "--verifier-key", vk).CombinedOutput()
	if err != nil || !strings.Contains(string(out2), "export verified") {
		t.Fatalf("verify --export of the read-only export: %v\n%s", err, out2)
	}
	agents[1].mu.Lock()
	wantExported := len(agents[1].acked)
	agents[1].mu.Unlock()
	if !strings.Contains(string(out2), fmt.Sprintf("export verified: %d events", wantExported)) && wantExported > 0 {
		t.Errorf("the export of agent 1's session holds another count than its %d acknowledged events:\n%s", wantExported, out2)
	}

	var verified uint64
	if _, err := fmt.Sscanf(string(out), "tree size %d", &verified); err != nil || verified < size {
		t.Errorf("verify covered a tree of %d events, the log had %d before the servers stopped:\n%s", verified, size, out)
	}
	t.Logf("%d events acknowledged through 3 servers across %d kill -9 and %d database crashes; log of %d verified", len(acked), rounds, rounds, size)
}

// TestMain stops the PostgreSQL cluster the tests share, if one started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
