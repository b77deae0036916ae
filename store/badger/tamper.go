package badger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	badgerdb "github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store"
)

// Tamperer edits the raw records of a closed data directory through Badger
// itself, as an attacker with write access to the disk would. It exists for
// tamper campaigns, the project's own and an auditor's, which must show that
// verification finds every such edit; the engine never uses it. It
// implements storetest.Tamperer.
type Tamperer struct {
	db *badgerdb.DB
}

// Tamper opens the database of a closed data directory for tampering, with
// its storage key (MasterKey.StorageKey; nil for a plaintext directory of
// an older build): the attacker it plays has the disk and the key.
func Tamper(storeURL string, storageKey []byte) (*Tamperer, error) {
	dir, err := DirOf(storeURL)
	if err != nil {
		return nil, err
	}
	db, err := badgerdb.Open(badgerdb.DefaultOptions(filepath.Join(dir, "events")).WithLogger(nil).WithValueThreshold(1 << 10).
		WithEncryptionKey(storageKey).WithIndexCacheSize(8 << 20))
	if err != nil {
		return nil, fmt.Errorf("opening %s for tampering: %w", dir, err)
	}
	return &Tamperer{db: db}, nil
}

func (tp *Tamperer) get(key []byte) ([]byte, error) {
	var v []byte
	err := tp.db.View(func(txn *badgerdb.Txn) error {
		var err error
		v, err = getValue(txn, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", key, err)
	}
	return v, nil
}

func (tp *Tamperer) set(key, val []byte) error {
	return tp.db.Update(func(txn *badgerdb.Txn) error { return txn.Set(key, val) })
}

func (tp *Tamperer) del(key []byte) error {
	return tp.db.Update(func(txn *badgerdb.Txn) error { return txn.Delete(key) })
}

// LeafData returns the stored leaf data of an event.
func (tp *Tamperer) LeafData(i uint64) ([]byte, error) {
	return tp.record(prefixLeaves, recordKey(i), i)
}

// SetLeafData replaces the stored leaf data of an event.
func (tp *Tamperer) SetLeafData(i uint64, data []byte) error {
	return tp.edit(prefixLeaves, i, slotStored, data, func(txn *badgerdb.Txn) error { return txn.Set(recordKey(i), data) })
}

// Content returns the content record of an event.
func (tp *Tamperer) Content(i uint64) ([]byte, error) {
	return tp.record(prefixContents, contentKey(i), i)
}

// SetContent replaces the content record of an event.
func (tp *Tamperer) SetContent(i uint64, rec []byte) error {
	return tp.edit(prefixContents, i, slotStored, rec, func(txn *badgerdb.Txn) error { return txn.Set(contentKey(i), rec) })
}

// DeleteEvent deletes the leaf data record of an event.
func (tp *Tamperer) DeleteEvent(i uint64) error {
	return tp.edit(prefixLeaves, i, slotAbsent, nil, func(txn *badgerdb.Txn) error { return txn.Delete(recordKey(i)) })
}

// DeleteContent deletes the content record of an event.
func (tp *Tamperer) DeleteContent(i uint64) error {
	return tp.edit(prefixContents, i, slotAbsent, nil, func(txn *badgerdb.Txn) error { return txn.Delete(contentKey(i)) })
}

// record reads the record of an event from the bundle of prefix that
// holds it, or from its own key (a store written before bundles).
func (tp *Tamperer) record(prefix byte, own []byte, i uint64) ([]byte, error) {
	var rec []byte
	err := tp.db.View(func(txn *badgerdb.Txn) error {
		b, err := findBundle(txn, prefix, i)
		if err != nil {
			return err
		}
		if b == nil {
			rec, err = getValue(txn, own)
			return err
		}
		st, r := b.slot(i)
		if st != slotStored {
			return fmt.Errorf("%w: no record of event %d in its bundle", store.ErrNotFound, i)
		}
		rec = bytes.Clone(r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the record of event %d: %w", i, err)
	}
	return rec, nil
}

// edit sets the slot of an event in the bundle of prefix that holds it
// and writes the bundle again, or, for an event stored on its own, runs
// own.
func (tp *Tamperer) edit(prefix byte, i uint64, state byte, rec []byte, own func(*badgerdb.Txn) error) error {
	return tp.db.Update(func(txn *badgerdb.Txn) error {
		b, err := findBundle(txn, prefix, i)
		if err != nil {
			return err
		}
		if b == nil {
			return own(txn)
		}
		j := i - b.first
		b.state[j], b.recs[j] = state, rec
		return txn.Set(bundleKey(prefix, b.first, b.last()), encodeBundle(b.state, b.recs))
	})
}

// DeleteKey deletes a keyring record, as an attacker would to make content
// disappear without a logged erasure.
func (tp *Tamperer) DeleteKey(name []byte) error { return tp.del(keyringKey(name)) }

// DeleteEventID deletes the id index entry of an event id.
func (tp *Tamperer) DeleteEventID(id string) error { return tp.del(idKey(id)) }

// Close closes the database, making the edits durable.
func (tp *Tamperer) Close() error { return tp.db.Close() }

// TreeHash returns the stored tree hash at a stored-hash index.
func (tp *Tamperer) TreeHash(idx int64) ([store.HashSize]byte, error) {
	key, hs, err := tp.bundle(idx)
	if err != nil {
		return [store.HashSize]byte{}, err
	}
	return hs[uint64(idx)-keyIndex(key)], nil
}

// SetTreeHash replaces the stored tree hash at a stored-hash index.
func (tp *Tamperer) SetTreeHash(idx int64, h [store.HashSize]byte) error {
	key, hs, err := tp.bundle(idx)
	if err != nil {
		return err
	}
	hs[uint64(idx)-keyIndex(key)] = h
	return tp.set(key, encodeHashes(hs))
}

// bundle returns the hash bundle that holds a stored hash.
func (tp *Tamperer) bundle(idx int64) ([]byte, [][store.HashSize]byte, error) {
	var key []byte
	var hs [][store.HashSize]byte
	err := tp.db.View(func(txn *badgerdb.Txn) error {
		k, v, err := seekFloor(txn, prefixHashes, uint64(idx))
		if err != nil {
			return err
		}
		key = k
		hs, err = decodeHashes(v)
		return err
	})
	if err == nil && uint64(idx)-keyIndex(key) >= uint64(len(hs)) {
		err = errors.New("past the bundle's end")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("no hash bundle holds stored hash %d: %w", idx, err)
	}
	return key, hs, nil
}

// AggregateRecords returns every stored aggregate record, deltas with
// First set and rollups with Upto set.
func (tp *Tamperer) AggregateRecords() ([]store.AggregateRecord, error) {
	var out []store.AggregateRecord
	err := tp.db.View(func(txn *badgerdb.Txn) error {
		opts := badgerdb.DefaultIteratorOptions
		opts.Prefix = []byte{prefixAggregate}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(k) != 15 {
				return fmt.Errorf("aggregate key of %d bytes", len(k))
			}
			r := store.AggregateRecord{Cube: store.Cube(k[1]), Hour: binary.BigEndian.Uint32(k[2:6]), Cells: v}
			if k[6] == 'R' {
				r.Upto = binary.BigEndian.Uint64(k[7:])
			} else {
				r.First = binary.BigEndian.Uint64(k[7:])
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// SetAggregateRecord replaces the cells of a stored aggregate record (the
// one of r's cube, hour and First or Upto).
func (tp *Tamperer) SetAggregateRecord(r store.AggregateRecord) error {
	n := r.First
	if r.Rollup() {
		n = r.Upto
	}
	return tp.set(aggregateKey(byte(r.Cube), r.Hour, r.Rollup(), n), r.Cells)
}

// MarkErased destroys the content record of an event and writes the mark
// that a logged erasure leaves, without logging any erasure: a bare erasure
// marker.
func (tp *Tamperer) MarkErased(i uint64) error {
	return tp.edit(prefixContents, i, slotErased, nil, func(txn *badgerdb.Txn) error {
		if err := txn.Delete(contentKey(i)); err != nil {
			return err
		}
		return txn.Set(erasedKey(i), nil)
	})
}

// DropFromIndexes removes an event from every posting list of the secondary
// indexes and of the time index, so that queries by its session, agent,
// user, kind, tool or time no longer find it.
func (tp *Tamperer) DropFromIndexes(i uint64) error {
	return tp.db.Update(func(txn *badgerdb.Txn) error {
		for _, prefix := range []byte{prefixPostings, prefixTime} {
			type rewrite struct{ old, new, val []byte }
			var edits []rewrite
			opts := badgerdb.DefaultIteratorOptions
			opts.Prefix = []byte{prefix}
			it := txn.NewIterator(opts)
			for it.Rewind(); it.Valid(); it.Next() {
				key := it.Item().KeyCopy(nil)
				val, err := it.Item().ValueCopy(nil)
				if err != nil {
					it.Close()
					return err
				}
				list, err := decodePostings(keyIndex(key), val, nil)
				if err != nil {
					it.Close()
					return err
				}
				k := -1
				for j, idx := range list {
					if idx == i {
						k = j
					}
				}
				if k < 0 {
					continue
				}
				list = append(list[:k], list[k+1:]...)
				e := rewrite{old: key}
				if len(list) > 0 {
					e.new = binary.BigEndian.AppendUint64(bytes.Clone(key[:len(key)-8]), list[0])
					e.val = encodePostings(list)
				}
				edits = append(edits, e)
			}
			it.Close()
			for _, e := range edits {
				if err := txn.Delete(e.old); err != nil {
					return err
				}
				if e.new != nil {
					if err := txn.Set(e.new, e.val); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// Truncate removes every event at and above size, and every record that
// goes with them (content, erasure marks, ids, tree hashes, batch roots,
// checkpoints, index entries), as if the log had never grown past size.
// size must be a size a batch ended at, so that the tree hashes of the
// events below it are whole.
func (tp *Tamperer) Truncate(size uint64) error {
	firstHash := uint64(tlog.StoredHashIndex(0, int64(size)))
	return tp.db.Update(func(txn *badgerdb.Txn) error {
		if _, err := txn.Get(sizeKey(size)); err != nil {
			return fmt.Errorf("no batch ended at size %d: %w", size, err)
		}
		var dels [][]byte
		var rewrites [][2][]byte
		opts := badgerdb.DefaultIteratorOptions
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().KeyCopy(nil)
			switch key[0] {
			case prefixRecord, prefixContent, prefixErased:
				if keyIndex(key) >= size {
					dels = append(dels, key)
				}
			case prefixLeaves, prefixContents:
				first, last, ok := bundleRange(key)
				switch {
				case ok && first >= size:
					dels = append(dels, key)
				case ok && last >= size:
					it.Close()
					return fmt.Errorf("size %d is inside the record bundle of events %d to %d, not where a batch ended", size, first, last)
				}
			case prefixSize, prefixCheckpoint:
				if keyIndex(key) > size {
					dels = append(dels, key)
				}
			case prefixHashes:
				if keyIndex(key) >= firstHash {
					dels = append(dels, key)
				}
			case prefixAggregate:
				// A batch's delta goes with its events; a rollup with the
				// batch that wrote it (the ones before it are deltas).
				if len(key) == 15 && (key[6] == 'd' && keyIndex(key) >= size || key[6] == 'R' && keyIndex(key) > size) {
					dels = append(dels, key)
				}
			case prefixID:
				val, err := it.Item().ValueCopy(nil)
				if err != nil {
					it.Close()
					return err
				}
				if idx, err := decodeU64(val); err == nil && idx >= size {
					dels = append(dels, key)
				}
			case prefixPostings, prefixTime:
				val, err := it.Item().ValueCopy(nil)
				if err != nil {
					it.Close()
					return err
				}
				list, err := decodePostings(keyIndex(key), val, nil)
				if err != nil {
					it.Close()
					return err
				}
				kept := list[:0]
				for _, idx := range list {
					if idx < size {
						kept = append(kept, idx)
					}
				}
				switch {
				case len(kept) == 0:
					dels = append(dels, key)
				case len(kept) < len(list):
					rewrites = append(rewrites, [2][]byte{key, encodePostings(kept)})
				}
			}
		}
		it.Close()
		for _, k := range dels {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		for _, kv := range rewrites {
			if err := txn.Set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
}
