package badger

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
)

// A record bundle holds one kind of per-event record (leaf data, or
// content) for consecutive events of one batch (see bundleRuns), under one
// key: prefix, the index of its first event, and of its last, each 8 bytes
// big-endian. One key per run of events rather than one per event is most
// of what a commit saves in Badger's work (its write-ahead log entries,
// its value log entries and their encryption, its memtable inserts), and
// scans read a run's records in one value. Each bundle is written once, with its
// batch, like every per-event record before it. Contents stay encrypted
// under per-event keys in the keyring, so that erasing one event's content
// destroys its key and never rewrites its bundle.
//
// The value is uvarint(count), count = last-first+1, then one slot per
// event, in index order: uvarint(tag), then for a stored record its bytes.
// Tag 0: no record (a deleted record, which only tampering makes); tag 1:
// content erased before it was stored (content bundles only); tag n >= 2:
// a record of n-2 bytes.
const (
	slotAbsent = iota
	slotErased
	slotStored
)

// maxBundle bounds the events of one bundle as decoders accept it: a
// bundle holds part of one batch, and batches are far smaller.
const maxBundle = 1 << 20

// A batch's events go into bundles of bundleEvents events at most, and a
// bundle is closed once its records reach bundleBytes: a read of one event
// reads and decrypts its whole bundle, so bundles stay small enough for
// the events of a sparse query (a session among many, one user's events)
// to cost little more than they did with a key each, while a full batch
// of 256 events still writes 32 entries instead of 512.
const (
	bundleEvents = 16
	bundleBytes  = 64 << 10
)

// bundleRuns yields the runs of a batch's events [start, end) that share
// a bundle.
func bundleRuns(events []store.BatchEvent) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		start, size := 0, 0
		for i, ev := range events {
			size += len(ev.LeafData) + len(ev.Content)
			if i+1-start == bundleEvents || size >= bundleBytes || i == len(events)-1 {
				if !yield(start, i+1) {
					return
				}
				start, size = i+1, 0
			}
		}
	}
}

// bundleKey is the key of the bundle of prefix for the events [first, last].
func bundleKey(prefix byte, first, last uint64) []byte {
	k := make([]byte, 17)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], first)
	binary.BigEndian.PutUint64(k[9:], last)
	return k
}

// bundleRange returns the first and last index of a bundle's key, and false
// when key is not a bundle key.
func bundleRange(key []byte) (first, last uint64, ok bool) {
	if len(key) != 17 || key[0] != prefixLeaves && key[0] != prefixContents {
		return 0, 0, false
	}
	first, last = binary.BigEndian.Uint64(key[1:]), binary.BigEndian.Uint64(key[9:])
	return first, last, first <= last
}

// bundle is a decoded record bundle: the slots of the events [first,
// first+len(state)).
type bundle struct {
	first uint64
	state []byte   // slotAbsent, slotErased or slotStored per event
	recs  [][]byte // the stored records (alias the encoded value)
}

// covers reports whether the bundle holds a slot for index.
func (b *bundle) covers(index uint64) bool {
	return b != nil && index >= b.first && index-b.first < uint64(len(b.state))
}

// slot returns the state and record of the event at index, which the
// bundle covers.
func (b *bundle) slot(index uint64) (byte, []byte) {
	i := index - b.first
	return b.state[i], b.recs[i]
}

// last is the index of the bundle's last event.
func (b *bundle) last() uint64 { return b.first + uint64(len(b.state)) - 1 }

// bundleWriter encodes a bundle slot by slot.
type bundleWriter struct {
	buf []byte
}

// newBundleWriter starts a bundle of n slots with room for size bytes of
// records.
func newBundleWriter(n, size int) *bundleWriter {
	w := &bundleWriter{buf: make([]byte, 0, binary.MaxVarintLen32*(n+1)+size)}
	w.buf = binary.AppendUvarint(w.buf, uint64(n))
	return w
}

// add appends a slot: a stored record, or with state slotAbsent or
// slotErased, none.
func (w *bundleWriter) add(state byte, rec []byte) {
	if state != slotStored {
		w.buf = binary.AppendUvarint(w.buf, uint64(state))
		return
	}
	w.buf = binary.AppendUvarint(w.buf, uint64(len(rec))+slotStored)
	w.buf = append(w.buf, rec...)
}

// encodeBundle encodes the slots of a bundle.
func encodeBundle(state []byte, recs [][]byte) []byte {
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	w := newBundleWriter(len(state), size)
	for i, st := range state {
		w.add(st, recs[i])
	}
	return w.buf
}

