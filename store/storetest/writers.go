package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// ToolCallEvent is a valid tool-call event with the given id; variant changes
// its content, so two variants of one id conflict.
func ToolCallEvent(id string, variant int) *agenttrailv1.Event {
	ev := proto.Clone(eventtest.Samples()[3].Event).(*agenttrailv1.Event)
	ev.EventId = id
	ev.ParentEventId = ""
	ev.OccurredAt = timestamppb.New(eventtest.T0)
	ev.GetToolCall().Result = fmt.Sprintf(`{"variant":%d}`, variant)
	return ev
}

// Many writers append overlapping ids at once, some identical and some
// conflicting. Exactly one event wins per id, every writer of the winning
// content gets the same receipt, the log has no gaps and no duplicates, and
// no key is ever written twice.
func testConcurrentWritersOneWinnerPerID(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithBatchLimits(64, 1<<20, 0), store.WithCheckpointInterval(0))
	const writers, ids = 16, 300
	type outcome struct {
		id              string
		writer, variant int
		res             store.Result
	}
	results := make(chan outcome, writers*ids)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// Writers 0..11 send variant 0 of every id; 12..15 send their
			// own variant of every third id, and variant 0 otherwise.
			for start := 0; start < ids; start += 7 {
				var evs []*agenttrailv1.Event
				var variants []int
				var names []string
				for i := start; i < min(start+7, ids); i++ {
					id := (i*7 + w*13) % ids // each writer in its own order
					v := 0
					if w >= 12 && id%3 == 0 {
						v = w
					}
					evs = append(evs, ToolCallEvent(fmt.Sprintf("id-%04d", id), v))
					variants = append(variants, v)
					names = append(names, fmt.Sprintf("id-%04d", id))
				}
				res, err := s.Append(context.Background(), fmt.Sprintf("writer-%d", w), evs)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				for i, r := range res {
					results <- outcome{names[i], w, variants[i], r}
				}
			}
		}(w)
	}
	wg.Wait()
	close(results)

	winners := map[string]store.Receipt{}
	winningVariant := map[string]int{}
	var all []outcome
	for o := range results {
		id := o.id
		all = append(all, o)
		if o.res.Err == nil && !o.res.Receipt.Duplicate {
			if prev, ok := winners[id]; ok {
				t.Errorf("%s won twice: indexes %d and %d", id, prev.Index, o.res.Receipt.Index)
			}
			winners[id] = o.res.Receipt
			winningVariant[id] = o.variant
		}
	}
	if len(winners) != ids {
		t.Fatalf("%d ids won, want %d", len(winners), ids)
	}
	size, _ := s.Size()
	if size != ids {
		t.Fatalf("log size %d, want %d (one event per id)", size, ids)
	}
	seen := make([]bool, size)
	for id, r := range winners {
		if r.Index >= size || seen[r.Index] {
			t.Fatalf("%s: index %d is out of range or taken twice", id, r.Index)
		}
		seen[r.Index] = true
		e, err := s.Get(context.Background(), r.Index, store.HeaderAndContent)
		if err != nil || e.EventID() != id {
			t.Fatalf("index %d holds %q (%v), want %s", r.Index, e.EventID(), err, id)
		}
		ev, _ := e.Event()
		if !proto.Equal(ev, ToolCallEvent(id, winningVariant[id])) {
			t.Errorf("%s: stored event is not the winning variant", id)
		}
	}
	rep, err := s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Every outcome is the winner's receipt (same content) or AlreadyExists.
	for _, o := range all {
		win := winners[o.id]
		switch {
		case o.variant == winningVariant[o.id] && (o.res.Err != nil || o.res.Receipt.Index != win.Index || o.res.Receipt.LeafHash != win.LeafHash):
			t.Errorf("writer %d sent %s as the winner did but got %+v, want receipt %d", o.writer, o.id, o.res, win.Index)
		case o.variant != winningVariant[o.id] && !errors.Is(o.res.Err, store.ErrAlreadyExists):
			t.Errorf("writer %d sent a different %s but got %+v, want store.ErrAlreadyExists", o.writer, o.id, o.res)
		}
	}
	if len(all) != writers*ids {
		t.Errorf("%d outcomes, want %d", len(all), writers*ids)
	}
	if h.WrittenOnce != nil {
		h.WrittenOnce(t, l.URL, l.MasterKey(t).StorageKey())
	}
}

// Every outcome of one id is the winner's receipt when the content matches
// the winner, and store.ErrAlreadyExists when it does not.
func testDuplicateOutcomesAgreeWithWinner(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t)
	const writers = 12
	var wg sync.WaitGroup
	res := make([]store.Result, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r, err := s.Append(context.Background(), "w", []*agenttrailv1.Event{ToolCallEvent("the-one-id", w%2)})
			if err != nil {
				t.Error(err)
				return
			}
			res[w] = r[0]
		}(w)
	}
	wg.Wait()
	e, err := s.GetByID(context.Background(), "the-one-id", store.HeaderAndContent)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.Event()
	for w, r := range res {
		same := proto.Equal(stored, ToolCallEvent("the-one-id", w%2))
		switch {
		case same && (r.Err != nil || r.Receipt.Index != e.Index):
			t.Errorf("writer %d sent the stored content but got %+v", w, r)
		case !same && !errors.Is(r.Err, store.ErrAlreadyExists):
			t.Errorf("writer %d sent other content but got %+v, want store.ErrAlreadyExists", w, r)
		}
	}
	if size, _ := s.Size(); size != 1 {
		t.Errorf("size %d, want 1", size)
	}
}
