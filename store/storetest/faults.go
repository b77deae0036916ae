package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// faultyDriver wraps a driver to fail its next commit: before writing
// anything, or after the commit became durable (as when the process dies
// between the commit and the acknowledgement).
type faultyDriver struct {
	store.Driver
	mu         sync.Mutex
	failBefore bool
	failAfter  bool
}

var errInjected = errors.New("injected fault")

func (f *faultyDriver) Commit(ctx context.Context, b *store.Batch) error {
	f.mu.Lock()
	before, after := f.failBefore, f.failAfter
	f.failBefore, f.failAfter = false, false
	f.mu.Unlock()
	if before {
		return errInjected
	}
	err := f.Driver.Commit(ctx, b)
	if err == nil && after {
		return errInjected
	}
	return err
}

func (f *faultyDriver) arm(before, after bool) {
	f.mu.Lock()
	f.failBefore, f.failAfter = before, after
	f.mu.Unlock()
}

// openFaulty runs the engine over the log's driver wrapped in a
// faultyDriver.
func openFaulty(t *testing.T, l Log) (*store.Store, *faultyDriver) {
	t.Helper()
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	fd := &faultyDriver{Driver: d}
	s, err := store.New(context.Background(), fd, l.Options(store.WithCheckpointInterval(0))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fd
}

func numbered(prefix string, n int) []*agenttrailv1.Event {
	var evs []*agenttrailv1.Event
	for i := range n {
		evs = append(evs, ToolCallEvent(eventtest.ID(fmt.Sprintf("%s-%03d", prefix, i)), i))
	}
	return evs
}

// A commit that fails before writing fails its batch and every later
// append, until the store is reopened; reopened, the log holds exactly the
// acknowledged events, and the failed ones append after them with no gap.
func testCommitFailureStopsAppends(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s, fd := openFaulty(t, l)
	acked := AppendOK(t, s, numbered("a", 5)...)
	fd.arm(true, false)
	lost := numbered("b", 3)
	if _, err := s.Append(context.Background(), "agent-1", lost); !errors.Is(err, store.ErrFailed) {
		t.Fatalf("Append over a failing commit = %v, want ErrFailed", err)
	}
	if _, err := s.Append(context.Background(), "agent-1", numbered("c", 1)); !errors.Is(err, store.ErrFailed) {
		t.Errorf("Append after a failed commit = %v, want ErrFailed until reopened", err)
	}
	if err := s.Close(); err != nil {
		t.Logf("Close after a failure: %v", err)
	}
	s = l.Open(t)
	if size, _ := s.Size(); size != uint64(len(acked)) {
		t.Fatalf("after reopen: size %d, want the %d acknowledged events", size, len(acked))
	}
	for _, r := range acked {
		e, err := s.GetByID(context.Background(), r.EventID, store.HeaderOnly)
		if err != nil || e.Index != r.Index || e.LeafHash != r.LeafHash {
			t.Errorf("acknowledged %s at %d: got %v, %v", r.EventID, r.Index, e, err)
		}
	}
	again := AppendOK(t, s, lost...)
	for i, r := range again {
		if r.Duplicate || r.Index != uint64(len(acked)+i) {
			t.Errorf("re-append %d: %+v, want a new event at %d", i, r, len(acked)+i)
		}
	}
	rep, err := s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() {
		t.Errorf("Verify = %+v, %v", rep, err)
	}
}

// A commit that became durable but whose acknowledgement was lost: after a
// reopen the events are there, and appending them again returns their
// receipts as duplicates.
func testCommitDurableButUnacknowledged(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s, fd := openFaulty(t, l)
	AppendOK(t, s, numbered("a", 4)...)
	fd.arm(false, true)
	unacked := numbered("b", 3)
	if _, err := s.Append(context.Background(), "agent-1", unacked); !errors.Is(err, store.ErrFailed) {
		t.Fatalf("Append whose acknowledgement is lost = %v, want ErrFailed", err)
	}
	s.Close()
	s = l.Open(t)
	if size, _ := s.Size(); size != 7 {
		t.Fatalf("after reopen: size %d, want 7 (the durable batch is there)", size)
	}
	again := AppendOK(t, s, unacked...)
	for i, r := range again {
		if !r.Duplicate || r.Index != uint64(4+i) {
			t.Errorf("re-append %d: %+v, want the durable event at %d marked duplicate", i, r, 4+i)
		}
	}
	if cp := s.LatestCheckpoint(); cp.Size != 7 {
		t.Errorf("latest checkpoint covers %d, want 7: opening signs what was committed", cp.Size)
	}
}

// driverOfThree appends three events (numbered "a") to a new log and
// opens its driver directly. It returns the log, the driver, the log's
// verifier key and the stored records of its last event.
func driverOfThree(t *testing.T, h Harness) (Log, store.Driver, string, store.RawEntry) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0))
	AppendOK(t, s, numbered("a", 3)...)
	vk := s.VerifierKey().String()
	s.Close()
	d := l.Driver(t)
	raw, err := d.ReadEntries(context.Background(), []uint64{2}, true)
	if err != nil {
		t.Fatal(err)
	}
	return l, d, vk, raw[0]
}

