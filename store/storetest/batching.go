package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// gatedDriver wraps a driver to hold its first commit until released, and
// notes the number of events of every batch it commits.
type gatedDriver struct {
	store.Driver
	entered chan struct{} // closed when the first commit has begun
	release chan struct{} // closed to let the first commit go on
	once    sync.Once
	mu      sync.Mutex
	sizes   []int
}

func (g *gatedDriver) Commit(ctx context.Context, b *store.Batch) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	err := g.Driver.Commit(ctx, b)
	if err == nil {
		g.mu.Lock()
		g.sizes = append(g.sizes, len(b.Events))
		g.mu.Unlock()
	}
	return err
}

// openGated opens a store on a new log whose driver holds its first commit
// (gatedDriver).
func openGated(t *testing.T, h Harness, opts ...store.Option) (*store.Store, *gatedDriver) {
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedDriver{Driver: d, entered: make(chan struct{}), release: make(chan struct{})}
	s, err := store.New(context.Background(), g, l.Options(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, g
}

// While the committer is busy, the appends that arrive meanwhile gather
// into one batch that commits once it is free, rather than each becoming a
// batch of its own that queues behind the others for a commit of its own.
// (An append to an idle store commits at once: every other test would
// hang otherwise.)
func testBatchesGrowWhileCommitting(t *testing.T, h Harness) {
	s, g := openGated(t, h, store.WithCheckpointInterval(time.Hour))
	ctx := context.Background()
	evs := numbered("gather", 6)
	first, err := s.Submit(ctx, "agent", evs[:1])
	if err != nil {
		t.Fatal(err)
	}
	<-g.entered
	var tickets []*store.Ticket
	for _, ev := range evs[1:] {
		tk, err := s.Submit(ctx, "agent", []*agenttrailv1.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
		// Give the sequencer time to take the request off its queue
		// before the next arrives: with the policy the requests join one
		// batch however long that takes (those still queued join it once
		// the committer is free); without it, each request taken while
		// the commit runs becomes a batch of its own.
		time.Sleep(20 * time.Millisecond)
	}
	close(g.release)
	for _, tk := range append([]*store.Ticket{first}, tickets...) {
		res, err := tk.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if want := []int{1, 5}; !slices.Equal(g.sizes, want) {
		t.Errorf("batch sizes %v, want %v: appends that queue while a commit runs must join one batch", g.sizes, want)
	}
}

// budgetDriver wraps a driver with a batch budget of its own (each event
// costs 100, a batch at most 350: three events), and notes the events of
// every batch it commits, holding the first commit like gatedDriver.
type budgetDriver struct {
	gatedDriver
}

func (b *budgetDriver) EventCost(size, indexed int) int { return 100 }
func (b *budgetDriver) MaxBatchCost() int               { return 350 }

// The sequencer keeps to a driver's batch budget (store.BatchBudget): a
// batch ends before it would cost more, and an Append call that costs more
// than one batch commits as consecutive batches, its events in order,
// answered once all of them are durable. The driver's own budget takes its
// largest event in a batch of its own.
func testBatchBudget(t *testing.T, h Harness) {
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if bb, ok := d.(store.BatchBudget); ok {
		largest := bb.EventCost(1<<20+256, 128+5*256) // the default largest event, the longest principal and identifiers
		if largest < 1 || largest > bb.MaxBatchCost() {
			t.Errorf("EventCost of the largest event is %d, MaxBatchCost %d: it must fit in a batch of its own", largest, bb.MaxBatchCost())
		}
	}
	g := &budgetDriver{gatedDriver{Driver: d, entered: make(chan struct{}), release: make(chan struct{})}}
	s, err := store.New(context.Background(), g, l.Options(store.WithCheckpointInterval(time.Hour))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	evs := numbered("budget", 12)
	first, err := s.Submit(ctx, "agent", evs[:1])
	if err != nil {
		t.Fatal(err)
	}
	<-g.entered
	// Two calls of two events queue while the first commits: without the
	// budget they would join one batch of four.
	var tickets []*store.Ticket
	for _, call := range [][]*agenttrailv1.Event{evs[1:3], evs[3:5], evs[5:12]} {
		tk, err := s.Submit(ctx, "agent", call)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	close(g.release)
	var got []uint64
	for _, tk := range append([]*store.Ticket{first}, tickets...) {
		res, err := tk.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			got = append(got, r.Receipt.Index)
		}
		select {
		case <-tk.Done():
		default:
			t.Errorf("Done is open after Wait returned")
		}
	}
	for i, idx := range got {
		if idx != uint64(i) {
			t.Fatalf("receipt %d has index %d, want %d: the events of the calls must commit in order", i, idx, i)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// The call of seven events goes as parts of three, three and one.
	if want := []int{1, 2, 2, 3, 3, 1}; !slices.Equal(g.sizes, want) {
		t.Errorf("batch sizes %v, want %v: no batch may cost more than the driver's budget", g.sizes, want)
	}
}

// The events that queue while a commit runs are sealed as their batch
// gathers (store: the sequencer seals rather than wait), and are answered
// as any others: an identical copy of an event in flight gets its receipt,
// marked duplicate; a changed one AlreadyExists; an invalid event its own
// rejection; and the stored events verify with their content.
func testSealedWhileCommitting(t *testing.T, h Harness) {
	s, g := openGated(t, h, store.WithCheckpointInterval(0))
	ctx := context.Background()
	a := ToolCallEvent(eventtest.ID("sealed-a"), 1)
	b := ToolCallEvent(eventtest.ID("sealed-b"), 1)
	bad := ToolCallEvent("not an id", 1)
	first, err := s.Submit(ctx, "agent", []*agenttrailv1.Event{a})
	if err != nil {
		t.Fatal(err)
	}
	<-g.entered
	calls := [][]*agenttrailv1.Event{
		{ToolCallEvent(a.EventId, 1)}, // identical to a, in flight
		{ToolCallEvent(a.EventId, 2)}, // a changed
		{bad, b},
		{ToolCallEvent(b.EventId, 1)}, // identical to b, in the same batch
	}
	var tickets []*store.Ticket
	for _, call := range calls {
		tk, err := s.Submit(ctx, "agent", call)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
		// Let the sequencer take the call off its queue (and seal it)
		// before the next arrives; the results are the same either way.
		time.Sleep(10 * time.Millisecond)
	}
	close(g.release)
	var res []store.Result
	for _, tk := range append([]*store.Ticket{first}, tickets...) {
		r, err := tk.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, r...)
	}
	checks := []struct {
		name  string
		r     store.Result
		err   error
		index uint64
		dup   bool
	}{
		{"a", res[0], nil, 0, false},
		{"a again", res[1], nil, 0, true},
		{"a changed", res[2], store.ErrAlreadyExists, 0, false},
		{"bad id", res[3], store.ErrInvalidEvent, 0, false},
		{"b", res[4], nil, 1, false},
		{"b again", res[5], nil, 1, true},
	}
	for _, c := range checks {
		switch {
		case c.err != nil:
			if !errors.Is(c.r.Err, c.err) {
				t.Errorf("%s: err = %v, want %v", c.name, c.r.Err, c.err)
			}
		case c.r.Err != nil:
			t.Errorf("%s: err = %v, want a receipt", c.name, c.r.Err)
		case c.r.Receipt.Index != c.index || c.r.Receipt.Duplicate != c.dup:
			t.Errorf("%s: receipt at index %d (duplicate %v), want %d (duplicate %v)", c.name, c.r.Receipt.Index, c.r.Receipt.Duplicate, c.index, c.dup)
		}
	}
	if t.Failed() {
		return
	}
	if got, want := res[5].Receipt, res[4].Receipt; got.LeafHash != want.LeafHash || !got.ReceivedAt.Equal(want.ReceivedAt) {
		t.Errorf("b again: receipt %+v, want b's %+v", got, want)
	}
	if res[4].Receipt.ReceivedAt.Before(res[0].Receipt.ReceivedAt) {
		t.Errorf("b received at %v, before a (%v): received-at never goes backwards", res[4].Receipt.ReceivedAt, res[0].Receipt.ReceivedAt)
	}
	for i, want := range []store.Receipt{res[0].Receipt, res[4].Receipt} {
		e, err := s.Get(ctx, uint64(i), store.HeaderAndContent)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Receipt(); got.LeafHash != want.LeafHash || !got.ReceivedAt.Equal(want.ReceivedAt) {
			t.Errorf("event %d: stored as %+v, want its receipt %+v", i, got, want)
		}
	}
	rep, err := s.Verify(ctx, 0, 0)
	if err != nil || !rep.OK() || rep.To != 2 {
		t.Errorf("Verify = %+v, %v; want OK over 2 events", rep, err)
	}
}
