package badger

import (
	"context"
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/agenttrail/agenttrail/store"
)

// DefaultMinFreeSpace is the free space a Badger store keeps by default
// (store.WithMinFreeSpace): room for Badger to flush every memtable into a
// level-0 table and compact level 0 once, plus a memtable's write-ahead log.
// Appends stop there, so that the writes Badger still makes on its own
// (flushes, compactions, checkpoints), all through memory-mapped files,
// never meet a full disk, where the process would die of SIGBUS. It is
// never below 256 MiB, what it was with the 32 MiB memtables of earlier
// releases: the driver's 16 MiB memtables need less, the margin stays.
func DefaultMinFreeSpace() int64 {
	return max(memTableSize*(numMemtables+numLevelZeroTables+1), 256<<20)
}

// freeBytes returns the bytes an unprivileged writer may still write on the
// file system holding dir.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("measuring the free space of %s: %v", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Space implements store.SpaceReporter. A store opened read-only because
// the disk was full is reopened for writing here once enough space is
// free; until then it reports no room.
func (d *Driver) Space(ctx context.Context) (store.Space, error) {
	free, err := freeBytes(d.dir)
	if err != nil {
		return store.Space{}, fmt.Errorf("%w: %v", store.ErrFailed, err)
	}
	sp := store.Space{Free: free, Needed: d.minFree}
	if d.degraded.Load() {
		if free < d.minFree || !d.upgradeToWritable() {
			sp.Free = min(free, d.minFree-1)
		}
	}
	return sp, nil
}

// upgradeToWritable replaces the read-only database of a store opened on a
// full disk by a writable one. Reads in progress finish on the read-only
// one, which sees the same records: nothing was written meanwhile.
func (d *Driver) upgradeToWritable() bool {
	d.upgrade.Lock()
	defer d.upgrade.Unlock()
	if !d.degraded.Load() {
		return true
	}
	old := d.cur.Load()
	if old == nil {
		return false // closed
	}
	// The read-only database holds the data directory's lock; Badger
	// takes it for itself when it opens for writing. The inspection made
	// at open still holds: nothing has written since.
	old.unlock()
	old.unlock = func() {}
	db, err := openBadger(d.opts)
	if err != nil {
		d.log.Error("disk space was freed, but the store could not be reopened for writing; appends stay refused", slog.Any("error", err))
		if unlock, lerr := lockDir(d.events); lerr == nil {
			old.unlock = unlock
		}
		return false
	}
	d.cur.Store(newHandle(db, false, "", nil))
	d.degraded.Store(false)
	go func() {
		if err := old.retire(); err != nil {
			d.log.Warn("closing the read-only database after reopening for writing", slog.Any("error", err))
		}
	}()
	d.log.Info("disk space was freed: the store is writable again", slog.String("dir", d.dir))
	return true
}

// lockDir takes a shared lock on Badger's directory, as Badger does for a
// read-only open: it fails while a server has the store open for writing,
// and keeps writers out until released. A directory that does not exist
// needs no lock.
func lockDir(dir string) (func(), error) {
	f, err := openDirForLock(dir)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return func() {}, nil
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s is in use by a running server (stop it first, or use its API): %v", store.ErrFailed, dir, err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
