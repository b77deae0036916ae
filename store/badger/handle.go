package badger

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
)

// handle is one open Badger database. Every operation holds a reference
// to the handle it uses, so that the driver can replace it (a database
// opened read-only because the disk was full, by a writable one once space
// is freed) and close the old one once the last operation on it ends.
type handle struct {
	db       *badgerdb.DB
	readOnly bool
	// shadow is the private directory a read-only database was opened
	// through, removed once it closes; unlock releases the data
	// directory's lock held while it is open.
	shadow string
	unlock func()

	// ids is the read transaction id lookups run in (see idSnapshot).
	ids idSnapshot

	mu      sync.Mutex
	refs    int
	retired bool
	idle    chan struct{}
}

func newHandle(db *badgerdb.DB, readOnly bool, shadow string, unlock func()) *handle {
	if unlock == nil {
		unlock = func() {}
	}
	return &handle{db: db, readOnly: readOnly, shadow: shadow, unlock: unlock, idle: make(chan struct{})}
}

// acquire returns the current handle with a reference taken, or
// ErrClosed.
func (d *Driver) acquire() (*handle, error) {
	for {
		h := d.cur.Load()
		if h == nil {
			return nil, fmt.Errorf("%w: the database is closed", store.ErrClosed)
		}
		h.mu.Lock()
		if !h.retired {
			h.refs++
			h.mu.Unlock()
			return h, nil
		}
		h.mu.Unlock()
		runtime.Gosched() // its replacement is being stored
	}
}

func (h *handle) release() {
	h.mu.Lock()
	h.refs--
	if h.refs == 0 && h.retired {
		close(h.idle)
	}
	h.mu.Unlock()
}

// retire waits for the operations on the handle to end, then closes its
// database.
func (h *handle) retire() error {
	h.mu.Lock()
	h.retired = true
	if h.refs == 0 {
		close(h.idle)
	}
	h.mu.Unlock()
	<-h.idle
	h.ids.discard()
	err := closeBadger(h.db)
	if h.shadow != "" {
		os.Remove(h.shadow)
	}
	h.unlock()
	return err
}

// view runs fn in a read transaction.
func (d *Driver) view(fn func(*badgerdb.Txn) error) (err error) {
	h, err := d.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	defer d.recoverBadger(&err)
	return h.db.View(fn)
}

// update runs fn in a read-write transaction, committed with SyncWrites,
// when the database is writable and the disk has room.
func (d *Driver) update(fn func(*badgerdb.Txn) error) (err error) {
	h, err := d.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	if err := d.writableHandle(h); err != nil {
		return err
	}
	defer d.recoverBadger(&err)
	return h.db.Update(fn)
}

// consumerPanic carries a panic raised by the consumer of an iterator
// through recoverBadger untouched.
type consumerPanic struct{ v any }

// guard wraps the yield of an iterator so that recoverBadger tells the
// consumer's panics from Badger's.
func guard[T any](yield func(T, error) bool) func(T, error) bool {
	return func(v T, err error) bool {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(consumerPanic); ok {
					panic(p)
				}
				panic(consumerPanic{p})
			}
		}()
		return yield(v, err)
	}
}

// recoverBadger turns a panic inside Badger into an error: Badger panics
// on some damaged files (a short table, an unreadable index) rather than
// returning one. A consumer's panic is raised again.
func (d *Driver) recoverBadger(err *error) {
	p := recover()
	if p == nil {
		return
	}
	if cp, ok := p.(consumerPanic); ok {
		panic(cp.v)
	}
	d.log.Error("badger panicked; the operation failed", slog.String("panic", firstLine(p)), slog.String("stack", string(debug.Stack())))
	*err = fmt.Errorf("%w: Badger failed reading the database in %s (%s): run `agenttrail verify --data` on the stopped server to find the damage", store.ErrCorrupt, d.dir, firstLine(p))
}

// openBadger is badgerdb.Open with its panics turned into errors. (Panics
// in the goroutines Badger starts cannot be caught; inspect finds what
// would cause them first.)
func openBadger(opts badgerdb.Options) (db *badgerdb.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("%w: Badger failed opening %s (%s)", store.ErrCorrupt, opts.Dir, firstLine(p))
		}
	}()
	return badgerdb.Open(opts)
}

func closeBadger(db *badgerdb.DB) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: Badger failed closing the database (%s)", store.ErrFailed, firstLine(p))
		}
	}()
	return db.Close()
}

// idSnapshot is the read transaction the event id lookups run in, taken
// anew as each batch commits. A new read transaction of Badger waits for
// every write transaction already given its commit timestamp to finish,
// its fsyncs included, so that a lookup for the batch being prepared would
// wait for the commit of the one before it, and the engine could never
// prepare a batch while another commits. Ids are only ever added by batch
// commits (Driver.Commit), which take the next snapshot before they return:
// a lookup sees every batch committed before it began, and the batch
// committing meanwhile, if any, is the engine's to check (its in-flight
// events, and Batch.IDsLookedUpAt, which is at most the size the
// snapshot holds).
type idSnapshot struct {
	mu  sync.RWMutex
	txn *badgerdb.Txn // nil before the first lookup or commit, and once discarded
	// last is the greatest id key in txn (nil when it holds none), once
	// lastKnown: an id whose key sorts after it is not in the snapshot,
	// and needs no read. Event ids are mostly UUIDv7, which sort by the
	// time they were made, so that most new ids sort after every stored
	// one. It is found at the first lookup in a snapshot, by the
	// sequencer's preflight rather than the committer.
	last      []byte
	lastKnown bool
}

// view runs fn in the snapshot, taking it first when there is none, with
// the greatest id key the snapshot holds (nil: none).
func (s *idSnapshot) view(db *badgerdb.DB, fn func(txn *badgerdb.Txn, last []byte) error) error {
	s.mu.RLock()
	// Checked again after each upgrade: a refresh can come between the
	// write lock's release and the read lock, and would leave no
	// transaction, or no bound (read as "no id stored").
	for s.txn == nil || !s.lastKnown {
		s.mu.RUnlock()
		s.mu.Lock()
		if s.txn == nil {
			s.txn = db.NewTransaction(false)
		}
		if !s.lastKnown {
			s.last = lastIDKey(s.txn)
			s.lastKnown = true
		}
		s.mu.Unlock()
		s.mu.RLock()
	}
	defer s.mu.RUnlock()
	return fn(s.txn, s.last)
}

// lastIDKey returns the greatest id key that txn holds, or nil.
func lastIDKey(txn *badgerdb.Txn) []byte {
	it := txn.NewIterator(badgerdb.IteratorOptions{Reverse: true, Prefix: []byte{prefixID}})
	defer it.Close()
	// The greatest key under the prefix sorts before prefix+1.
	it.Seek([]byte{prefixID + 1})
	if !it.Valid() {
		return nil
	}
	return it.Item().KeyCopy(nil)
}

// refresh replaces the snapshot with one of the database as it is now.
func (s *idSnapshot) refresh(db *badgerdb.DB) {
	txn := db.NewTransaction(false)
	s.mu.Lock()
	old := s.txn
	s.txn, s.last, s.lastKnown = txn, nil, false
	s.mu.Unlock()
	if old != nil {
		old.Discard()
	}
}

// discard ends the snapshot, once nothing uses its handle.
func (s *idSnapshot) discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.txn != nil {
		s.txn.Discard()
		s.txn, s.last, s.lastKnown = nil, nil, false
	}
}
