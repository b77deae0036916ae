package badger

import (
	"errors"
	"fmt"
	"path/filepath"

	badgerdb "github.com/dgraph-io/badger/v4"

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
func (tp *Tamperer) LeafData(i uint64) ([]byte, error) { return tp.get(recordKey(i)) }

// SetLeafData replaces the stored leaf data of an event.
func (tp *Tamperer) SetLeafData(i uint64, data []byte) error { return tp.set(recordKey(i), data) }

// Content returns the content record of an event.
func (tp *Tamperer) Content(i uint64) ([]byte, error) { return tp.get(contentKey(i)) }

// SetContent replaces the content record of an event.
func (tp *Tamperer) SetContent(i uint64, rec []byte) error { return tp.set(contentKey(i), rec) }

// DeleteEvent deletes the leaf data record of an event.
func (tp *Tamperer) DeleteEvent(i uint64) error { return tp.del(recordKey(i)) }

// DeleteContent deletes the content record of an event.
func (tp *Tamperer) DeleteContent(i uint64) error { return tp.del(contentKey(i)) }

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
