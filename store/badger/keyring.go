package badger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
)

// The keyring lives in the same database as everything else ('G' keys), so
// that a batch's new keys commit atomically with its events. Deleting a
// Badger key only writes a tombstone: the old value stays in the write-ahead
// log and in tables until compaction drops it. DestroyKeys therefore drops
// the records with DropPrefix, which, with writes held off, flushes the
// memtables without them (their write-ahead log files are then deleted) and
// rewrites every table that holds any version of them; it then checks that
// no version is left. Event content keys destroyed together are dropped by
// the shortest prefix that covers them and no live key besides, so that
// retention of a long run of old events costs a few prefixes, not one per
// event.
//
// What this cannot reach: blocks of deleted files that the file system or
// an SSD's flash translation layer has not overwritten yet, and copies
// outside the data directory (backups, snapshots). Those hold the records
// only encrypted under the storage key (Badger's encryption at rest), and
// the keys in them only wrapped; destroying the master key is the way to
// make such copies unreadable too.

// Keys implements store.Driver.
func (d *Driver) Keys(ctx context.Context, names [][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(names))
	err := d.view(func(txn *badgerdb.Txn) error {
		for _, n := range names {
			v, err := getValue(txn, keyringKey(n))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out[string(n)] = v
		}
		return nil
	})
	return out, err
}

// KeysWithPrefix implements store.Driver.
func (d *Driver) KeysWithPrefix(ctx context.Context, prefix []byte) iter.Seq2[store.KeyRecord, error] {
	return func(yield func(store.KeyRecord, error) bool) {
		iteratePrefix(d, keyringKey(prefix), func(k, v []byte) bool {
			return yield(store.KeyRecord{Name: k[1:], Value: v}, nil)
		}, func(err error) { yield(store.KeyRecord{}, err) })
	}
}

// Lifecycle implements store.Driver.
func (d *Driver) Lifecycle(ctx context.Context, prefix []byte) iter.Seq2[store.LifecycleRecord, error] {
	return func(yield func(store.LifecycleRecord, error) bool) {
		iteratePrefix(d, lifecycleKey(prefix), func(k, v []byte) bool {
			return yield(store.LifecycleRecord{Name: k[1:], Value: v}, nil)
		}, func(err error) { yield(store.LifecycleRecord{}, err) })
	}
}

