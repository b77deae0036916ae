package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// The tests of this file run when the harness says that several stores may
// open one storage at once (Harness.Shared): several servers, one log.

// openShared opens n stores on one log, as n servers would: the same
// storage, origin and signing key.
func openShared(t *testing.T, l Log, n int, opts ...store.Option) []*store.Store {
	t.Helper()
	var out []*store.Store
	for i := 0; i < n; i++ {
		out = append(out, l.Open(t, opts...))
	}
	return out
}

// Writers append overlapping ids through several stores on one log at
// once, some identical and some conflicting. No client sees an error:
// exactly one event wins per id, everyone who sent the winner's content
// gets its receipt, the log has no gap, every store's head and tail reach
// every event, the checkpoints form one chain, and the log verifies.
func testSeveralStoresOneLog(t *testing.T, h Harness) {
	if !h.Shared {
		t.Skip("the driver's storage has one writer")
	}
	l := NewLog(t, h)
	// The first store creates the log; the others open it.
	stores := openShared(t, l, 3, store.WithBatchLimits(48, 1<<20, 0), store.WithCheckpointInterval(20*time.Millisecond))

	// A tail on each store, from the start.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const writers, ids = 9, 240
	tails := make([]chan uint64, len(stores))
	for i, s := range stores {
		tails[i] = make(chan uint64, ids+1)
		go func(s *store.Store, out chan<- uint64) {
			for e, err := range s.Scan(ctx, store.Query{Follow: true}) {
				if err != nil {
					return
				}
				out <- e.Index
			}
		}(s, tails[i])
	}

	type outcome struct {
		id      string
		variant int
		res     store.Result
	}
	results := make(chan outcome, writers*ids)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := stores[w%len(stores)]
			for start := 0; start < ids; start += 6 {
				var evs []*agenttrailv1.Event
				var names []string
				var variants []int
				for i := start; i < min(start+6, ids); i++ {
					id := (i*11 + w*17) % ids
					v := 0
					if w >= 6 && id%4 == 0 {
						v = w // conflicting content on every fourth id
					}
					name := eventtest.ID(fmt.Sprintf("shared-%04d", id))
					evs = append(evs, ToolCallEvent(name, v))
					names = append(names, name)
					variants = append(variants, v)
				}
				res, err := s.Append(context.Background(), fmt.Sprintf("writer-%d", w), evs)
				if err != nil {
					t.Errorf("writer %d: Append: %v", w, err)
					return
				}
				for i, r := range res {
					results <- outcome{names[i], variants[i], r}
				}
			}
		}(w)
	}
	wg.Wait()
	close(results)

	winners := map[string]store.Receipt{}
	winning := map[string]int{}
	var all []outcome
	for o := range results {
		all = append(all, o)
		if o.res.Err == nil && !o.res.Receipt.Duplicate {
			if prev, ok := winners[o.id]; ok {
				t.Errorf("%s won twice: indexes %d and %d", o.id, prev.Index, o.res.Receipt.Index)
			}
			winners[o.id], winning[o.id] = o.res.Receipt, o.variant
		}
	}
	if len(winners) != ids {
		t.Fatalf("%d ids won, want %d", len(winners), ids)
	}
	for _, o := range all {
		win := winners[o.id]
		switch {
		case o.variant == winning[o.id] && (o.res.Err != nil || o.res.Receipt.Index != win.Index || o.res.Receipt.LeafHash != win.LeafHash):
			t.Errorf("%s sent as the winner did: got %+v, want receipt %d", o.id, o.res, win.Index)
		case o.variant != winning[o.id] && !errors.Is(o.res.Err, store.ErrAlreadyExists):
			t.Errorf("%s sent with other content: got %+v, want ErrAlreadyExists", o.id, o.res)
		}
	}
	seen := make([]bool, ids)
	for id, r := range winners {
		if r.Index >= ids || seen[r.Index] {
			t.Fatalf("%s: index %d is out of range or taken twice", id, r.Index)
		}
		seen[r.Index] = true
	}

	// Every store's head reaches the whole log, and its tail delivers
	// every index once, in order.
	for i, s := range stores {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if size, _ := s.Size(); size == ids {
				break
			}
			if time.Now().After(deadline) {
				size, _ := s.Size()
				t.Fatalf("store %d: head at %d after 10s, want %d", i, size, ids)
			}
			time.Sleep(5 * time.Millisecond)
		}
		var got []uint64
		timeout := time.After(10 * time.Second)
		for len(got) < ids {
			select {
			case idx := <-tails[i]:
				got = append(got, idx)
			case <-timeout:
				t.Fatalf("store %d: the tail delivered %d of %d events", i, len(got), ids)
			}
		}
		want := make([]uint64, ids)
		for k := range want {
			want[k] = uint64(k)
		}
		if !slices.Equal(got, want) {
			t.Errorf("store %d: the tail delivered %v, want 0..%d in order", i, head(got), ids-1)
		}
	}

	// The stores agree on the tree; every stored checkpoint is consistent
	// with the final tree.
	size, root := stores[0].Size()
	for i, s := range stores[1:] {
		if sz, r := s.Size(); sz != size || r != root {
			t.Errorf("store %d: tree %d %x, store 0 has %d %x", i+1, sz, r, size, root)
		}
	}
	n := 0
	err := stores[1].Checkpoints(context.Background(), func(cp store.Checkpoint) bool {
		n++
		p, err := stores[2].ConsistencyProof(context.Background(), cp.Size, size)
		if err != nil {
			t.Errorf("consistency %d -> %d: %v", cp.Size, size, err)
			return true
		}
		if err := tlog.CheckTree(tlog.TreeProof(toTlog(p)), int64(size), root, int64(cp.Size), cp.Root); err != nil {
			t.Errorf("checkpoint of size %d is not consistent with the tree of size %d: %v", cp.Size, size, err)
		}
		return true
	})
	if err != nil || n == 0 {
		t.Errorf("Checkpoints: %d read, %v", n, err)
	}
	rep, err := stores[2].Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	vk := stores[0].VerifierKey().String()
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = store.VerifyStorage(context.Background(), l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	if err != nil || !rep.OK() || rep.TreeSize != ids {
		t.Errorf("VerifyStorage = %+v, %v", rep, err)
	}
	if h.WrittenOnce != nil {
		h.WrittenOnce(t, l.URL, l.MasterKey(t).StorageKey())
	}
}

