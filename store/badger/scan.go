package badger

import (
	"container/heap"
	"context"
	"fmt"
	"iter"
	"slices"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
)

// Scan implements store.Driver. It reads in one read transaction: the
// postings of the most selective secondary index the filter allows
// (session, tool, user, agent, failures, kind, occurred_at hour), or every
// event record in the range.
func (d *Driver) Scan(ctx context.Context, r store.ScanRequest) iter.Seq2[store.RawEntry, error] {
	return func(yield func(store.RawEntry, error) bool) {
		if r.Lo >= r.Hi {
			return
		}
		h, err := d.acquire()
		if err != nil {
			yield(store.RawEntry{}, err)
			return
		}
		defer h.release()
		yield = guard(yield)
		if err := d.scan(ctx, h, r, yield); err != nil {
			yield(store.RawEntry{}, err)
		}
	}
}

// scan runs a Scan on a handle, turning Badger's panics into an error.
func (d *Driver) scan(ctx context.Context, h *handle, r store.ScanRequest, yield func(store.RawEntry, error) bool) (err error) {
	defer d.recoverBadger(&err)
	txn := h.db.NewTransaction(false)
	defer txn.Discard()
	f := r.Filter
	if f == nil {
		f = &store.Filter{}
	}
	cur := plan(txn, f, r.Descending, r.Lo, r.Hi)
	if cur == nil {
		scanRecords(ctx, txn, r, yield)
		return nil
	}
	defer cur.close()
	rd := newEntryReader(txn, r.Descending, r.Content)
	defer rd.close()
	for {
		idx, ok, err := cur.next()
		if err != nil {
			yield(store.RawEntry{}, err)
			return nil
		}
		if !ok {
			return nil
		}
		e, err := rd.read(idx)
		if err != nil {
			err = fmt.Errorf("%w: the index names event %d: %w", store.ErrCorrupt, idx, err)
		}
		if !yield(e, err) {
			return nil
		}
	}
}

// scanRecords yields every event record of [Lo, Hi), in key order.
func scanRecords(ctx context.Context, txn *badgerdb.Txn, r store.ScanRequest, yield func(store.RawEntry, error) bool) {
	opts := badgerdb.DefaultIteratorOptions
	opts.Prefix = []byte{prefixRecord}
	opts.Reverse = r.Descending
	opts.PrefetchSize = 64
	it := txn.NewIterator(opts)
	defer it.Close()
	var rd *entryReader // the content records, read beside the event records
	if r.Content {
		rd = newEntryReader(txn, r.Descending, true)
		defer rd.close()
	}
	if r.Descending {
		it.Seek(recordKey(r.Hi - 1))
	} else {
		it.Seek(recordKey(r.Lo))
	}
	for n := 0; it.Valid(); it.Next() {
		if n++; n%256 == 0 && ctx.Err() != nil {
			yield(store.RawEntry{}, ctx.Err())
			return
		}
		item := it.Item()
		key := item.Key()
		if len(key) != 9 {
			if !yield(store.RawEntry{}, fmt.Errorf("%w: event record key of %d bytes", store.ErrCorrupt, len(key))) {
				return
			}
			continue
		}
		idx := keyIndex(key)
		if idx < r.Lo || idx >= r.Hi {
			return
		}
		e := store.RawEntry{Index: idx}
		ld, err := item.ValueCopy(nil)
		if err == nil {
			e.LeafData = ld
			if r.Content {
				err = rd.content(&e)
			}
		}
		if !yield(e, err) {
			return
		}
	}
}

// cursor yields candidate log indexes in scan order.
type cursor interface {
	next() (index uint64, ok bool, err error)
	close()
}

// maxUnion bounds the cursors a union merges: the kinds of a filter, or the
// hours of a time range. Beyond it, a plain range scan is cheaper.
const maxUnion = 64

// plan picks the cursor for a filter over [lo, hi): the postings of the
// most selective index the filter allows, or nil to read every record.
func plan(txn *badgerdb.Txn, f *store.Filter, desc bool, lo, hi uint64) cursor {
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
	return nil
}

// postingCursor yields the indexes of one secondary index value within
// [lo, hi), reading its posting lists in key order (descending: reverse).
type postingCursor struct {
	it     *badgerdb.Iterator
	prefix []byte
	desc   bool
	lo, hi uint64
	buf    []uint64
	pos    int
	done   bool
}

func newPostingCursor(txn *badgerdb.Txn, prefix []byte, desc bool, lo, hi uint64) *postingCursor {
	c := &postingCursor{prefix: prefix, desc: desc, lo: lo, hi: hi}
	opts := badgerdb.DefaultIteratorOptions
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
			return 0, false, fmt.Errorf("%w: posting key of %d bytes", store.ErrCorrupt, len(key))
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
