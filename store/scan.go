package store

import (
	"context"
	"fmt"
	"iter"
	"sync"
)

// Scan returns the entries that match a query, in log order (ascending or
// descending), as an iterator. Each step yields an entry or an error; an
// error for one entry (ErrCorrupt, say) does not end the scan unless the
// caller stops. A scan reads a consistent snapshot of the log; with Follow it
// then goes on with newer entries as they commit.
//
// The driver uses the most selective secondary index the filter allows
// (session, tool, user, agent, failures, kind, occurred_at hour), and the
// engine checks the whole filter against each event's header.
func (s *Store) Scan(ctx context.Context, q Query) iter.Seq2[*Entry, error] {
	return func(yield func(*Entry, error) bool) {
		if err := s.readable(ctx); err != nil {
			yield(nil, err)
			return
		}
		if q.Follow && q.Descending {
			yield(nil, fmt.Errorf("%w: follow needs ascending order", ErrInvalidArgument))
			return
		}
		sc := scanState{q: q, lo: q.Filter.FromIndex, hi: ^uint64(0)}
		if s.content.keys != nil && q.Read == HeaderAndContent {
			sc.cache.op = &contentOpener{k: s.content.keys}
		}
		if q.Filter.ToIndex != 0 {
			sc.hi = q.Filter.ToIndex
		}
		if q.After != nil {
			if q.Descending {
				sc.hi = min(sc.hi, *q.After)
			} else if *q.After == ^uint64(0) {
				return
			} else {
				sc.lo = max(sc.lo, *q.After+1)
			}
		}
		caughtUp := false
		for {
			size, changed := s.Watch()
			if !sc.run(ctx, s, size, yield) {
				return
			}
			if !q.Follow || sc.lo >= sc.hi {
				return
			}
			if !caughtUp {
				caughtUp = true
				if q.CaughtUp != nil {
					q.CaughtUp(size)
				}
			}
			if q.Idle != nil {
				q.Idle()
			}
			select {
			case <-changed:
				if s.isClosed() {
					yield(nil, ErrClosed)
					return
				}
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// scanState carries a scan across the rounds of a following scan.
type scanState struct {
	q        Query
	lo, hi   uint64 // the index range still to scan: [lo, hi)
	returned int
	cache    scanCache
}

// run scans [lo, min(hi, size)) once, in one read of the driver. It reports
// false when the scan is over (the caller stopped, the limit was reached, or
// the read failed).
func (sc *scanState) run(ctx context.Context, s *Store, size uint64, yield func(*Entry, error) bool) bool {
	hi := min(sc.hi, size)
	if sc.lo >= hi {
		return true
	}
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if s.readClosed {
		yield(nil, ErrClosed)
		return false
	}
	withContent := sc.q.Read == HeaderAndContent
	if !sc.q.Descending {
		// What committed a moment ago (a tail's next round) is in memory.
		if spans, ok := s.recent.get(sc.lo, hi); ok {
			if !sc.runRecent(ctx, s, spans, withContent, yield) {
				return false
			}
			sc.lo = hi
			return true
		}
	}
	req := ScanRequest{Filter: &sc.q.Filter, Lo: sc.lo, Hi: hi, Descending: sc.q.Descending, Content: withContent}
	n := 0
	for raw, err := range readAhead(s.d.Scan(ctx, req)) {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return false
			}
		}
		if err != nil {
			yield(nil, err)
			return false
		}
		if !sc.emit(ctx, s, raw, withContent, yield) {
			return false
		}
	}
	if !sc.q.Descending {
		sc.lo = hi
	}
	return true
}

// runRecent scans the records of recent batches as run scans what the
// driver returns: each entry decoded and checked by decodeEntry, then
// matched against the whole filter. The index values a driver files
// postings under pass over the events its postings would not name.
func (sc *scanState) runRecent(ctx context.Context, s *Store, spans []recentSpan, withContent bool, yield func(*Entry, error) bool) bool {
	f := &sc.q.Filter
	for _, sp := range spans {
		for i := range sp.events {
			ev := &sp.events[i]
			iv := &ev.Index
			if f.SessionID != "" && iv.SessionID != f.SessionID || f.AgentID != "" && iv.AgentID != f.AgentID ||
				f.UserID != "" && iv.UserID != f.UserID || f.ToolName != "" && iv.ToolName != f.ToolName {
				continue
			}
			raw := RawEntry{Index: sp.first + uint64(i), LeafData: ev.LeafData}
			if withContent {
				raw.Content, raw.ContentKey = ev.Content, ev.ContentKey
			}
			if !sc.emit(ctx, s, raw, withContent, yield) {
				return false
			}
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return false
		}
	}
	return true
}

// emit decodes and checks one entry a driver or the recent batches hold,
// and yields it when it matches the whole filter; a decoding failure is
// yielded in its place. It reports whether the scan goes on: false once
// the caller stops or the limit is reached.
func (sc *scanState) emit(ctx context.Context, s *Store, raw RawEntry, withContent bool, yield func(*Entry, error) bool) bool {
	var e *Entry
	var match bool
	var err error
	if sc.q.LeanHeader && sc.q.Filter.idsOnly() {
		e, match, err = s.decodeLean(ctx, raw, withContent, &sc.q.Filter, &sc.cache)
	} else if e, err = s.decodeEntryWith(ctx, raw, withContent, sc.cache.op); err == nil {
		match = sc.q.Filter.matches(e.Header)
	}
	if err != nil {
		return yield(nil, err)
	}
	if !match {
		return true
	}
	if !yield(e, nil) {
		return false
	}
	sc.returned++
	return sc.q.Limit <= 0 || sc.returned < sc.q.Limit
}

// readAhead runs a driver's scan in a goroutine of its own, a few chunks
// ahead of the caller, and yields what it yields, in order: the driver's
// reads (index steps, value copies) overlap the engine's decoding,
// decryption and the caller's work on the entries before them. The scan
// ends with its first error, as run ends it. When the caller stops, the
// driver's scan is stopped and waited for before readAhead returns: it
// never outlives the read lock its caller holds. A panic in the driver's
// scan is raised again in the caller's goroutine.
func readAhead(scan iter.Seq2[RawEntry, error]) iter.Seq2[RawEntry, error] {
	return func(yield func(RawEntry, error) bool) {
		type chunk struct {
			raws  []RawEntry
			err   error
			panic any
		}
		chunks := make(chan chunk, readAheadChunks)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(chunks)
			send := func(c chunk) bool {
				select {
				case chunks <- c:
					return true
				case <-stop:
					return false
				}
			}
			defer func() {
				if p := recover(); p != nil {
					send(chunk{panic: p})
				}
			}()
			// The first chunk is small, so that a scan that stops early
			// (a limit of one) reads little ahead.
			size := 8
			buf := make([]RawEntry, 0, size)
			for raw, err := range scan {
				if err != nil {
					if len(buf) > 0 && !send(chunk{raws: buf}) {
						return
					}
					send(chunk{err: err})
					return
				}
				buf = append(buf, raw)
				if len(buf) == size {
					if !send(chunk{raws: buf}) {
						return
					}
					size = readAheadChunk
					buf = make([]RawEntry, 0, size)
				}
			}
			if len(buf) > 0 {
				send(chunk{raws: buf})
			}
		}()
		defer func() {
			close(stop)
			for range chunks {
			}
			wg.Wait()
		}()
		for c := range chunks {
			if c.panic != nil {
				panic(c.panic)
			}
			for _, raw := range c.raws {
				if !yield(raw, nil) {
					return
				}
			}
			if c.err != nil {
				yield(RawEntry{}, c.err)
				return
			}
		}
	}
}

// A read-ahead scan runs at most readAheadChunks chunks of readAheadChunk
// entries (a few hundred KiB with content) ahead of its caller.
const (
	readAheadChunk  = 64
	readAheadChunks = 2
)