// The driver itself refuses a batch that does not start at the stored size,
// and one whose event id is stored, writing nothing.
func testDriverFencesBatches(t *testing.T, h Harness) {
	l, d, vk, raw := driverOfThree(t, h)
	ctx := context.Background()
	ev := store.BatchEvent{EventID: "fenced", LeafData: raw.LeafData, Content: raw.Content}
	for _, first := range []uint64{0, 2, 4} {
		b := &store.Batch{First: first, Events: []store.BatchEvent{ev}, Hashes: [][store.HashSize]byte{{1}}, Size: first + 1}
		if err := d.Commit(ctx, b); !errors.Is(err, store.ErrStale) {
			t.Errorf("Commit at %d of a log of size 3 = %v, want ErrStale", first, err)
		}
	}
	dup := ev
	dup.EventID = eventtest.ID("a-001")
	b := &store.Batch{First: 3, Events: []store.BatchEvent{dup}, Hashes: [][store.HashSize]byte{{1}}, Size: 4}
	if err := d.Commit(ctx, b); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("Commit of a stored event id = %v, want ErrAlreadyExists", err)
	}
	if st, err := d.Load(ctx); err != nil || st.Size != 3 {
		t.Errorf("after refused commits: Load = %+v, %v; want size 3", st, err)
	}
	if _, err := d.ReadEntries(ctx, []uint64{3}, false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ReadEntries(3) after refused commits = %v, want ErrNotFound", err)
	}
	d.Close()
	rep, err := store.VerifyStorage(ctx, l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	if err != nil || !rep.OK() || rep.TreeSize != 3 {
		t.Errorf("VerifyStorage after refused commits = %+v, %v", rep, err)
	}
}

// A batch whose ids the engine looked up at a tree size (IDsLookedUpAt) is
// still refused for an id stored since then, by the driver's own batch or
// any other; a batch looked up at zero, for an id stored anywhere.
func testDriverChecksIDsSinceLookup(t *testing.T, h Harness) {
	_, d, _, raw := driverOfThree(t, h)
	ctx := context.Background()
	batch := func(first, lookedUpAt uint64, names ...string) *store.Batch {
		b := &store.Batch{First: first, Size: first + uint64(len(names)), IDsLookedUpAt: lookedUpAt}
		for _, n := range names {
			b.Events = append(b.Events, store.BatchEvent{EventID: eventtest.ID(n), LeafData: raw.LeafData, Content: raw.Content})
			b.Hashes = append(b.Hashes, [store.HashSize]byte{1})
		}
		return b
	}
	if err := d.Commit(ctx, batch(3, 3, "b-1", "b-2")); err != nil {
		t.Fatalf("Commit of new ids looked up at 3 = %v, want nil", err)
	}
	for _, tc := range []struct {
		name       string
		lookedUpAt uint64
	}{
		{"b-2", 3}, // stored at 4, by this driver, since the lookup
		{"b-1", 0},
		{"a-002", 0}, // stored before the driver opened
		{"a-002", 2},
	} {
		if err := d.Commit(ctx, batch(5, tc.lookedUpAt, "c-1", tc.name)); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("Commit of stored id %s looked up at %d = %v, want ErrAlreadyExists", tc.name, tc.lookedUpAt, err)
		}
	}
	if st, err := d.Load(ctx); err != nil || st.Size != 5 {
		t.Errorf("after refused commits: Load = %+v, %v; want size 5", st, err)
	}
	if err := d.Commit(ctx, batch(5, 5, "c-1")); err != nil {
		t.Errorf("Commit of a new id after refused commits = %v, want nil", err)
	}
}

