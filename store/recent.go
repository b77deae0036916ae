package store

import "sync"

// recentBatches keeps the records of the batches this store committed
// last, as the driver stored them, so that a following scan (a tail)
// reads new entries from memory instead of the driver: a tail asks for
// exactly what was committed a moment ago. Entries read from here go
// through the same checks as entries the driver returns (decodeEntry:
// leaf data parsed, header decoded, content decrypted with its key, and
// content that a logged erasure or retention names is erased), so memory
// serves nothing a driver read would not.
//
// Only batches the sequencer committed and published go in, in log order;
// a gap (a batch not seen) empties it. It holds at most its byte budget,
// the oldest batches going first, and is emptied whenever keys are
// destroyed (erasure, retention), since the content keys it holds may be
// among them. Stores whose driver other writers share keep none: other
// writers' commits and erasures do not pass through this store.
type recentBatches struct {
	mu      sync.RWMutex
	max     int64
	bytes   int64
	batches []recentBatch // oldest first, contiguous
}

type recentBatch struct {
	first  uint64
	events []BatchEvent
	bytes  int64
}

// recentBudget is the part of the store's cache budget (WithCacheBytes)
// the recent batches may hold; the driver's caches get the rest.
func recentBudget(cacheBytes int64) int64 { return cacheBytes / 16 }

// recentOverhead is what one event held costs beyond its records.
const recentOverhead = 96

// newRecentBatches returns a ring of at most maxBytes, or nil (which keeps
// nothing) for a budget under 64 KiB.
func newRecentBatches(maxBytes int64) *recentBatches {
	if maxBytes < 64<<10 {
		return nil
	}
	return &recentBatches{max: maxBytes}
}

// add keeps a copy of a committed batch's records.
func (r *recentBatches) add(first uint64, evs []BatchEvent) {
	if r == nil || len(evs) == 0 {
		return
	}
	var size int64
	for _, ev := range evs {
		if ev.ContentErased {
			size = r.max + 1 // restored without content: read it from the driver
			break
		}
		size += int64(len(ev.LeafData)+len(ev.Content)+len(ev.ContentKey)) + recentOverhead
	}
	if size <= r.max/2 {
		evs = copyRecords(evs, size)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.batches); n > 0 {
		last := r.batches[n-1]
		if last.first+uint64(len(last.events)) != first {
			r.batches, r.bytes = nil, 0 // not the next batch: start again
		}
	}
	if size > r.max/2 {
		r.batches, r.bytes = nil, 0
		return
	}
	r.batches = append(r.batches, recentBatch{first: first, events: evs, bytes: size})
	r.bytes += size
	for r.bytes > r.max {
		r.bytes -= r.batches[0].bytes
		r.batches[0] = recentBatch{}
		r.batches = r.batches[1:]
	}
}

// clear forgets every batch.
func (r *recentBatches) clear() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.batches, r.bytes = nil, 0
	r.mu.Unlock()
}

// recentSpan is a run of consecutive events from index first.
type recentSpan struct {
	first  uint64
	events []BatchEvent
}

// get returns the records of [lo, hi) in runs, or false when it does not
// hold all of them.
func (r *recentBatches) get(lo, hi uint64) ([]recentSpan, bool) {
	if r == nil || lo >= hi {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.batches) == 0 || lo < r.batches[0].first {
		return nil, false
	}
	last := r.batches[len(r.batches)-1]
	if hi > last.first+uint64(len(last.events)) {
		return nil, false
	}
	var out []recentSpan
	for _, b := range r.batches {
		end := b.first + uint64(len(b.events))
		if end <= lo {
			continue
		}
		if b.first >= hi {
			break
		}
		from, to := max(lo, b.first), min(hi, end)
		out = append(out, recentSpan{first: from, events: b.events[from-b.first : to-b.first]})
	}
	return out, true
}

// copyRecords copies the records a read needs of a batch's events into one
// allocation, so that nothing the sequencer reuses is kept.
func copyRecords(evs []BatchEvent, size int64) []BatchEvent {
	buf := make([]byte, 0, size)
	out := make([]BatchEvent, len(evs))
	keep := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	for i, ev := range evs {
		out[i] = BatchEvent{LeafData: keep(ev.LeafData), Content: keep(ev.Content), ContentKey: keep(ev.ContentKey), Index: ev.Index}
	}
	return out
}
