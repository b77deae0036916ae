package badger

import (
	"net/url"
	"testing"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// harness runs the conformance suite on data directories in temporary
// directories.
func harness() storetest.Harness {
	return storetest.Harness{
		New:         func(t testing.TB) string { return URL(t.TempDir()) },
		Tamper:      tamper,
		WrittenOnce: writtenOnce,
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

// rawDB opens the database behind a badger URL directly, as an attacker
// with access to the disk would.
func rawDB(t testing.TB, u string) *badgerdb.DB {
	t.Helper()
	d, err := Open(dirOf(t, u))
	if err != nil {
		t.Fatal(err)
	}
	// Reopen without the driver's options: only what any Badger reader
	// needs.
	dir := d.Dir()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := badgerdb.Open(badgerdb.DefaultOptions(dir + "/events").WithLogger(nil).WithValueThreshold(1 << 10))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func dirOf(t testing.TB, u string) string {
	t.Helper()
	dir, _, err := parseURL(mustParse(t, u))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// writtenOnce checks that Badger holds exactly one version of every key.
func writtenOnce(t testing.TB, u string) {
	t.Helper()
	db := rawDB(t, u)
	defer db.Close()
	err := db.View(func(txn *badgerdb.Txn) error {
		opts := badgerdb.DefaultIteratorOptions
		opts.AllVersions = true
		it := txn.NewIterator(opts)
		defer it.Close()
		versions := map[string]int{}
		for it.Rewind(); it.Valid(); it.Next() {
			versions[string(it.Item().KeyCopy(nil))]++
		}
		for key, n := range versions {
			if n != 1 {
				t.Errorf("key %q has %d versions; every key is written once", key, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tamperer edits a closed data directory through Badger.
type tamperer struct {
	t  testing.TB
	db *badgerdb.DB
}

func tamper(t testing.TB, u string) storetest.Tamperer { return &tamperer{t: t, db: rawDB(t, u)} }

func (tp *tamperer) get(key []byte) []byte {
	tp.t.Helper()
	var v []byte
	err := tp.db.View(func(txn *badgerdb.Txn) error {
		var err error
		v, err = getValue(txn, key)
		return err
	})
	if err != nil {
		tp.t.Fatalf("reading %q: %v", key, err)
	}
	return v
}

func (tp *tamperer) update(fn func(txn *badgerdb.Txn) error) {
	tp.t.Helper()
	if err := tp.db.Update(fn); err != nil {
		tp.t.Fatal(err)
	}
}

func (tp *tamperer) set(key, val []byte) {
	tp.update(func(txn *badgerdb.Txn) error { return txn.Set(key, val) })
}

func (tp *tamperer) del(key []byte) {
	tp.update(func(txn *badgerdb.Txn) error { return txn.Delete(key) })
}

func (tp *tamperer) LeafData(i uint64) []byte          { return tp.get(recordKey(i)) }
func (tp *tamperer) SetLeafData(i uint64, data []byte) { tp.set(recordKey(i), data) }
func (tp *tamperer) Content(i uint64) []byte           { return tp.get(contentKey(i)) }
func (tp *tamperer) SetContent(i uint64, rec []byte)   { tp.set(contentKey(i), rec) }
func (tp *tamperer) DeleteEvent(i uint64)              { tp.del(recordKey(i)) }
func (tp *tamperer) DeleteContent(i uint64)            { tp.del(contentKey(i)) }
func (tp *tamperer) DeleteEventID(id string)           { tp.del(idKey(id)) }
func (tp *tamperer) Close()                            { tp.db.Close() }
func (tp *tamperer) TreeHash(idx int64) [store.HashSize]byte {
	key, hs := tp.bundle(idx)
	return hs[uint64(idx)-keyIndex(key)]
}

func (tp *tamperer) SetTreeHash(idx int64, h [store.HashSize]byte) {
	key, hs := tp.bundle(idx)
	hs[uint64(idx)-keyIndex(key)] = h
	tp.set(key, encodeHashes(hs))
}

// bundle returns the hash bundle that holds a stored hash.
func (tp *tamperer) bundle(idx int64) ([]byte, [][store.HashSize]byte) {
	tp.t.Helper()
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
	if err != nil || uint64(idx)-keyIndex(key) >= uint64(len(hs)) {
		tp.t.Fatalf("no hash bundle holds stored hash %d: %v", idx, err)
	}
	return key, hs
}

func mustParse(t testing.TB, u string) *url.URL {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
