package badger

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
	"github.com/agenttrail/agenttrail/store/storetest"
)

var (
	crashIterations = flag.Int("crash.iterations", 20, "kill -9 rounds in TestCrashRecovery (raise for a longer campaign)")
	crashMaxDelay   = flag.Duration("crash.maxdelay", 150*time.Millisecond, "longest a crash round appends before the kill")
)

const crashChildEnv = "AGENTTRAIL_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir, os.Getenv("AGENTTRAIL_STORE_CRASH_ROUND"))
		return
	}
	if dir := os.Getenv(eraseCrashChildEnv); dir != "" {
		eraseCrashChild(dir, os.Getenv("AGENTTRAIL_ERASE_CRASH_STEP"))
		return
	}
	os.Exit(m.Run())
}

// crashEvent is the event a crash child appends under an id; the parent
// regenerates it to check what survived byte for byte.
func crashEvent(id string) *agenttrailv1.Event {
	ev := proto.Clone(storetest.Samples()[2]).(*agenttrailv1.Event)
	ev.EventId = id
	ev.ParentEventId = ""
	ev.OccurredAt = timestamppb.New(storetest.Now)
	ev.GetLlmCall().OutputText = "reply to " + id + strings.Repeat(".", len(id)*7)
	return ev
}

// crashChild appends from several goroutines as fast as it can and prints
// "id index leafhash" for every acknowledged event, until it is killed.
func crashChild(dir, round string) {
	s, err := store.Open(context.Background(), URL(dir), crashLog(dir).Options(
		store.WithBatchLimits(16, 1<<20, 0), store.WithCheckpointInterval(20*time.Millisecond), store.WithCheckpointRecord(crashRecord(dir)))...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	acks := make(chan string, 1024)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for seq := 0; ; seq += 3 {
				var evs []*agenttrailv1.Event
				for k := 0; k < 3; k++ {
					evs = append(evs, crashEvent(fmt.Sprintf("r%s-g%d-%06d", round, g, seq+k)))
				}
				res, err := s.Append(context.Background(), "crash-agent", evs)
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(3)
				}
				for _, r := range res {
					if r.Err != nil {
						fmt.Fprintln(os.Stderr, "child event:", r.Err)
						os.Exit(3)
					}
					acks <- fmt.Sprintf("%s %d %x\n", r.Receipt.EventID, r.Receipt.Index, r.Receipt.LeafHash)
				}
			}
		}(g)
	}
	w := os.Stdout
	for line := range acks {
		if _, err := w.WriteString(line); err != nil {
			os.Exit(4)
		}
	}
}

// crashRecord is the checkpoint record of a crash campaign's log, beside
// its data directory.
func crashRecord(dir string) string { return dir + "-checkpoints.json" }

// crashLog is the log of a crash campaign: its data directory, with the
// signing key kept inside it as older builds did.
func crashLog(dir string) storetest.Log {
	return storetest.Log{URL: URL(dir), KeyFile: dir + "/checkpoint-signing.key"}
}

type ack struct {
	index uint64
	leaf  string
}

// TestCrashRecovery is the driver's own crash test: it kills a process that
// is appending at full speed with
// SIGKILL at random moments, reopens the store, and checks that every
// acknowledged event survived byte for byte, the log has no gaps, and the
// recomputed tree matches every signed checkpoint.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash campaign skipped in -short mode")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := map[string]ack{}
	for round := 0; round < *crashIterations; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "AGENTTRAIL_STORE_CRASH_ROUND="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var lines []string
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				mu.Lock()
				lines = append(lines, sc.Text())
				mu.Unlock()
			}
		}()
		// Let it get going (opening and the first appends), then kill it
		// at a random moment.
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(lines)
			mu.Unlock()
			if n > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(*crashMaxDelay))))
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-readDone
		cmd.Wait()
		if strings.Contains(stderr.String(), "child") {
			t.Fatalf("round %d: child failed: %s", round, stderr.String())
		}
		mu.Lock()
		roundAcks := 0
		fresh := map[string]ack{}
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) != 3 {
				continue // a line cut by the kill
			}
			idx, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				continue
			}
			fresh[f[0]] = ack{idx, f[2]}
			roundAcks++
		}
		mu.Unlock()
		if roundAcks == 0 {
			t.Fatalf("round %d: the child acknowledged nothing (stderr: %s)", round, stderr.String())
		}
		// Check every event acknowledged in this round, and a sample of
		// the earlier rounds' (which later crashes must not lose either).
		check := maps.Clone(fresh)
		for id, a := range acked {
			if rng.IntN(len(acked)) < 300 {
				check[id] = a
			}
		}
		checkAfterCrash(t, dir, check, round)
		maps.Copy(acked, fresh)
	}
	t.Logf("%d crash rounds, %d acknowledged events checked", *crashIterations, len(acked))
}