// decodeBundle decodes the value of the bundle of the events [first, last]
// (from its key). The records it returns alias b. erasable says whether
// the slots may mark erased content (content bundles).
func decodeBundle(first, last uint64, b []byte, erasable bool) (*bundle, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || k != uvarintLen(n) || n == 0 || n > maxBundle || last < first || last-first != n-1 {
		return nil, fmt.Errorf("%w: a record bundle of events %d to %d does not hold their count", store.ErrCorrupt, first, last)
	}
	b = b[k:]
	out := &bundle{first: first, state: make([]byte, n), recs: make([][]byte, n)}
	for i := range n {
		tag, k := binary.Uvarint(b)
		if k <= 0 || k != uvarintLen(tag) || tag == slotErased && !erasable || tag > math.MaxInt32 {
			return nil, fmt.Errorf("%w: the record bundle slot of event %d", store.ErrCorrupt, first+i)
		}
		b = b[k:]
		if tag < slotStored {
			out.state[i] = byte(tag)
			continue
		}
		size := tag - slotStored
		if size > uint64(len(b)) {
			return nil, fmt.Errorf("%w: the record of event %d in its bundle is cut", store.ErrCorrupt, first+i)
		}
		out.state[i] = slotStored
		if size > 0 {
			out.recs[i] = b[:size:size]
		}
		b = b[size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after a record bundle", store.ErrCorrupt, len(b))
	}
	return out, nil
}

// floorBundleKey returns the key of the bundle of prefix whose first index
// is the largest at or below index, or nil when there is none.
func floorBundleKey(txn *badgerdb.Txn, prefix byte, index uint64) ([]byte, error) {
	f := newBundleFinder(txn, prefix)
	defer f.close()
	if !f.seek(index) {
		return nil, nil
	}
	key := f.it.Item().KeyCopy(nil)
	if _, _, ok := bundleRange(key); !ok || key[0] != prefix {
		return nil, fmt.Errorf("%w: record bundle key of %d bytes", store.ErrCorrupt, len(key))
	}
	return key, nil
}

// bundleFinder finds the bundles of one prefix that hold given indexes,
// in any order, keeping the last one it decoded: the indexes of a scan or
// of a read of many entries mostly fall in the same batch as the one
// before.
type bundleFinder struct {
	txn    *badgerdb.Txn
	prefix byte
	it     *badgerdb.Iterator // reverse, keys only: Seek finds the floor
	cur    *bundle

	// For reads in log order: when an index is past cur, the bundle that
	// holds it is usually the next one, a step of a forward iterator away,
	// where a floor seek searches every table again (a tenth of a session
	// read's CPU). next is at the first bundle whose first index is at or
	// after nextFrom, when nextAt is set; every bundle that starts before
	// nextFrom also ends before it (bundles never overlap).
	next     *badgerdb.Iterator // forward, keys only
	nextAt   bool
	nextFrom uint64

	// For reads in reverse log order, the same with it: itAtCur says that
	// it is at cur's key (where the seek that found cur left it); prevAt
	// that it is at the bundle whose first index is the largest below
	// prevBelow.
	itAtCur   bool
	prevAt    bool
	prevBelow uint64
}

// maxBundleSteps is how many bundles a read in order steps over before it
// seeks instead: a filter's next match can be far away.
const maxBundleSteps = 8

func newBundleFinder(txn *badgerdb.Txn, prefix byte) *bundleFinder {
	return &bundleFinder{txn: txn, prefix: prefix}
}

// seek moves to the bundle whose first index is the largest at or below
// index, and reports whether there is one.
func (f *bundleFinder) seek(index uint64) bool {
	if f.it == nil {
		opts := badgerdb.DefaultIteratorOptions
		opts.Prefix = []byte{f.prefix}
		opts.Reverse = true
		opts.PrefetchValues = false
		f.it = f.txn.NewIterator(opts)
	}
	f.it.Seek(bundleKey(f.prefix, index, math.MaxUint64))
	return f.it.Valid()
}

// find returns the bundle that holds a slot for index, or nil when none
// does (the event is beyond the log, or in a store written before bundles,
// stored on its own).
func (f *bundleFinder) find(index uint64) (*bundle, error) {
	if f.cur.covers(index) {
		return f.cur, nil
	}
	if f.cur != nil && index > f.cur.last() {
		if b, ok, err := f.forward(index); err != nil || ok {
			return b, err
		}
	}
	if f.cur != nil && index < f.cur.first {
		if b, ok, err := f.backward(index); err != nil || ok {
			return b, err
		}
	}
	f.nextAt, f.prevAt, f.itAtCur = false, false, false
	if !f.seek(index) {
		return nil, nil
	}
	item := f.it.Item()
	first, last, err := f.keyRange(item)
	if err != nil {
		return nil, err
	}
	if last < index {
		return nil, nil
	}
	b, err := f.decode(item, first, last)
	if err != nil {
		return nil, err
	}
	f.cur, f.itAtCur = b, true
	return b, nil
}

// keyRange returns the first and last index of the bundle whose key item
// has.
func (f *bundleFinder) keyRange(item *badgerdb.Item) (first, last uint64, err error) {
	first, last, ok := bundleRange(item.Key())
	if !ok || item.Key()[0] != f.prefix {
		return 0, 0, fmt.Errorf("%w: record bundle key of %d bytes", store.ErrCorrupt, len(item.Key()))
	}
	return first, last, nil
}

// decode reads and decodes the bundle of item.
func (f *bundleFinder) decode(item *badgerdb.Item, first, last uint64) (*bundle, error) {
	val, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	return decodeBundle(first, last, val, f.prefix == prefixContents)
}

// forward finds the bundle for an index past cur with the forward
// iterator, as find does with a seek, and reports false when it cannot
// tell: the read is not in log order, the bundle is more than
// maxBundleSteps ahead, or the keys are not in the order the store writes
// them. It starts only where a read crosses from cur into the next index.
func (f *bundleFinder) forward(index uint64) (*bundle, bool, error) {
	if !f.nextAt || index < f.nextFrom {
		if index != f.cur.last()+1 {
			return nil, false, nil
		}
		if f.next == nil {
			opts := badgerdb.DefaultIteratorOptions
			opts.Prefix = []byte{f.prefix}
			opts.PrefetchValues = false
			f.next = f.txn.NewIterator(opts)
		}
		f.next.Seek(bundleKey(f.prefix, index, 0))
		f.nextAt, f.nextFrom = true, index
	}
	for range maxBundleSteps {
		if !f.next.Valid() {
			return nil, true, nil // no bundle starts at or after nextFrom
		}
		item := f.next.Item()
		first, last, err := f.keyRange(item)
		if err != nil {
			return nil, false, err
		}
		switch {
		case first < f.nextFrom:
			f.nextAt = false // not in the store's order: let the seek answer
			return nil, false, nil
		case first > index:
			return nil, true, nil // no bundle starts between nextFrom and index
		case last >= index:
			b, err := f.decode(item, first, last)
			if err != nil {
				return nil, false, err
			}
			f.cur, f.itAtCur = b, false
			f.next.Next()
			f.nextFrom = last + 1
			return b, true, nil
		}
		f.next.Next() // the bundle ends before index
		f.nextFrom = last + 1
	}
	f.nextAt = false
	return nil, false, nil
}

// backward is forward for an index before cur, with the reverse iterator,
// which steps from bundle to bundle in reverse log order: the bundle
// before cur is the floor of every index below cur's first.
func (f *bundleFinder) backward(index uint64) (*bundle, bool, error) {
	if !f.prevAt || index >= f.prevBelow {
		if !f.itAtCur {
			return nil, false, nil
		}
		f.it.Next() // from cur to the bundle before it
		f.itAtCur = false
		f.prevAt, f.prevBelow = true, f.cur.first
	}
	for range maxBundleSteps {
		if !f.it.Valid() {
			return nil, true, nil // no bundle starts before prevBelow
		}
		item := f.it.Item()
		first, last, err := f.keyRange(item)
		if err != nil {
			return nil, false, err
		}
		switch {
		case first >= f.prevBelow:
			f.prevAt = false // not in the store's order: let the seek answer
			return nil, false, nil
		case first > index:
			f.it.Next() // the bundle starts after index
			f.prevBelow = first
			continue
		case last < index:
			return nil, true, nil // the floor of index ends before it
		}
		b, err := f.decode(item, first, last)
		if err != nil {
			return nil, false, err
		}
		f.cur = b
		f.it.Next()
		f.prevBelow = first
		return b, true, nil
	}
	f.prevAt = false
	return nil, false, nil
}

// findBundle returns the bundle of prefix that holds a slot for index, or
// nil, for a single lookup.
func findBundle(txn *badgerdb.Txn, prefix byte, index uint64) (*bundle, error) {
	f := newBundleFinder(txn, prefix)
	defer f.close()
	return f.find(index)
}

func (f *bundleFinder) close() {
	if f.it != nil {
		f.it.Close()
		f.it = nil
	}
	if f.next != nil {
		f.next.Close()
		f.next = nil
	}
	f.nextAt, f.prevAt, f.itAtCur = false, false, false
}