// openSharedDriver makes a log and opens its driver, which must be a
// store.SharedDriver, for a test to wrap. It skips the test when the
// driver's storage has one writer.
func openSharedDriver(t *testing.T, h Harness) (Log, store.SharedDriver) {
	t.Helper()
	if !h.Shared {
		t.Skip("the driver's storage has one writer")
	}
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	sd, ok := d.(store.SharedDriver)
	if !ok {
		d.Close()
		t.Fatal("Harness.Shared is set but the driver is not a store.SharedDriver")
	}
	return l, sd
}

// sharedFaults wraps a shared driver to make its next commit fail: before
// anything is written, or after the commit became durable (its answer
// lost). It keeps the driver's Changes, so the engine treats it as shared.
type sharedFaults struct {
	store.SharedDriver
	mu            sync.Mutex
	before, after int
}

func (f *sharedFaults) Commit(ctx context.Context, b *store.Batch) error {
	f.mu.Lock()
	before, after := f.before > 0, f.after > 0
	if before {
		f.before--
	} else if after {
		f.after--
	}
	f.mu.Unlock()
	if before {
		return fmt.Errorf("%w: %w", store.ErrFailed, errInjected)
	}
	err := f.SharedDriver.Commit(ctx, b)
	if err == nil && after {
		return fmt.Errorf("%w: %w", store.ErrFailed, errInjected)
	}
	return err
}