func checkAfterCrash(t *testing.T, dir string, acked map[string]ack, round int) {
	t.Helper()
	// Offline verification works on the directory as the kill left it,
	// without changing a byte (every fifth round, and the last: it reads
	// everything).
	if round%5 == 4 || round == *crashIterations-1 {
		verifyCrashedReadOnly(t, dir, acked, round)
	}

	// Reopened, the recovered tree is checked against the newest
	// checkpoint and acknowledged tree the record holds, outside the data
	// directory: recovery dropped nothing acknowledged.
	s, err := store.Open(context.Background(), URL(dir), crashLog(dir).Options(store.WithCheckpointRecord(crashRecord(dir)))...)
	if err != nil {
		t.Fatalf("round %d: reopening after kill -9: %v", round, err)
	}
	defer s.Close()
	size, root := s.Size()
	for id, a := range acked {
		e, err := s.GetByID(context.Background(), id, store.HeaderAndContent)
		if err != nil {
			t.Fatalf("round %d: acknowledged event %s (index %d) is gone: %v", round, id, a.index, err)
		}
		if e.Index != a.index || hex.EncodeToString(e.LeafHash[:]) != a.leaf {
			t.Fatalf("round %d: %s is at %d with leaf %x, acknowledged at %d with %s", round, id, e.Index, e.LeafHash, a.index, a.leaf)
		}
		got, err := e.Event()
		if err != nil || !proto.Equal(got, crashEvent(id)) {
			t.Fatalf("round %d: %s reads back different (%v)", round, id, err)
		}
	}
	// No gaps: every index below the size holds an event.
	var n uint64
	for e, err := range s.Scan(context.Background(), store.Query{}) {
		if err != nil {
			t.Fatalf("round %d: scan: %v", round, err)
		}
		if e.Index != n {
			t.Fatalf("round %d: gap: index %d follows %d", round, e.Index, n)
		}
		n++
	}
	if n != size {
		t.Fatalf("round %d: scanned %d events, size says %d", round, n, size)
	}
	rep, err := s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() {
		t.Fatalf("round %d: Verify = %+v, %v", round, rep, err)
	}
	cp := s.LatestCheckpoint()
	if cp.Size != size || cp.Root != root {
		t.Fatalf("round %d: latest checkpoint %d/%x does not cover the tree %d/%x", round, cp.Size, cp.Root, size, root)
	}
}

// verifyCrashedReadOnly verifies a directory as kill -9 left it, read-only:
// every acknowledged event is in the tree, and no byte changed.
func verifyCrashedReadOnly(t *testing.T, dir string, acked map[string]ack, round int) {
	t.Helper()
	before := sums(t, dir)
	vk, err := (storeLocationKey{dir}).verifierKey()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := store.VerifyStorage(context.Background(), URL(dir), vk, store.VerifyWithMasterKeyFile(crashLog(dir).MasterKeyPath()))
	if err != nil || !rep.OK() {
		t.Fatalf("round %d: verifying the crashed directory read-only: %+v, %v", round, rep, err)
	}
	for id, a := range acked {
		if a.index >= rep.TreeSize {
			t.Fatalf("round %d: read-only, the tree holds %d events, but %s was acknowledged at %d", round, rep.TreeSize, id, a.index)
		}
	}
	sameSums(t, before, sums(t, dir))
}

// storeLocationKey reads the verifier key of a crash campaign's log from
// its signing key file.
type storeLocationKey struct{ dir string }

func (k storeLocationKey) verifierKey() (string, error) {
	b, err := os.ReadFile(crashLog(k.dir).KeyFile)
	if err != nil {
		return "", err
	}
	_, vk, err := commitment.ParseSignerKey(strings.TrimSpace(string(b)))
	if err != nil {
		return "", err
	}
	return vk.String(), nil
}