// LookupIDs sees every batch whose Commit has returned, whatever lookups
// ran before it (a driver may keep what a lookup reads between calls, as
// Badger's keeps a snapshot), while other lookups run beside the commits.
func testLookupSeesCommittedBatches(t *testing.T, h Harness) {
	_, d, _, raw := driverOfThree(t, h)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // lookups beside the commits
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := d.LookupIDs(ctx, []string{eventtest.ID("a-001"), eventtest.ID("d-0")}); err != nil {
				t.Errorf("LookupIDs beside commits: %v", err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 20 {
		first := uint64(3 + 2*i)
		ids := []string{eventtest.ID(fmt.Sprintf("d-%d", 2*i)), eventtest.ID(fmt.Sprintf("d-%d", 2*i+1))}
		if got, err := d.LookupIDs(ctx, ids); err != nil || len(got) != 0 {
			t.Fatalf("batch %d: LookupIDs before its commit = %v, %v; want none", i, got, err)
		}
		b := &store.Batch{First: first, Size: first + 2, IDsLookedUpAt: first}
		for _, id := range ids {
			b.Events = append(b.Events, store.BatchEvent{EventID: id, LeafData: raw.LeafData, Content: raw.Content})
			b.Hashes = append(b.Hashes, [store.HashSize]byte{1})
		}
		if err := d.Commit(ctx, b); err != nil {
			t.Fatalf("batch %d: Commit: %v", i, err)
		}
		got, err := d.LookupIDs(ctx, ids)
		if err != nil || got[ids[0]] != first || got[ids[1]] != first+1 {
			t.Fatalf("batch %d: LookupIDs after its commit = %v, %v; want %s at %d and %s at %d", i, got, err, ids[0], first, ids[1], first+1)
		}
	}
}

// Ids are found whatever order they were stored in and whatever their
// form: a driver that skips reads for ids sorting after every stored one
// (most new ids are UUIDv7, made in time order) still finds an id stored
// after a greater one, and one that sorts first or between, in any case
// of letters, and finds nothing for ids it does not hold on either side.
func testLookupFindsIDsInAnyOrder(t *testing.T, h Harness) {
	_, d, _, raw := driverOfThree(t, h)
	ctx := context.Background()
	batches := [][]string{
		{"ffffffff-ffff-7fff-bfff-fffffffffff0"},
		{"00000000-0000-7000-8000-000000000001", "7fffffff-0000-7000-8000-000000000000"},
		{"FFFFFFFF-0000-4000-8000-000000000000", "ffffffff-ffff-7fff-bfff-ffffffffffe0", "not-a-uuid"},
	}
	stored := map[string]uint64{}
	first := uint64(3)
	for i, ids := range batches {
		b := &store.Batch{First: first, Size: first + uint64(len(ids)), IDsLookedUpAt: first}
		for j, id := range ids {
			b.Events = append(b.Events, store.BatchEvent{EventID: id, LeafData: raw.LeafData, Content: raw.Content})
			b.Hashes = append(b.Hashes, [store.HashSize]byte{byte(i + 1), byte(j)})
			stored[id] = first + uint64(j)
		}
		if err := d.Commit(ctx, b); err != nil {
			t.Fatalf("batch %d: Commit: %v", i, err)
		}
		first = b.Size
		var all []string
		for id := range stored {
			all = append(all, id)
		}
		absent := []string{
			"ffffffff-ffff-7fff-bfff-ffffffffffff", // after every stored id
			"00000000-0000-7000-8000-000000000000", // before
			"80000000-0000-7000-8000-000000000000", // between
			"ffffffff-ffff-7fff-bfff-fffffffffff1",
		}
		got, err := d.LookupIDs(ctx, append(all, absent...))
		if err != nil {
			t.Fatalf("after batch %d: LookupIDs: %v", i, err)
		}
		for id, want := range stored {
			if index, ok := got[id]; !ok || index != want {
				t.Errorf("after batch %d: LookupIDs(%s) = %d, %v; want %d", i, id, index, ok, want)
			}
		}
		for _, id := range absent {
			if index, ok := got[id]; ok {
				t.Errorf("after batch %d: LookupIDs(%s) = %d; want not stored", i, id, index)
			}
		}
	}
}

// Credentials are stored once, revoked once, and read back as stored.
func testCredentials(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t)
	ctx := context.Background()
	hash := make([]byte, 32)
	a := store.Credential{ID: "00000000000000aa", Principal: "auditor", Role: "compliance", CreatedAt: Now, CreatedBy: "admin", Hash: hash}
	b := store.Credential{ID: "00000000000000bb", Principal: "bot", Role: "agent", AgentID: "support-agent", CreatedAt: Now.Add(1), CreatedBy: "admin", Hash: hash, ExpiresAt: Now.Add(48 * 3600e9)}
	for _, c := range []store.Credential{a, b} {
		if err := s.AddCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddCredential(ctx, a); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("AddCredential of a stored id = %v, want ErrAlreadyExists", err)
	}
	if err := s.AddCredential(ctx, store.Credential{ID: "x"}); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("AddCredential of an incomplete credential = %v, want ErrInvalidArgument", err)
	}
	got, err := s.Credential(ctx, b.ID)
	if err != nil || got.Principal != b.Principal || got.AgentID != b.AgentID || !got.ExpiresAt.Equal(b.ExpiresAt) || !got.RevokedAt.IsZero() {
		t.Errorf("Credential(%s) = %+v, %v", b.ID, got, err)
	}
	first, err := s.RevokeCredential(ctx, a.ID, Now.Add(60e9))
	if err != nil || !first.RevokedAt.Equal(Now.Add(60e9)) {
		t.Fatalf("RevokeCredential = %+v, %v", first, err)
	}
	second, err := s.RevokeCredential(ctx, a.ID, Now.Add(120e9))
	if err != nil || !second.RevokedAt.Equal(first.RevokedAt) {
		t.Errorf("second RevokeCredential = %+v, %v; want the first revocation kept", second, err)
	}
	if _, err := s.RevokeCredential(ctx, "00000000000000cc", Now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeCredential of an unknown id = %v, want ErrNotFound", err)
	}
	if _, err := s.Credential(ctx, "00000000000000cc"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Credential of an unknown id = %v, want ErrNotFound", err)
	}
	all, err := s.Credentials(ctx)
	if err != nil || len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID || all[0].RevokedAt.IsZero() || all[0].Active(Now.Add(61e9)) {
		t.Errorf("Credentials = %+v, %v; want a (revoked) then b", all, err)
	}
}
