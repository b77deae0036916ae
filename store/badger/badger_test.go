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
		Tamper: func(u string) (storetest.Tamperer, error) {
			tp, err := Tamper(u)
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

func mustParse(t testing.TB, u string) *url.URL {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
