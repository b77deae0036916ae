package badger

import (
	"bytes"
	"context"
	"iter"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// scanCounter counts the scans and point reads that reach the driver.
type scanCounter struct {
	store.Driver
	scans, reads atomic.Int64
}

func (c *scanCounter) Scan(ctx context.Context, r store.ScanRequest) iter.Seq2[store.RawEntry, error] {
	c.scans.Add(1)
	return c.Driver.Scan(ctx, r)
}

func (c *scanCounter) ReadEntries(ctx context.Context, indexes []uint64, content bool) ([]store.RawEntry, error) {
	c.reads.Add(1)
	return c.Driver.ReadEntries(ctx, indexes, content)
}

// A tail reads the batches committed a moment ago from the store's memory,
// not from the driver, and gets exactly what a read from the driver gives:
// the same leaves, content and salt. Content an erasure names reads as
// erased from memory too, from the moment the erasure is logged (before its
// keys are destroyed), and after.
func TestTailReadsRecentBatchesFromMemory(t *testing.T) {
	l := storetest.NewLog(t, harness())
	ctx := context.Background()
	d, err := store.OpenDriver(ctx, l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	dc := &scanCounter{Driver: d}
	s, err := store.New(ctx, dc, l.Options(store.WithBatchLimits(37, 1<<20, 0))...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	tailCtx, stop := context.WithCancel(ctx)
	defer stop()
	got := make(chan *store.Entry, 1000)
	go func() {
		for e, err := range s.Scan(tailCtx, store.Query{Filter: store.Filter{SessionID: "session-2"}, Follow: true, Read: store.HeaderAndContent}) {
			if err != nil {
				close(got)
				return
			}
			got <- e
		}
	}()
	evs := storetest.Corpus(300)
	var want []uint64
	for i := 0; i < len(evs); i += 30 {
		rs := storetest.AppendOK(t, s, evs[i:i+30]...)
		for j, r := range rs {
			if evs[i+j].GetSessionId() == "session-2" {
				want = append(want, r.Index)
			}
		}
	}
	check := func(what string, e *store.Entry) {
		t.Helper()
		p, err := s.Get(ctx, e.Index, store.HeaderAndContent)
		if err != nil {
			t.Fatal(err)
		}
		if e.LeafHash != p.LeafHash || !bytes.Equal(e.Content, p.Content) || !bytes.Equal(e.Salt, p.Salt) || e.ContentState != p.ContentState || e.ErasedBy != p.ErasedBy {
			t.Errorf("%s: entry %d (%v) differs from the driver's (%v)", what, e.Index, e.ContentState, p.ContentState)
		}
	}
	for _, idx := range want {
		select {
		case e, ok := <-got:
			if !ok || e.Index != idx {
				t.Fatalf("tail: got entry %v, want %d", e, idx)
			}
			if e.ContentState != store.ContentPresent {
				t.Errorf("tail: entry %d content %v, want present", idx, e.ContentState)
			}
			check("tail", e)
		case <-time.After(10 * time.Second):
			t.Fatalf("tail: no entry %d", idx)
		}
	}
	if n := dc.scans.Load(); n != 0 {
		t.Errorf("the tail scanned the driver %d times, want 0 (every batch read from memory)", n)
	}

	// Erase two of the tail's events. Between the Erasure event's commit
	// and the destruction of the keys, and after it, a read of the same
	// range (still in memory, then not) shows them erased.
	erased := map[uint64]bool{want[1]: true, want[3]: true}
	from := want[0]
	scan := func(what string) {
		t.Helper()
		scans := dc.scans.Load()
		n := 0
		for e, err := range s.Scan(ctx, store.Query{Filter: store.Filter{SessionID: "session-2", FromIndex: from}, Read: store.HeaderAndContent}) {
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if erased[e.Index] != (e.ContentState == store.ContentErased) || erased[e.Index] && e.Content != nil {
				t.Errorf("%s: entry %d content %v, erased %v", what, e.Index, e.ContentState, erased[e.Index])
			}
			check(what, e)
			n++
		}
		if n != len(want) {
			t.Errorf("%s: %d entries, want %d", what, n, len(want))
		}
		if what == "logged, keys not yet destroyed" && dc.scans.Load() != scans {
			t.Errorf("%s: the read went to the driver, want memory", what)
		}
	}
	store.TestHookErasure = func(phase string, _ uint64) {
		if phase == "destroying" {
			scan("logged, keys not yet destroyed")
		}
	}
	defer func() { store.TestHookErasure = nil }()
	ids := []string{evs[want[1]].GetEventId(), evs[want[3]].GetEventId()}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-tail", EventIDs: ids}); err != nil {
		t.Fatal(err)
	}
	store.TestHookErasure = nil
	scan("keys destroyed")
}
