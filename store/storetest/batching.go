package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
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

// While the committer is busy, the appends that arrive meanwhile gather
// into one batch that commits once it is free, rather than each becoming a
// batch of its own that queues behind the others for a commit of its own.
// (An append to an idle store commits at once: every other test would
// hang otherwise.)
func testBatchesGrowWhileCommitting(t *testing.T, h Harness) {
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedDriver{Driver: d, entered: make(chan struct{}), release: make(chan struct{})}
	s, err := store.New(context.Background(), g, l.Options(store.WithCheckpointInterval(time.Hour))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
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
