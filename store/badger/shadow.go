package badger

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/agenttrail/agenttrail/store"
)

// makeShadow builds the private directory through which Badger opens a
// data directory read-only without writing to it: symbolic links to the
// manifest, the key registry, the tables MANIFEST lists and the value logs,
// and copies of the write-ahead logs cut at the end of their last complete
// transaction, which is where Badger's read-write recovery would cut them
// (read-only, Badger refuses a log it would have to cut). Tables MANIFEST
// does not list are left out, so that Badger has nothing to delete.
func makeShadow(in *inspection) (dir string, err error) {
	dir, err = os.MkdirTemp("", "agenttrail-readonly-")
	if err != nil {
		return "", fmt.Errorf("%w: making a private directory to open the store read-only: %v", store.ErrFailed, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
			err = fmt.Errorf("%w: preparing a read-only view of %s in %s: %v", store.ErrFailed, in.dir, dir, err)
		}
	}()
	link := func(name string) error {
		return os.Symlink(filepath.Join(in.dir, name), filepath.Join(dir, name))
	}
	if err := link(manifestName); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(in.dir, registryName)); err == nil {
		if err := link(registryName); err != nil {
			return "", err
		}
	}
	for _, name := range in.tables {
		if err := link(name); err != nil {
			return "", err
		}
	}
	for _, v := range in.vlogs {
		if v.size < logHeaderSize {
			continue // an empty file left by a crash; nothing points into it
		}
		if err := link(v.name); err != nil {
			return "", err
		}
	}
	for _, w := range in.wals {
		if w.validEnd == w.size {
			if err := link(w.name); err != nil {
				return "", err
			}
			continue
		}
		if err := copyPrefix(filepath.Join(in.dir, w.name), filepath.Join(dir, w.name), int64(w.validEnd)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func copyPrefix(src, dst string, n int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// openDirForLock opens a directory to lock it, or returns nil when it does
// not exist.
func openDirForLock(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", store.ErrFailed, err)
	}
	return f, nil
}

// checkOrphans checks the tables MANIFEST does not list, which Badger
// deletes on open. A crash during a flush or a compaction leaves such a
// table behind, holding copies of records kept elsewhere (in the
// write-ahead log, or in the tables compacted). If a table holds a record
// the database does not, MANIFEST lost its entry, and deleting the table
// would lose the record: that is refused. h is the database opened
// read-only without the orphans.
func (d *Driver) checkOrphans(in *inspection, h *handle) error {
	for _, name := range in.orphans {
		missing, first, err := orphanMissing(filepath.Join(in.dir, name), h.db)
		if err != nil {
			return err
		}
		if missing > 0 {
			dmg := &Damage{File: filepath.Join(in.dir, name), Problem: fmt.Sprintf(
				"not listed in MANIFEST, yet it holds %d records the database does not: MANIFEST lost its entry, and Badger would delete the table", missing)}
			describeDamage(dmg, first)
			return dmg
		}
		d.log.Warn("recovering after a crash: Badger deletes a table left by an interrupted flush or compaction; every record it holds is in the database",
			slog.String("table", name))
	}
	return nil
}

// orphanMissing counts the records of a table file that the database does
// not hold at the same or a later version, and returns the first.
func orphanMissing(path string, db *badgerdb.DB) (missing int, first []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", store.ErrFailed, err)
	}
	defer f.Close()
	data, err := mapFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: %v", store.ErrFailed, path, err)
	}
	defer unmap(data)
	defer func() {
		if p := recover(); p != nil {
			// A table cut short by a crash while it was written: its
			// records are still where they were being copied from.
			missing, first, err = 0, nil, nil
		}
	}()
	t, err := table.OpenTable(&z.MmapFile{Data: data, Fd: f}, table.Options{ReadOnly: true, ChkMode: options.OnBlockRead, BlockSize: 4 << 10})
	if err != nil {
		return 0, nil, nil // likewise
	}
	it := t.NewIterator(table.NOCACHE)
	defer it.Close()
	err = db.View(func(txn *badgerdb.Txn) error {
		for it.Rewind(); it.Valid(); it.Next() {
			if it.Value().Meta&1 != 0 { // a deletion marker
				continue
			}
			key := y.ParseKey(it.Key())
			item, err := txn.Get(key)
			if err == nil && item.Version() >= y.ParseTs(it.Key()) {
				continue
			}
			if err != nil && !errors.Is(err, badgerdb.ErrKeyNotFound) {
				return err
			}
			if missing++; first == nil {
				first = append([]byte(nil), key...)
			}
		}
		return nil
	})
	return missing, first, err
}
