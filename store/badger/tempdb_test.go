package badger

import (
	"path/filepath"
	"testing"

	badgerdb "github.com/dgraph-io/badger/v4"
)

// openTempDB opens a plain Badger database in a temporary directory, for
// tests of the driver's parts that work on a database of their own making
// (the finder of record bundles, the id snapshot). It closes when the test
// ends.
func openTempDB(tb testing.TB) *badgerdb.DB {
	tb.Helper()
	db, err := badgerdb.Open(badgerdb.DefaultOptions(filepath.Join(tb.TempDir(), "events")).WithLogger(nil))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
