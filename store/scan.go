package store

import (
	"container/heap"
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Scan returns the entries that match a query, in log order (ascending or
// descending), as an iterator. Each step yields an entry or an error; an
// error for one entry (ErrCorrupt, say) does not end the scan unless the
// caller stops. A scan reads a consistent snapshot of the log; with Follow it
// then goes on with newer entries as they commit.
//
// The scan uses the most selective secondary index the filter allows
// (session, tool, user, agent, failures, kind, occurred_at hour) and checks
// the rest of the filter against each event's header.
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
}

// run scans [lo, min(hi, size)) once in one read transaction. It reports
// false when the scan is over (the caller stopped, the limit was reached, or
// a transaction failed).
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
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	cur := plan(txn, &sc.q.Filter, sc.q.Descending, sc.lo, hi)
	defer cur.close()
	withContent := sc.q.Read == WithContent
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return false
			}
		}
		idx, ok, err := cur.next()
		if err != nil {
			yield(nil, err)
			return false
		}
		if !ok {
			break
		}
		e, err := readEntry(txn, idx, withContent)
		if err != nil {
			if !yield(nil, err) {
				return false
			}
			continue
		}
		if !sc.q.Filter.matches(e.Header) {
			continue
		}
		if !yield(e, nil) {
			return false
		}
		sc.returned++
		if sc.q.Limit > 0 && sc.returned >= sc.q.Limit {
			return false
		}
	}
	if !sc.q.Descending {
		sc.lo = hi
	}
	return true
}

// cursor yields candidate log indexes in scan order.
type cursor interface {
	next() (index uint64, ok bool, err error)
	close()
}

// maxUnion bounds the cursors a union merges: the kinds of a filter, or the
// hours of a time range. Beyond it, a plain range scan is cheaper.
const maxUnion = 64

// plan picks the cursor for a filter over [lo, hi).
func plan(txn *badger.Txn, f *Filter, desc bool, lo, hi uint64) cursor {
	posting := func(field byte, value string) cursor {
		return newPostingCursor(txn, postingsPrefix(field, value), desc, lo, hi)
	}
	switch {
	case f.SessionID != "":
		return posting(fieldSession, f.SessionID)
	case f.ToolName != "":
		return posting(fieldTool, f.ToolName)
	case f.UserID != "":
		return posting(fieldUser, f.UserID)
	case f.AgentID != "":
		return posting(fieldAgent, f.AgentID)
	case f.ErrorsOnly:
		return posting(fieldFailure, "")
	case len(f.Kinds) == 1:
		return posting(fieldKind, kindValue(f.Kinds[0]))
	}
	if !f.OccurredAfter.IsZero() && !f.OccurredBefore.IsZero() && f.OccurredBefore.After(f.OccurredAfter) {
		first, last := hourOf(f.OccurredAfter), hourOf(f.OccurredBefore)
		if last-first < maxUnion {
			var cs []cursor
			for h := first; h <= last; h++ {
				cs = append(cs, newPostingCursor(txn, timePrefix(h), desc, lo, hi))
			}
			return newUnionCursor(cs, desc)
		}
	}
	if len(f.Kinds) > 1 && len(f.Kinds) <= maxUnion {
		var cs []cursor
		for _, k := range slices.Compact(slices.Sorted(slices.Values(f.Kinds))) {
			cs = append(cs, posting(fieldKind, kindValue(k)))
		}
		return newUnionCursor(cs, desc)
	}
	return &rangeCursor{lo: lo, hi: hi, desc: desc}
}

// rangeCursor yields every index of [lo, hi).
type rangeCursor struct {
	lo, hi uint64
	desc   bool
}

func (c *rangeCursor) next() (uint64, bool, error) {
	if c.lo >= c.hi {
		return 0, false, nil
	}
	if c.desc {
		c.hi--
		return c.hi, true, nil
	}
	c.lo++
	return c.lo - 1, true, nil
}

func (c *rangeCursor) close() {}

// postingCursor yields the indexes of one secondary index value within
// [lo, hi), reading its posting lists in key order (descending: reverse).
type postingCursor struct {
	it     *badger.Iterator
	prefix []byte
	desc   bool
	lo, hi uint64
	buf    []uint64
	pos    int
	done   bool
}

