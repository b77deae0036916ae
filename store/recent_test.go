package store

import (
	"bytes"
	"fmt"
	"testing"
)

func recentEvents(first uint64, n int) []BatchEvent {
	evs := make([]BatchEvent, n)
	for i := range evs {
		evs[i] = BatchEvent{
			LeafData:   []byte(fmt.Sprintf("leaf-%d", first+uint64(i))),
			Content:    bytes.Repeat([]byte{byte(first) + byte(i)}, 1000),
			ContentKey: []byte(fmt.Sprintf("key-%d", first+uint64(i))),
		}
	}
	return evs
}

// The recent batches hold what was added, contiguous and within budget,
// and nothing else: a gap, the budget or clear drops what they held.
func TestRecentBatches(t *testing.T) {
	r := newRecentBatches(64 << 10) // about 60 events of 1 KiB
	has := func(lo, hi uint64) bool {
		spans, ok := r.get(lo, hi)
		if !ok {
			return false
		}
		next := lo
		for _, sp := range spans {
			for i, ev := range sp.events {
				idx := sp.first + uint64(i)
				if idx != next || string(ev.LeafData) != fmt.Sprintf("leaf-%d", idx) || string(ev.ContentKey) != fmt.Sprintf("key-%d", idx) {
					t.Fatalf("get(%d, %d): event %d holds %q, want index %d", lo, hi, idx, ev.LeafData, next)
				}
				next++
			}
		}
		if next != hi {
			t.Fatalf("get(%d, %d) ends at %d", lo, hi, next)
		}
		return true
	}
	first := recentEvents(10, 20)
	r.add(10, first)
	r.add(30, recentEvents(30, 20))
	for _, tc := range []struct {
		lo, hi uint64
		want   bool
	}{{10, 50, true}, {15, 35, true}, {30, 31, true}, {9, 20, false}, {40, 51, false}, {50, 60, false}} {
		if got := has(tc.lo, tc.hi); got != tc.want {
			t.Errorf("get(%d, %d) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	// What was added is a copy: the sequencer may reuse its buffers.
	copy(first[0].LeafData, "XXXX")
	if !has(10, 11) {
		t.Errorf("get(10, 11) after the batch's buffers changed")
	}
	// The budget: the oldest go first.
	r.add(50, recentEvents(50, 25))
	if has(10, 20) || !has(30, 75) {
		t.Errorf("over budget: the oldest batch is still held, or the newest is not")
	}
	// A batch that does not follow the last one: start again.
	r.add(100, recentEvents(100, 5))
	if has(50, 75) || !has(100, 105) {
		t.Errorf("after a gap: the batches before it are still held, or the new one is not")
	}
	r.clear()
	if has(100, 105) {
		t.Errorf("cleared, still held")
	}
	// A restored batch without content is never held.
	restored := recentEvents(105, 2)
	restored[1].ContentErased = true
	r.add(105, restored)
	if has(105, 106) {
		t.Errorf("a batch with erased content is held")
	}
	var none *recentBatches
	none.add(0, recentEvents(0, 1))
	if _, ok := none.get(0, 1); ok {
		t.Errorf("a nil ring holds something")
	}
}
