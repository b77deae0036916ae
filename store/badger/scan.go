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

// scanRecords yields every event record of [Lo, Hi), in scan order: those
// of the record bundles and, in a store written before bundles, those
// stored on their own, merged by index. A record of an index that both
// hold (which only tampering makes) is yielded twice, for verification to
// find.
func scanRecords(ctx context.Context, txn *badgerdb.Txn, r store.ScanRequest, yield func(store.RawEntry, error) bool) {
	var rd *entryReader // the content records, read beside the event records
	if r.Content {
		rd = newEntryReader(txn, r.Descending, true)
		defer rd.close()
	}
	own := newOwnRecords(txn, r)
	defer own.close()
	bundled, err := newBundledRecords(txn, r)
	if err != nil {
		yield(store.RawEntry{}, err)
		return
	}
	defer bundled.close()
	before := func(a, b uint64) bool { return a < b != r.Descending }
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			yield(store.RawEntry{}, ctx.Err())
			return
		}
		var s recordStream = own
		switch {
		case !own.ok && !bundled.ok:
			return
		case !own.ok:
			s = bundled
		case bundled.ok && own.err == nil && (bundled.err != nil || before(bundled.idx, own.idx)):
			s = bundled
		}
		e, err := store.RawEntry{Index: s.index()}, s.failure()
		if err == nil {
			e.LeafData = s.record()
			if r.Content {
				err = rd.content(&e)
			}
		}
		s.advance()
		if !yield(e, err) {
			return
		}
	}
}

// recordStream is a source of event records in scan order for
// scanRecords: when ok, it stands at a record (idx, rec) or at an error.
type recordStream interface {
	index() uint64
	record() []byte
	failure() error
	advance()
}

// streamHead is where a recordStream stands.
type streamHead struct {
	ok  bool
	idx uint64
	rec []byte
	err error
}

func (h *streamHead) index() uint64                    { return h.idx }
func (h *streamHead) record() []byte                   { return h.rec }
func (h *streamHead) failure() error                   { return h.err }
func (h *streamHead) inRange(r store.ScanRequest) bool { return h.idx >= r.Lo && h.idx < r.Hi }

// ownRecords streams the records events have on their own, in a store
// written before record bundles.
type ownRecords struct {
	streamHead
	it *badgerdb.Iterator
	r  store.ScanRequest
}

func newOwnRecords(txn *badgerdb.Txn, r store.ScanRequest) *ownRecords {
	opts := badgerdb.DefaultIteratorOptions
	opts.Prefix = []byte{prefixRecord}
	opts.Reverse = r.Descending
	opts.PrefetchSize = 64
	s := &ownRecords{it: txn.NewIterator(opts), r: r}
	if r.Descending {
		s.it.Seek(recordKey(r.Hi - 1))
	} else {
		s.it.Seek(recordKey(r.Lo))
	}
	s.load()
	return s
}

// load reads the record the iterator stands at.
func (s *ownRecords) load() {
	s.streamHead = streamHead{}
	if !s.it.Valid() {
		return
	}
	item := s.it.Item()
	if key := item.Key(); len(key) != 9 {
		s.ok, s.err = true, fmt.Errorf("%w: event record key of %d bytes", store.ErrCorrupt, len(key))
		return
	}
	s.idx = keyIndex(item.Key())
	if !s.inRange(s.r) {
		return
	}
	s.ok = true
	s.rec, s.err = item.ValueCopy(nil)
}

func (s *ownRecords) advance() {
	s.it.Next()
	s.load()
}

func (s *ownRecords) close() { s.it.Close() }

// bundledRecords streams the records of the record bundles of leaf data.
type bundledRecords struct {
	streamHead
	it  *badgerdb.Iterator
	r   store.ScanRequest
	cur *bundle
	pos int // the slot of cur that the head is, in scan order
}

func newBundledRecords(txn *badgerdb.Txn, r store.ScanRequest) (*bundledRecords, error) {
	opts := badgerdb.DefaultIteratorOptions
	opts.Prefix = []byte{prefixLeaves}
	opts.Reverse = r.Descending
	opts.PrefetchSize = 8
	s := &bundledRecords{it: txn.NewIterator(opts), r: r}
	if r.Descending {
		s.it.Seek(bundleKey(prefixLeaves, r.Hi-1, ^uint64(0)))
	} else {
		// Start at the bundle that holds Lo, which begins at or below it.
		from, err := floorBundleKey(txn, prefixLeaves, r.Lo)
		if err != nil {
			s.it.Close()
			return nil, err
		}
		if from == nil {
			from = bundleKey(prefixLeaves, r.Lo, 0)
		}
		s.it.Seek(from)
	}
	s.loadBundle()
	return s, nil
}

// loadBundle decodes the bundle the iterator stands at and moves the head
// to its first slot in range, in scan order, or to the next bundle's.
func (s *bundledRecords) loadBundle() {
	for {
		s.streamHead, s.cur = streamHead{}, nil
		if !s.it.Valid() {
			return
		}
		item := s.it.Item()
		first, last, ok := bundleRange(item.Key())
		if !ok {
			s.ok, s.err = true, fmt.Errorf("%w: record bundle key of %d bytes", store.ErrCorrupt, len(item.Key()))
			return
		}
		if s.r.Descending && last < s.r.Lo || !s.r.Descending && first >= s.r.Hi {
			return
		}
		val, err := item.ValueCopy(nil)
		if err == nil {
			s.cur, err = decodeBundle(first, last, val, false)
		}
		if err != nil {
			s.ok, s.idx, s.err = true, first, fmt.Errorf("the record bundle of events %d to %d: %w", first, last, err)
			return
		}
		s.pos = -1
		if s.step() {
			return
		}
		s.it.Next()
	}
}

// step moves the head to the next stored slot in range of the current
// bundle, and reports whether there is one.
func (s *bundledRecords) step() bool {
	n := len(s.cur.state)
	for s.pos++; s.pos < n; s.pos++ {
		i := s.pos
		if s.r.Descending {
			i = n - 1 - s.pos
		}
		idx := s.cur.first + uint64(i)
		if s.cur.state[i] != slotStored || idx < s.r.Lo || idx >= s.r.Hi {
			continue
		}
		s.streamHead = streamHead{ok: true, idx: idx, rec: s.cur.recs[i]}
		return true
	}
	s.streamHead = streamHead{}
	return false
}

func (s *bundledRecords) advance() {
	if s.cur != nil && s.step() {
		return
	}
	s.it.Next()
	s.loadBundle()
}

func (s *bundledRecords) close() { s.it.Close() }

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