// On a shared driver, a commit that fails, or whose answer is lost, does
// not stop the store: the engine finds out from the log whether the batch
// is there and commits it if not. The client sees receipts, the log no gap
// and no duplicate.
func testSharedCommitFailuresAreResolved(t *testing.T, h Harness) {
	l, sd := openSharedDriver(t, h)
	fd := &sharedFaults{SharedDriver: sd}
	s, err := store.New(context.Background(), fd, l.Options(store.WithCheckpointInterval(0))...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var want []store.Receipt
	want = append(want, AppendOK(t, s, numbered("a", 3)...)...)
	for round, arm := range []func(){
		func() { fd.mu.Lock(); fd.before = 2; fd.mu.Unlock() },
		func() { fd.mu.Lock(); fd.after = 1; fd.mu.Unlock() },
		func() { fd.mu.Lock(); fd.before, fd.after = 1, 1; fd.mu.Unlock() },
	} {
		arm()
		got := AppendOK(t, s, numbered(fmt.Sprintf("r%d", round), 4)...)
		for i, r := range got {
			if r.Duplicate || r.Index != uint64(len(want)+i) {
				t.Errorf("round %d, event %d: %+v, want a new event at %d", round, i, r, len(want)+i)
			}
		}
		want = append(want, got...)
	}
	if size, _ := s.Size(); size != uint64(len(want)) {
		t.Errorf("size %d, want %d", size, len(want))
	}
	for _, r := range want {
		e, err := s.GetByID(context.Background(), r.EventID, store.HeaderOnly)
		if err != nil || e.Index != r.Index || e.LeafHash != r.LeafHash {
			t.Errorf("acknowledged %s at %d: got %v, %v", r.EventID, r.Index, e, err)
		}
	}
	rep, err := s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
	// A changed event under a stored id is still AlreadyExists.
	ev := proto.Clone(numbered("a", 1)[0]).(*agenttrailv1.Event)
	ev.GetToolCall().Result = "changed"
	res, err := s.Append(context.Background(), "agent-1", []*agenttrailv1.Event{ev})
	if err != nil || !errors.Is(res[0].Err, store.ErrAlreadyExists) {
		t.Errorf("changed event: %+v, %v; want ErrAlreadyExists", res, err)
	}
}

// gatedShared wraps a shared driver to hold its next commit until
// released, and to tell when the engine looks up a given event id (as the
// sequencer does while it prepares a batch holding it).
type gatedShared struct {
	store.SharedDriver
	mu      sync.Mutex
	hold    bool
	entered chan struct{}
	release chan struct{}
	watch   string
	seen    chan struct{}
}

func (g *gatedShared) Commit(ctx context.Context, b *store.Batch) error {
	g.mu.Lock()
	hold := g.hold
	g.hold = false
	g.mu.Unlock()
	if hold {
		close(g.entered)
		<-g.release
	}
	return g.SharedDriver.Commit(ctx, b)
}

func (g *gatedShared) LookupIDs(ctx context.Context, ids []string) (map[string]uint64, error) {
	g.mu.Lock()
	if g.watch != "" && slices.Contains(ids, g.watch) {
		g.watch = ""
		close(g.seen)
	}
	g.mu.Unlock()
	return g.SharedDriver.LookupIDs(ctx, ids)
}

// A store prepares batch B on the tree of batch A before A commits. Another
// server then stores A's events, as many as A has, so A turns out to be
// stored and is dropped, and the log reaches the very size B starts at, with
// other leaves. B must be prepared again on the stored tree, not committed
// with tree hashes computed on A's leaves: the log verifies, and every
// receipt is at its stored event.
func testSharedBatchAfterDroppedBatch(t *testing.T, h Harness) {
	l, sd := openSharedDriver(t, h)
	g := &gatedShared{SharedDriver: sd}
	// Batches of at most 4 events: a batch of 2 is prepared at once even
	// while the committer is busy.
	opts := []store.Option{store.WithBatchLimits(4, 1<<20, 0), store.WithCheckpointInterval(0)}
	s1, err := store.New(context.Background(), g, l.Options(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2 := l.Open(t, opts...)
	AppendOK(t, s1, numbered("base", 3)...)

	evA, evB := numbered("a", 2), numbered("b", 2)
	g.mu.Lock()
	g.hold, g.entered, g.release = true, make(chan struct{}), make(chan struct{})
	g.watch, g.seen = evB[0].GetEventId(), make(chan struct{})
	g.mu.Unlock()
	released := false
	defer func() {
		if !released {
			close(g.release)
		}
	}()
	type answer struct {
		res []store.Result
		err error
	}
	ansA, ansB := make(chan answer, 1), make(chan answer, 1)
	go func() {
		res, err := s1.Append(context.Background(), "agent-1", evA)
		ansA <- answer{res, err}
	}()
	waitFor := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	waitFor(g.entered, "batch A's commit")
	go func() {
		res, err := s1.Append(context.Background(), "agent-1", evB)
		ansB <- answer{res, err}
	}()
	// Batch B's ids are looked up while it is prepared, on A's tree.
	waitFor(g.seen, "batch B being prepared")
	// Another server stores A's events first.
	fromS2 := AppendOK(t, s2, evA...)
	close(g.release)
	released = true

	get := func(ch <-chan answer, what string) []store.Result {
		t.Helper()
		select {
		case a := <-ch:
			if a.err != nil {
				t.Fatalf("%s: Append: %v", what, a.err)
			}
			return a.res
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out waiting for %s's answer", what)
			return nil
		}
	}
	resA, resB := get(ansA, "batch A"), get(ansB, "batch B")
	for i, r := range resA {
		if r.Err != nil || r.Receipt.Index != fromS2[i].Index || r.Receipt.LeafHash != fromS2[i].LeafHash {
			t.Errorf("batch A, event %d: got %+v, want the other server's receipt %d", i, r, fromS2[i].Index)
		}
	}
	for i, r := range resB {
		if r.Err != nil || r.Receipt.Duplicate || r.Receipt.Index != uint64(5+i) {
			t.Errorf("batch B, event %d: got %+v, want a new event at %d", i, r, 5+i)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if size, _ := s2.Size(); size == 7 {
			break
		}
		if time.Now().After(deadline) {
			size, _ := s2.Size()
			t.Fatalf("the other server's head at %d after 10s, want 7", size)
		}
	}
	for _, s := range []*store.Store{s1, s2} {
		rep, err := s.Verify(context.Background(), 0, 0)
		if err != nil || !rep.OK() || rep.TreeSize != 7 {
			t.Errorf("Verify = %+v, %v; want a log of 7 that verifies", rep, err)
		}
	}
}
