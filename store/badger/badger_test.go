package badger

import (
	"net/url"
	"testing"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store/storetest"
)

// harness runs the conformance suite on data directories in temporary
// directories.
func harness() storetest.Harness {
	return storetest.Harness{
		New: func(t testing.TB) string { return URL(t.TempDir()) },
		Tamper: func(u string, key []byte) (storetest.Tamperer, error) {
			tp, err := Tamper(u, key)
			if err != nil {
				return nil, err
			}
			return tp, nil
		},
		WrittenOnce: writtenOnce,
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

// rawDB opens the database behind a badger URL directly, as an attacker
// with access to the disk and the storage key would: only with what any
// Badger reader needs, not the driver's options.
func rawDB(t testing.TB, u string, key []byte) *badgerdb.DB {
	t.Helper()
	db, err := badgerdb.Open(badgerdb.DefaultOptions(dirOf(t, u) + "/events").WithLogger(nil).WithValueThreshold(1 << 10).
		WithEncryptionKey(key).WithIndexCacheSize(8 << 20))
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

// writtenOnce checks that Badger holds exactly one version of every key but
// the keyring's.
func writtenOnce(t testing.TB, u string, key []byte) {
	t.Helper()
	db := rawDB(t, u, key)
	defer db.Close()
	err := db.View(func(txn *badgerdb.Txn) error {
		opts := badgerdb.DefaultIteratorOptions
		opts.AllVersions = true
		it := txn.NewIterator(opts)
		defer it.Close()
		versions := map[string]int{}
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().Key(); len(k) > 0 && k[0] != prefixKeyring {
				versions[string(k)]++
			}
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

func mustParse(t testing.TB, u string) *url.URL {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
