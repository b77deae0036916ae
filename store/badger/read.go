package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
)

// LookupIDs implements store.Driver. It reads the snapshot of the ids
// taken by the last commit (idSnapshot), and so never waits for a commit
// in progress.
func (d *Driver) LookupIDs(ctx context.Context, ids []string) (out map[string]uint64, err error) {
	h, err := d.acquire()
	if err != nil {
		return nil, err
	}
	defer h.release()
	defer d.recoverBadger(&err)
	out = make(map[string]uint64, len(ids))
	err = h.ids.view(h.db, func(txn *badgerdb.Txn, last []byte) error {
		key := make([]byte, 0, 64)
		for _, id := range ids {
			key = appendIDKey(key[:0], id)
			if bytes.Compare(key, last) > 0 {
				continue // after every stored id: not stored
			}
			val, err := getValue(txn, key)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			index, err := decodeU64(val)
			if err != nil {
				return fmt.Errorf("id index: %w", err)
			}
			out[id] = index
		}
		return nil
	})
	return out, err
}

// ReadEntries implements store.Driver.
func (d *Driver) ReadEntries(ctx context.Context, indexes []uint64, content bool) ([]store.RawEntry, error) {
	out := make([]store.RawEntry, 0, len(indexes))
	err := d.view(func(txn *badgerdb.Txn) error {
		r := newPointReader(txn)
		defer r.close()
		for _, idx := range indexes {
			e, err := r.read(idx, content)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// pointReader reads the records of events at indexes in any order: from
// the record bundles of their batches, or, in a store written before
// bundles, from their own records.
type pointReader struct {
	txn              *badgerdb.Txn
	leaves, contents *bundleFinder
}

func newPointReader(txn *badgerdb.Txn) *pointReader {
	return &pointReader{txn: txn, leaves: newBundleFinder(txn, prefixLeaves), contents: newBundleFinder(txn, prefixContents)}
}

func (r *pointReader) close() {
	r.leaves.close()
	r.contents.close()
}

// read reads the records of the event at index.
func (r *pointReader) read(index uint64, content bool) (store.RawEntry, error) {
	e := store.RawEntry{Index: index}
	rec, bundled, err := leafFromBundle(r.leaves, index)
	switch {
	case err != nil:
		return e, err
	case bundled:
		e.LeafData = rec
	default:
		ld, err := getValue(r.txn, recordKey(index))
		if errors.Is(err, store.ErrNotFound) {
			return e, fmt.Errorf("%w: no event at index %d", store.ErrNotFound, index)
		}
		if err != nil {
			return e, err
		}
		e.LeafData = ld
	}
	if content {
		if err := r.content(&e); err != nil {
			return e, err
		}
	}
	return e, nil
}

// content adds the content record of an event with its content key, or
// notes that it was erased.
func (r *pointReader) content(e *store.RawEntry) error {
	bundled, stored, err := contentFromBundle(r.contents, e)
	if err != nil {
		return err
	}
	if !bundled {
		return readOwnContent(r.txn, e)
	}
	if stored {
		k, err := getValue(r.txn, keyringKey(store.EventKeyName(e.Index)))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		e.ContentKey = k
	}
	return nil
}

// leafFromBundle reads the leaf data of the event at index from the record
// bundle f finds for it. bundled is false when no bundle holds the index
// (a store written before bundles keeps it on its own); a bundle that holds
// no record for it is ErrNotFound.
func leafFromBundle(f *bundleFinder, index uint64) (rec []byte, bundled bool, err error) {
	b, err := f.find(index)
	if err != nil || b == nil {
		return nil, false, err
	}
	st, rec := b.slot(index)
	if st != slotStored {
		return nil, true, fmt.Errorf("%w: no event at index %d", store.ErrNotFound, index)
	}
	return rec, true, nil
}

// contentFromBundle sets the content record of an event, or its erasure
// mark, from the record bundle f finds for it. bundled is false when no
// bundle holds the index; stored says whether the bundle holds a content
// record for it (whose content key the caller reads).
func contentFromBundle(f *bundleFinder, e *store.RawEntry) (bundled, stored bool, err error) {
	b, err := f.find(e.Index)
	if err != nil || b == nil {
		return false, false, err
	}
	switch st, rec := b.slot(e.Index); st {
	case slotErased:
		e.Erased = true
	case slotStored:
		e.Content = rec
		return true, true, nil
	}
	return true, false, nil
}

// readOwnContent adds the content record an event has on its own (in a
// store written before bundles), or notes that it was erased.
func readOwnContent(txn *badgerdb.Txn, e *store.RawEntry) error {
	rec, err := getValue(txn, contentKey(e.Index))
	switch {
	case err == nil:
		e.Content = rec
		k, err := getValue(txn, keyringKey(store.EventKeyName(e.Index)))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		e.ContentKey = k
	case errors.Is(err, store.ErrNotFound):
		if _, err := txn.Get(erasedKey(e.Index)); err == nil {
			e.Erased = true
		} else if !errors.Is(err, badgerdb.ErrKeyNotFound) {
			return err
		}
	default:
		return err
	}
	return nil
}

// ReadHashes implements store.Driver. Each hash bundle holds the
// consecutive stored hashes of one batch under the stored-hash index of its
// first hash; a read finds the bundle at or below the index.
func (d *Driver) ReadHashes(ctx context.Context, indexes []int64) ([][hashSize]byte, error) {
	out := make([][hashSize]byte, len(indexes))
	err := d.view(func(txn *badgerdb.Txn) error {
		var first uint64
		var bundle [][hashSize]byte
		for i, idx := range indexes {
			if idx < 0 {
				return fmt.Errorf("%w: negative tree hash index", store.ErrInvalidArgument)
			}
			u := uint64(idx)
			if bundle == nil || u < first || u-first >= uint64(len(bundle)) {
				key, val, err := seekFloor(txn, prefixHashes, u)
				if err != nil {
					return fmt.Errorf("tree hash %d: %w", idx, err)
				}
				first = keyIndex(key)
				if bundle, err = decodeHashes(val); err != nil {
					return fmt.Errorf("hash bundle %d: %w", first, err)
				}
				if u-first >= uint64(len(bundle)) {
					return fmt.Errorf("%w: tree hash %d is not stored", store.ErrNotFound, idx)
				}
			}
			out[i] = bundle[u-first]
		}
		return nil
	})
	return out, err
}

// Roots implements store.Driver.
func (d *Driver) Roots(ctx context.Context, after uint64) iter.Seq2[store.TreeRoot, error] {
	return func(yield func(store.TreeRoot, error) bool) {
		iterate(d, ctx, prefixSize, after, yield, func(key, val []byte) (store.TreeRoot, error) {
			if len(val) != hashSize {
				return store.TreeRoot{}, fmt.Errorf("%w: size record of %d bytes", store.ErrCorrupt, len(val))
			}
			return store.TreeRoot{Size: keyIndex(key), Root: [hashSize]byte(val)}, nil
		})
	}
}

// Checkpoints implements store.Driver.
func (d *Driver) Checkpoints(ctx context.Context, after uint64) iter.Seq2[store.StoredCheckpoint, error] {
	return func(yield func(store.StoredCheckpoint, error) bool) {
		iterate(d, ctx, prefixCheckpoint, after, yield, func(key, val []byte) (store.StoredCheckpoint, error) {
			return store.StoredCheckpoint{Size: keyIndex(key), Note: val}, nil
		})
	}
}

// iterate yields the decoded values of the 9-byte keys of a prefix whose
// index is above after, in key order, in one read transaction.
func iterate[T any](d *Driver, ctx context.Context, prefix byte, after uint64, yield func(T, error) bool, decode func(key, val []byte) (T, error)) {
	var zero T
	yield = guard(yield)
	err := d.view(func(txn *badgerdb.Txn) error {
		opts := badgerdb.DefaultIteratorOptions
		opts.Prefix = []byte{prefix}
		it := txn.NewIterator(opts)
		defer it.Close()
		if after == ^uint64(0) {
			return nil
		}
		for it.Seek(u64Key(prefix, after+1)); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			key := item.KeyCopy(nil)
			if len(key) != 9 {
				return fmt.Errorf("%w: key of %d bytes under prefix %q", store.ErrCorrupt, len(key), prefix)
			}
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			v, err := decode(key, val)
			if err != nil {
				return err
			}
			if !yield(v, nil) {
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		yield(zero, err)
	}
}

// errStop ends an iteration its consumer left.
var errStop = errors.New("iteration stopped")

// Checkpoint implements store.Driver.
func (d *Driver) Checkpoint(ctx context.Context, size uint64) ([]byte, error) {
	var msg []byte
	err := d.view(func(txn *badgerdb.Txn) error {
		var err error
		msg, err = getValue(txn, checkpointKey(size))
		return err
	})
	return msg, err
}

// LatestCheckpoint implements store.Driver.
func (d *Driver) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	var size uint64
	var msg []byte
	err := d.view(func(txn *badgerdb.Txn) error {
		key, val, err := seekFloor(txn, prefixCheckpoint, ^uint64(0))
		if err != nil {
			return err
		}
		size, msg = keyIndex(key), val
		return nil
	})
	return size, msg, err
}

// Aggregates implements store.Driver in one pass over an hour's keys:
// its rollups sort first ('R'), so when the deltas ('d') begin, the latest
// rollup is known; its value is read then, and the deltas' values as the
// iterator passes the ones after it.
func (d *Driver) Aggregates(ctx context.Context, cube store.Cube, from, to uint32) iter.Seq2[store.AggregateRecord, error] {
	return func(yield func(store.AggregateRecord, error) bool) {
		yield = guard(yield)
		err := d.view(func(txn *badgerdb.Txn) error {
			opts := badgerdb.DefaultIteratorOptions
			opts.PrefetchValues = false
			opts.Prefix = []byte{prefixAggregate, byte(cube)}
			it := txn.NewIterator(opts)
			defer it.Close()
			hour, inHour := uint32(0), false
			var rollupKey []byte // the latest rollup of the hour, not yet yielded
			var rollup store.AggregateRecord
			emitRollup := func() error {
				if rollupKey == nil {
					return nil
				}
				val, err := getValue(txn, rollupKey)
				if err != nil {
					return err
				}
				rollup.Cells, rollupKey = val, nil
				if !yield(rollup, nil) {
					return errStop
				}
				return nil
			}
			for it.Seek(aggregateHourPrefix(byte(cube), from)); it.Valid(); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				item := it.Item()
				key := item.Key()
				if len(key) != 15 || key[6] != 'd' && key[6] != 'R' {
					return fmt.Errorf("%w: aggregate key of %d bytes", store.ErrCorrupt, len(key))
				}
				h := binary.BigEndian.Uint32(key[2:6])
				if h >= to {
					break
				}
				if !inHour || h != hour {
					if err := emitRollup(); err != nil { // an hour of rollups only
						return err
					}
					hour, inHour, rollup = h, true, store.AggregateRecord{}
				}
				n := binary.BigEndian.Uint64(key[7:])
				if key[6] == 'R' {
					if n == 0 {
						return fmt.Errorf("%w: an aggregate rollup up to size 0", store.ErrCorrupt)
					}
					rollupKey = item.KeyCopy(nil)
					rollup = store.AggregateRecord{Cube: cube, Hour: h, Upto: n}
					continue
				}
				if err := emitRollup(); err != nil {
					return err
				}
				if n < rollup.Upto {
					continue // covered by the rollup
				}
				val, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				if !yield(store.AggregateRecord{Cube: cube, Hour: h, First: n, Cells: val}, nil) {
					return errStop
				}
			}
			return emitRollup()
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(store.AggregateRecord{}, err)
		}
	}
}

// entryReader reads the records of the events a scan visits, in scan order:
// leaf data and contents from the record bundles of their batches (one
// value read per batch, see bundle.go), content keys through an iterator
// over the keyring's event keys in the scan's read transaction. A scan's
// indexes only move one way, so the iterator steps forward to the next
// index it needs, or seeks when that is far: a step costs a fraction of a
// point lookup, which searches every level of the tree for each key. The
// records of a store written before bundles, one key per event, are read
// the same way.
type entryReader struct {
	txn              *badgerdb.Txn
	desc             bool
	leaves, contents *bundleFinder
	rec, con, ck     *keyCursor // rec, con: records on their own, from the first read of one
	arena            valueArena
}

// valueArena holds the copies of the values a scan yields: carved from
// blocks of arenaBlock bytes, so that an event's records cost a fraction
// of one allocation, not one each. A block lives on while any value carved
// from it does: a scan's entries are short-lived, and hold little else.
type valueArena struct {
	block []byte // len: the bytes handed out
}

const arenaBlock = 16 << 10 // a size class of its own: no large allocation

// copy returns a copy of the value of item, which stays valid after the
// scan moves on, as item.ValueCopy(nil) does (an empty value too is nil).
func (a *valueArena) copy(item *badgerdb.Item) ([]byte, error) {
	var out []byte
	err := item.Value(func(v []byte) error {
		switch {
		case len(v) == 0:
			return nil
		case len(v) > arenaBlock/4:
			out = bytes.Clone(v)
			return nil
		}
		if cap(a.block)-len(a.block) < len(v) {
			a.block = make([]byte, 0, arenaBlock)
		}
		n := len(a.block)
		a.block = append(a.block, v...)
		out = a.block[n:len(a.block):len(a.block)]
		return nil
	})
	return out, err
}

func newEntryReader(txn *badgerdb.Txn, desc, content bool) *entryReader {
	r := &entryReader{txn: txn, desc: desc, leaves: newBundleFinder(txn, prefixLeaves)}
	if content {
		r.contents = newBundleFinder(txn, prefixContents)
		r.ck = newKeyCursor(txn, keyringKey(store.EventKeyName(0)[:1]), desc)
	}
	return r
}

// read reads the records of the event at index, as pointReader.read does.
func (r *entryReader) read(index uint64) (store.RawEntry, error) {
	e := store.RawEntry{Index: index}
	rec, bundled, err := leafFromBundle(r.leaves, index)
	if err != nil {
		return e, err
	}
	if bundled {
		e.LeafData = rec
	} else {
		if r.rec == nil {
			r.rec = newKeyCursor(r.txn, []byte{prefixRecord}, r.desc)
		}
		item := r.rec.find(index)
		if item == nil {
			return e, fmt.Errorf("%w: no event at index %d", store.ErrNotFound, index)
		}
		ld, err := r.arena.copy(item)
		if err != nil {
			return e, err
		}
		e.LeafData = ld
	}
	if r.contents != nil {
		if err := r.content(&e); err != nil {
			return e, err
		}
	}
	return e, nil
}

// content adds the content record of an event and its content key, or
// notes that it was erased, as pointReader.content does.
func (r *entryReader) content(e *store.RawEntry) error {
	bundled, stored, err := contentFromBundle(r.contents, e)
	if err != nil {
		return err
	}
	switch {
	case bundled && !stored:
		return nil // erased, or no record
	case !bundled:
		if r.con == nil {
			r.con = newKeyCursor(r.txn, []byte{prefixContent}, r.desc)
		}
		item := r.con.find(e.Index)
		if item == nil {
			if _, err := r.txn.Get(erasedKey(e.Index)); err == nil {
				e.Erased = true
			} else if !errors.Is(err, badgerdb.ErrKeyNotFound) {
				return err
			}
			return nil
		}
		if e.Content, err = r.arena.copy(item); err != nil {
			return err
		}
	}
	if item := r.ck.find(e.Index); item != nil {
		if e.ContentKey, err = r.arena.copy(item); err != nil {
			return err
		}
	}
	return nil
}

func (r *entryReader) close() {
	for _, c := range []*keyCursor{r.rec, r.con, r.ck} {
		if c != nil {
			c.it.Close()
		}
	}
	r.leaves.close()
	if r.contents != nil {
		r.contents.close()
	}
}

// maxStep is how many keys a keyCursor steps over to reach the next index
// it is asked for before it seeks instead.
const maxStep = 32

// keyCursor finds the keys prefix+index (8 bytes, big-endian) for indexes
// that only increase (descending: decrease).
type keyCursor struct {
	it     *badgerdb.Iterator
	prefix []byte
	desc   bool
	key    []byte
	seeked bool
}

func newKeyCursor(txn *badgerdb.Txn, prefix []byte, desc bool) *keyCursor {
	opts := badgerdb.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.Reverse = desc
	opts.PrefetchValues = false // values are read only for the keys found
	return &keyCursor{it: txn.NewIterator(opts), prefix: prefix, desc: desc}
}

// find returns the item of the key prefix+index, or nil when there is none.
// The item is valid until the next call.
func (c *keyCursor) find(index uint64) *badgerdb.Item {
	c.key = binary.BigEndian.AppendUint64(append(c.key[:0], c.prefix...), index)
	if c.seeked {
		for n := 0; n < maxStep && c.it.Valid(); n++ {
			item := c.it.Item()
			switch cmp := bytes.Compare(item.Key(), c.key); {
			case cmp == 0:
				return item
			case cmp > 0 != c.desc:
				return nil // passed it: not stored
			}
			c.it.Next()
		}
	}
	c.it.Seek(c.key)
	c.seeked = true
	if c.it.Valid() && bytes.Equal(c.it.Item().Key(), c.key) {
		return c.it.Item()
	}
	return nil
}