func newPostingCursor(txn *badger.Txn, prefix []byte, desc bool, lo, hi uint64) *postingCursor {
	c := &postingCursor{prefix: prefix, desc: desc, lo: lo, hi: hi}
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.Reverse = desc
	opts.PrefetchSize = 16
	if desc {
		c.it = txn.NewIterator(opts)
		c.it.Seek(appendU64(prefix, hi-1)) // the list holding hi-1, or the last below it
		return c
	}
	start := appendU64(prefix, 0)
	if lo > 0 {
		// The list that holds lo may start below it: find the last list
		// starting at or below lo.
		ropts := opts
		ropts.Reverse = true
		ropts.PrefetchValues = false
		rit := txn.NewIterator(ropts)
		rit.Seek(appendU64(prefix, lo))
		if rit.Valid() {
			start = rit.Item().KeyCopy(nil)
		}
		rit.Close()
	}
	c.it = txn.NewIterator(opts)
	c.it.Seek(start)
	return c
}

func appendU64(prefix []byte, n uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	for i := 0; i < 8; i++ {
		k[len(k)-1-i] = byte(n >> (8 * i))
	}
	return k
}

func (c *postingCursor) next() (uint64, bool, error) {
	for !c.done {
		if c.pos < len(c.buf) {
			v := c.buf[c.pos]
			c.pos++
			switch {
			case !c.desc && v >= c.hi, c.desc && v < c.lo:
				c.done = true
				return 0, false, nil
			case v < c.lo || v >= c.hi:
				continue
			}
			return v, true, nil
		}
		if !c.it.Valid() {
			c.done = true
			break
		}
		item := c.it.Item()
		key := item.Key()
		if len(key) != len(c.prefix)+8 {
			return 0, false, fmt.Errorf("%w: posting key of %d bytes", ErrCorrupt, len(key))
		}
		first := keyIndex(key)
		var err error
		err = item.Value(func(v []byte) error {
			c.buf, err = decodePostings(first, v, c.buf)
			return err
		})
		if err != nil {
			return 0, false, fmt.Errorf("posting list at %d: %w", first, err)
		}
		if c.desc {
			slices.Reverse(c.buf)
		}
		c.pos = 0
		c.it.Next()
	}
	return 0, false, nil
}

func (c *postingCursor) close() { c.it.Close() }

// unionCursor merges cursors into one ordered stream without repeats.
type unionCursor struct {
	h    cursorHeap
	last uint64
	any  bool
	err  error
}

type headItem struct {
	v uint64
	c cursor
}

type cursorHeap struct {
	items []headItem
	desc  bool
}

func (h cursorHeap) Len() int { return len(h.items) }
func (h cursorHeap) Less(i, j int) bool {
	if h.desc {
		return h.items[i].v > h.items[j].v
	}
	return h.items[i].v < h.items[j].v
}
func (h cursorHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *cursorHeap) Push(x any)   { h.items = append(h.items, x.(headItem)) }
func (h *cursorHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}

func newUnionCursor(cs []cursor, desc bool) *unionCursor {
	u := &unionCursor{h: cursorHeap{desc: desc}}
	for _, c := range cs {
		v, ok, err := c.next()
		if err != nil && u.err == nil {
			u.err = err
		}
		if ok {
			u.h.items = append(u.h.items, headItem{v, c})
		} else {
			c.close()
		}
	}
	heap.Init(&u.h)
	return u
}

func (u *unionCursor) next() (uint64, bool, error) {
	if u.err != nil {
		return 0, false, u.err
	}
	for u.h.Len() > 0 {
		top := u.h.items[0]
		v, ok, err := top.c.next()
		if err != nil {
			return 0, false, err
		}
		if ok {
			u.h.items[0].v = v
			heap.Fix(&u.h, 0)
		} else {
			top.c.close()
			heap.Pop(&u.h)
		}
		if u.any && top.v == u.last {
			continue
		}
		u.any, u.last = true, top.v
		return top.v, true, nil
	}
	return 0, false, nil
}

func (u *unionCursor) close() {
	for _, it := range u.h.items {
		it.c.close()
	}
	u.h.items = nil
}