// iteratePrefix calls fn with copies of every key and value under a prefix,
// in one read transaction, until fn returns false.
func iteratePrefix(d *Driver, prefix []byte, fn func(k, v []byte) bool, fail func(error)) {
	err := d.view(func(txn *badgerdb.Txn) error {
		opts := badgerdb.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if !fn(item.KeyCopy(nil), v) {
				return errStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		fail(err)
	}
}

// PutKeys implements store.Driver.
func (d *Driver) PutKeys(ctx context.Context, recs []store.KeyRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.update(func(txn *badgerdb.Txn) error {
		for _, r := range recs {
			if len(r.Name) == 0 {
				return fmt.Errorf("%w: empty keyring record name", store.ErrInvalidArgument)
			}
			if err := txn.Set(keyringKey(r.Name), r.Value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrInvalidArgument) {
		return fmt.Errorf("%w: writing keyring records: %v", store.ErrFailed, err)
	}
	return err
}

// PutLifecycle implements store.Driver.
func (d *Driver) PutLifecycle(ctx context.Context, rec store.LifecycleRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.update(func(txn *badgerdb.Txn) error {
		old, err := getValue(txn, lifecycleKey(rec.Name))
		switch {
		case err == nil && bytes.Equal(old, rec.Value):
			return nil
		case err == nil:
			return fmt.Errorf("%w: another lifecycle record %x is stored", store.ErrAlreadyExists, rec.Name)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return txn.Set(lifecycleKey(rec.Name), rec.Value)
	})
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("%w: writing a lifecycle record: %v", store.ErrFailed, err)
	}
	return err
}

// dropChunk bounds the prefixes of one DropPrefix call: Badger checks every
// key it compacts against each of them.
const dropChunk = 256

// testHookDropped, when set, runs after each DropPrefix call of
// DestroyKeys: the crash tests kill the process there.
var testHookDropped func()

// DestroyKeys implements store.Driver: see the top of this file.
func (d *Driver) DestroyKeys(ctx context.Context, names [][]byte) error {
	if len(names) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h, err := d.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	if err := d.writableHandle(h); err != nil {
		return err
	}
	prefixes, err := d.dropPrefixes(names)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		for c := range slices.Chunk(prefixes, dropChunk) {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := dropPrefix(d, h, c); err != nil {
				return fmt.Errorf("%w: dropping destroyed keys: %v", store.ErrFailed, err)
			}
			if testHookDropped != nil {
				testHookDropped()
			}
		}
		left, err := d.anyVersionLeft(prefixes)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		if attempt == 2 {
			return fmt.Errorf("%w: %d destroyed keyring records survived compaction", store.ErrFailed, len(left))
		}
		prefixes = left
	}
}

// dropPrefix runs Badger's DropPrefix, with its panics turned into errors.
func dropPrefix(d *Driver, h *handle, prefixes [][]byte) (err error) {
	defer d.recoverBadger(&err)
	return h.db.DropPrefix(prefixes...)
}

// dropPrefixes returns the Badger key prefixes that drop exactly the named
// keyring records: the records' keys, with the content keys of events
// grouped under the shortest prefix of their index that covers no record
// outside names.
func (d *Driver) dropPrefixes(names [][]byte) ([][]byte, error) {
	wanted := map[string]bool{}
	var out [][]byte
	for _, n := range names {
		k := keyringKey(n)
		if len(n) == 9 && n[0] == store.EventKeyName(0)[0] {
			wanted[string(k)] = true
			continue
		}
		out = append(out, k)
	}
	// Group event keys by ever shorter prefixes ('G' 'e' and 7, 6, 5 bytes
	// of the index): a group whose live records are all wanted drops as one
	// prefix.
	groups := map[string]int{} // prefix -> how many wanted records it covers
	for k := range wanted {
		groups[k] = 1
	}
	for trim := 1; trim <= 3; trim++ {
		children := map[string][]string{}
		for g := range groups {
			p := g[:len(g)-1]
			children[p] = append(children[p], g)
		}
		next := make(map[string]int, len(groups))
		for p, cs := range children {
			n := 0
			for _, c := range cs {
				n += groups[c]
			}
			if len(cs) >= 2 {
				// Only when every live record under p is wanted: some
				// wanted ones may be gone already (an erasure finished
				// after a crash), and others under p must stay.
				ok, err := d.onlyWanted([]byte(p), wanted)
				if err != nil {
					return nil, err
				}
				if ok {
					next[p] = n
					continue
				}
			}
			for _, c := range cs {
				next[c] = groups[c]
			}
		}
		groups = next
	}
	for g := range groups {
		out = append(out, []byte(g))
	}
	slices.SortFunc(out, bytes.Compare)
	return out, nil
}

// onlyWanted reports whether every live key under a prefix is wanted.
func (d *Driver) onlyWanted(prefix []byte, wanted map[string]bool) (bool, error) {
	ok := true
	err := d.view(func(txn *badgerdb.Txn) error {
		opts := badgerdb.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if !wanted[string(it.Item().Key())] {
				ok = false
				return nil
			}
		}
		return nil
	})
	return ok, err
}

// anyVersionLeft returns the prefixes under which any version of any key,
// deleted or not, is still stored.
func (d *Driver) anyVersionLeft(prefixes [][]byte) ([][]byte, error) {
	var left [][]byte
	err := d.view(func(txn *badgerdb.Txn) error {
		for _, p := range prefixes {
			opts := badgerdb.DefaultIteratorOptions
			opts.Prefix = p
			opts.PrefetchValues = false
			opts.AllVersions = true
			it := txn.NewIterator(opts)
			it.Rewind()
			if it.Valid() {
				left = append(left, p)
			}
			it.Close()
		}
		return nil
	})
	return left, err
}

// keyMismatch explains why Badger refused the storage key: the database
// was written without encryption (an older build), or under another key.
func keyMismatch(dbDir string, withKey bool) error {
	if withKey {
		if _, err := badgerdb.OpenKeyRegistry(badgerdb.KeyRegistryOptions{Dir: dbDir, ReadOnly: true}); err == nil {
			return fmt.Errorf("%w: the data directory %s was written without encryption at rest", store.ErrPlaintext, filepath.Dir(dbDir))
		}
		return fmt.Errorf("%w: the data directory %s is encrypted under another master key", store.ErrWrongKey, filepath.Dir(dbDir))
	}
	return fmt.Errorf("%w: the data directory %s is encrypted at rest: its master key is needed", store.ErrWrongKey, filepath.Dir(dbDir))
}

// RotateEncryptionKey re-encrypts the data keys of a closed data
// directory's database from one storage key to another: Badger encrypts
// its tables and logs with data keys, which its key registry keeps
// encrypted under the storage key, so nothing else is rewritten. It is
// idempotent: a registry already under newKey is left as it is.
func RotateEncryptionKey(dir string, oldKey, newKey []byte) error {
	dbDir := filepath.Join(dir, "events")
	if _, err := os.Stat(filepath.Join(dbDir, badgerdb.KeyRegistryFileName)); err != nil {
		return fmt.Errorf("%w: %s holds no database: %v", store.ErrNotFound, dir, err)
	}
	opt := badgerdb.KeyRegistryOptions{Dir: dbDir, ReadOnly: true, EncryptionKey: oldKey}
	kr, err := badgerdb.OpenKeyRegistry(opt)
	if errors.Is(err, badgerdb.ErrEncryptionKeyMismatch) {
		opt.EncryptionKey = newKey
		if _, err2 := badgerdb.OpenKeyRegistry(opt); err2 == nil {
			return nil // rotated already
		}
		return fmt.Errorf("%w: the database's key registry opens under neither key", store.ErrWrongKey)
	}
	if err != nil {
		return fmt.Errorf("%w: reading the key registry: %v", store.ErrFailed, err)
	}
	opt.ReadOnly, opt.EncryptionKey = false, newKey
	if err := badgerdb.WriteKeyRegistry(kr, opt); err != nil {
		return fmt.Errorf("%w: writing the key registry: %v", store.ErrFailed, err)
	}
	return nil
}
