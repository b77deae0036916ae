package badger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
	"github.com/agenttrail/agenttrail/store/storetest"
)

const eraseCrashChildEnv = "AGENTTRAIL_ERASE_CRASH_CHILD"

// eraseCrashLog is the log of the erasure crash test, in dir: 600 events of
// 12 users over 30 sessions.
func eraseCrashLog(dir string) storetest.Log {
	return storetest.Log{URL: URL(dir), KeyFile: dir + ".signing.key", MasterKeyFile: dir + ".master.key"}
}

func eraseCrashPeople() []storetest.Person {
	var out []storetest.Person
	for i := range 600 {
		p := storetest.Person{ID: fmt.Sprintf("c%03d", i), Session: fmt.Sprintf("s%d", i%30), User: fmt.Sprintf("u%d", i%12), Agent: "a"}
		if i%5 == 0 {
			p.User = ""
		}
		out = append(out, p)
	}
	return out
}

// eraseCrashChild opens the log in dir and erases, killing itself with
// SIGKILL at the step named: a step of the erasure (store.TestHookErasure),
// "dropped" (after the first chunk of keyring records is compacted away), or
// "random:N" (N microseconds into the erasure).
func eraseCrashChild(dir, step string) {
	kill := func() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
	store.TestHookErasure = func(s string, _ uint64) {
		if s == step {
			kill()
		}
	}
	if step == "dropped" {
		testHookDropped = kill
	}
	s, err := store.Open(context.Background(), URL(dir), eraseCrashLog(dir).Options(store.WithRetentionInterval(0))...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	if us, ok := strings.CutPrefix(step, "random:"); ok {
		var n int
		fmt.Sscan(us, &n)
		time.AfterFunc(time.Duration(n)*time.Microsecond, kill)
	}
	// Every other event of the first 520, by id: more keyring records than
	// one compaction drops, none of them adjacent.
	var ids []string
	for i := 0; i < 520; i += 2 {
		ids = append(ids, eventtest.ID(fmt.Sprintf("c%03d", i)))
	}
	_, err = s.Erase(context.Background(), store.ErasureRequest{Principal: "dpo", Reason: "crash test", EventIDs: ids})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child erase:", err)
		os.Exit(3)
	}
	s.Close()
	os.Exit(0)
}

// TestEraseSurvivesKill kills a process at every step of an erasure with
// SIGKILL, and at random moments during the compaction that makes the
// deletion real, then reopens the store: either nothing is erased and
// nothing claimed (killed before the Erasure event committed), or the
// event is there, every event it names shows as erased, and no version of
// their keys is left in the database; the log verifies, and erasing again
// is a no-op that returns the same erasure.
func TestEraseSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash campaign skipped in -short mode")
	}
	steps := []string{"logging", "destroying", "dropped", "destroyed"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for range 3 {
		steps = append(steps, fmt.Sprintf("random:%d", 500+rng.IntN(200_000)))
	}
	for _, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			l := eraseCrashLog(dir)
			s := l.Open(t, store.WithRetentionInterval(0), store.WithBatchLimits(64, 1<<20, 0))
			for _, p := range eraseCrashPeople() {
				storetest.AppendOK(t, s, storetest.PersonEvent(p))
			}
			vk := s.VerifierKey().String()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), eraseCrashChildEnv+"="+dir, "AGENTTRAIL_ERASE_CRASH_STEP="+step)
			out, err := cmd.CombinedOutput()
			killed := false
			if ee, ok := err.(*exec.ExitError); ok {
				ws, _ := ee.Sys().(syscall.WaitStatus)
				killed = ws.Signaled() && ws.Signal() == syscall.SIGKILL
			}
			if !killed && (err != nil || !strings.HasPrefix(step, "random:")) {
				t.Fatalf("the child was not killed at %s: %v\n%s", step, err, out)
			}
			checkErasureAfterCrash(t, l, vk, step)
		})
	}
}

func checkErasureAfterCrash(t *testing.T, l storetest.Log, vk, step string) {
	t.Helper()
	ctx := context.Background()
	s := l.Open(t, store.WithRetentionInterval(0))
	size, _ := s.Size()
	var erasure *store.Entry
	if size > 600 {
		e, err := s.Get(ctx, 600, store.HeaderAndContent)
		if err != nil {
			t.Fatal(err)
		}
		erasure = e
	}
	if step == "logging" && erasure != nil {
		t.Fatalf("killed before the Erasure event, the log has %d events", size)
	}
	var erased int
	for e, err := range s.Scan(ctx, store.Query{Read: store.HeaderAndContent, Filter: store.Filter{ToIndex: 600}}) {
		if err != nil {
			t.Fatal(err)
		}
		want := erasure != nil && e.Index < 520 && e.Index%2 == 0
		switch {
		case want && (e.ContentState != store.ContentErased || e.ErasedBy != 600):
			t.Fatalf("event %d: %v (by %d), want erased by 600", e.Index, e.ContentState, e.ErasedBy)
		case !want && e.ContentState != store.ContentPresent:
			t.Fatalf("event %d: %v, want present", e.Index, e.ContentState)
		case want:
			erased++
		}
	}
	rep, err := s.Verify(ctx, 0, 0)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify after the crash at %s: %+v, %v", step, rep, err)
	}
	// Erasing again: the same erasure, or (killed before it) the erasure.
	var ids []string
	for i := 0; i < 520; i += 2 {
		ids = append(ids, eventtest.ID(fmt.Sprintf("c%03d", i)))
	}
	res, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "again", EventIDs: ids})
	if err != nil || res.Count != 260 || res.Index != 600 || res.AlreadyErased != (erasure != nil) {
		t.Fatalf("Erase after the crash at %s = %+v, %v", step, res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// No version of an erased event's key is left in the database.
	db := rawDB(t, l.URL, l.MasterKey(t).StorageKey())
	err = db.View(func(txn *badgerdb.Txn) error {
		o := badgerdb.DefaultIteratorOptions
		o.AllVersions = true
		o.Prefix = []byte{prefixKeyring, 'e'}
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if i := keyIndex(it.Item().Key()); i < 520 && i%2 == 0 {
				return fmt.Errorf("a version of event %d's key is left", i)
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if erasure != nil {
		t.Logf("killed at %s: the erasure of %d events was finished on reopening", step, erased)
	}
	if rep, err := store.VerifyStorage(ctx, l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath())); err != nil || !rep.OK() {
		t.Fatalf("VerifyStorage: %+v, %v", rep, err)
	}
}
