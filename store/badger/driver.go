package badger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store"
)

// Scheme is the URL scheme of this driver: badger:///abs/path or
// badger:rel/path names a data directory.
const Scheme = "badger"

func init() {
	store.RegisterDriver(Scheme, func(ctx context.Context, u *url.URL, cfg store.DriverConfig) (store.Driver, error) {
		dir, opts, err := parseURL(u)
		if err != nil {
			return nil, err
		}
		d, err := Open(dir, append(opts, WithConfig(cfg))...)
		if err != nil {
			return nil, err
		}
		return d, nil
	})
	store.RegisterKeyRotator(Scheme, func(ctx context.Context, u *url.URL, oldKey, newKey []byte) error {
		dir, _, err := parseURL(u)
		if err != nil {
			return err
		}
		return RotateEncryptionKey(dir, oldKey, newKey)
	})
}

// URL returns the store URL of a data directory.
func URL(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return (&url.URL{Scheme: Scheme, Path: filepath.ToSlash(dir)}).String()
}

// DirOf returns the data directory a badger URL names.
func DirOf(storeURL string) (string, error) {
	u, err := url.Parse(storeURL)
	if err != nil || u.Scheme != Scheme {
		return "", fmt.Errorf("%w: %q is not a badger URL", store.ErrInvalidArgument, storeURL)
	}
	dir, _, err := parseURL(u)
	return dir, err
}

// parseURL reads a data directory and options from a badger URL. Its query
// may set gc_interval (a Go duration; 0 turns value-log garbage collection
// off).
func parseURL(u *url.URL) (string, []Option, error) {
	dir := u.Path
	if u.Opaque != "" {
		dir = u.Opaque // badger:relative/path
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", nil, fmt.Errorf("%w: badger URL names host %q: the data directory must be local (badger:///abs/path)", store.ErrInvalidArgument, u.Host)
	}
	if dir == "" {
		return "", nil, fmt.Errorf("%w: badger URL has no data directory (badger:///abs/path)", store.ErrInvalidArgument)
	}
	var opts []Option
	for k, vs := range u.Query() {
		switch k {
		case "gc_interval":
			d, err := time.ParseDuration(vs[0])
			if err != nil {
				return "", nil, fmt.Errorf("%w: badger URL: gc_interval %q is not a duration", store.ErrInvalidArgument, vs[0])
			}
			opts = append(opts, WithGCInterval(d))
		default:
			return "", nil, fmt.Errorf("%w: badger URL: unknown parameter %q (known: gc_interval)", store.ErrInvalidArgument, k)
		}
	}
	return filepath.FromSlash(dir), opts, nil
}

// An Option configures Open.
type Option func(*config) error

type config struct {
	store.DriverConfig
	gcInterval time.Duration
	// plainBadger keeps Badger's own files unencrypted even when the engine
	// gives a key, for tests that must see whether deleted bytes are really
	// gone from the files (they would be unreadable either way otherwise).
	plainBadger bool
}

// WithConfig applies what the engine asks of every driver: read-only mode,
// the cache budget and the logger.
func WithConfig(c store.DriverConfig) Option {
	return func(cfg *config) error {
		if c.CacheBytes < 0 {
			return fmt.Errorf("%w: negative cache size", store.ErrInvalidArgument)
		}
		if c.CacheBytes == 0 {
			c.CacheBytes = cfg.CacheBytes
		}
		if c.Logger == nil {
			c.Logger = cfg.Logger
		}
		cfg.DriverConfig = c
		return nil
	}
}

// WithGCInterval sets how often the value log is garbage collected. Zero
// turns collection off. The default is ten minutes.
func WithGCInterval(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return fmt.Errorf("%w: negative GC interval", store.ErrInvalidArgument)
		}
		cfg.gcInterval = d
		return nil
	}
}

// Driver keeps a log in one Badger database, in the events/ directory of a
// data directory. It implements store.Driver, store.SpaceReporter and
// store.BatchBudget.
type Driver struct {
	dir      string
	events   string
	opts     badgerdb.Options
	log      *slog.Logger
	readOnly bool // opened read-only on request
	minFree  int64

	// cur is the open database. On a full disk a writable store is opened
	// read-only (degraded) and upgraded once space is freed.
	cur      atomic.Pointer[handle]
	upgrade  sync.Mutex // held while upgrading
	degraded atomic.Bool

	// mu serializes every write (commits, checkpoints, credentials, the
	// keyring, lifecycle records, value-log garbage collection) and guards
	// size, the stored tree size, against which every batch is fenced.
	// DestroyKeys holds it while Badger refuses writes (DropPrefix).
	mu   sync.Mutex
	size uint64
	// committed, under mu, holds the ids of the events this driver
	// committed lately, against which Commit checks a batch whose ids the
	// engine looked up (store.Batch.IDsLookedUpAt).
	committed committedIDs

	gcStop    chan struct{}
	gcDone    chan struct{}
	resStop   chan struct{} // limitResidency's
	resDone   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.Driver        = (*Driver)(nil)
	_ store.SpaceReporter = (*Driver)(nil)
	_ store.BatchBudget   = (*Driver)(nil)
)

// Open opens the Badger database of a data directory, creating both if they
// do not exist (unless read-only). Close it to release the directory.
//
// Before Badger touches the directory, Open reads Badger's files itself
// (inspect): a missing or damaged file is refused with a *Damage error
// naming it, the first log index affected and the remedy, and nothing is
// changed; Badger then runs only the crash recovery that drops bytes never
// acknowledged. Read-only, nothing is written at all: a directory left by
// a crash is opened through a private copy of its write-ahead logs, cut
// where Badger's recovery would cut them. When the disk has less free space
// than the store needs to write safely (WithMinFreeSpace), a writable store
// opens read-only, refuses writes with store.ErrNoSpace, and becomes
// writable by itself once space is freed.
//
// The resident pages of Badger's memory-mapped files are kept under the
// cache budget (see limitResidency).
//
// Shutdown: Close stops value-log garbage collection and the limit on
// resident pages, then closes the database.
func Open(dir string, opts ...Option) (*Driver, error) {
	cfg := config{DriverConfig: store.DriverConfig{CacheBytes: 64 << 20, Logger: slog.New(slog.DiscardHandler)}, gcInterval: 10 * time.Minute}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: empty data directory", store.ErrInvalidArgument)
	}
	events := filepath.Join(dir, "events")
	d := &Driver{
		dir: dir, events: events, log: cfg.Logger, readOnly: cfg.ReadOnly,
		opts:   badgerOptions(events, cfg),
		gcStop: make(chan struct{}), gcDone: make(chan struct{}),
		resStop: make(chan struct{}), resDone: make(chan struct{}),
	}
	base, _ := fileResident() // before Badger maps a file
	d.minFree = cfg.MinFreeBytes
	if d.minFree == 0 {
		d.minFree = DefaultMinFreeSpace()
	}
	var h *handle
	var err error
	if cfg.ReadOnly {
		h, err = d.openReadOnly()
	} else {
		h, err = d.openWritable()
	}
	if err != nil {
		return nil, err
	}
	d.cur.Store(h)
	err = d.view(func(txn *badgerdb.Txn) error {
		var err error
		d.size, _, err = latestSize(txn)
		return err
	})
	if err != nil {
		return nil, errors.Join(err, h.retire())
	}
	d.committed = committedIDs{from: d.size, ids: map[string]struct{}{}, max: maxCommittedIDs}
	if cfg.ReadOnly {
		cfg.gcInterval = 0
	}
	go d.collectGarbage(cfg.gcInterval)
	go d.limitResidency(cfg.CacheBytes, base, d.resStop, d.resDone)
	return d, nil
}

// openWritable inspects the directory, then opens it for writing, or
// read-only when the disk is too full to write safely.
func (d *Driver) openWritable() (*handle, error) {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: creating %s: %v", store.ErrFailed, d.dir, err)
	}
	unlock, err := lockDir(d.events)
	if err != nil {
		return nil, err
	}
	in, err := inspect(d.events, d.opts.EncryptionKey)
	if err != nil {
		unlock()
		return nil, err
	}
	if in.emptyWAL != "" {
		// Badger takes an empty write-ahead log for one it is to create,
		// and fails to open: the file goes, which removes no byte.
		if err := os.Remove(in.emptyWAL); err != nil {
			unlock()
			return nil, fmt.Errorf("%w: removing the empty write-ahead log %s: %v", store.ErrFailed, in.emptyWAL, err)
		}
	}
	free, err := freeBytes(d.dir)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("%w: %v", store.ErrFailed, err)
	}
	full := free < d.minFree
	if in.fresh {
		unlock()
		if full {
			return nil, fmt.Errorf("creating a store in %s: %w", d.dir, &store.SpaceError{Free: free, Needed: d.minFree})
		}
		return d.openBadgerWritable()
	}
	for _, r := range in.recovery {
		d.log.Warn("recovering after a crash: Badger drops bytes that were never acknowledged", slog.String("what", r))
	}
	if !full && len(in.orphans) == 0 {
		unlock()
		return d.openBadgerWritable()
	}
	// Look before Badger deletes anything, or serve reads while the disk
	// is full: open read-only first.
	ro, err := d.openShadow(unlock, in)
	if err != nil {
		unlock()
		return nil, err
	}
	if err := d.checkOrphans(in, ro); err != nil {
		return nil, errors.Join(err, ro.retire())
	}
	if full {
		d.log.Warn("disk almost full: the store opens read-only; appends are refused until space is freed, then it becomes writable by itself",
			slog.String("dir", d.dir), slog.Int64("free_mib", free>>20), slog.Int64("needed_mib", d.minFree>>20))
		d.degraded.Store(true)
		return ro, nil
	}
	if err := ro.retire(); err != nil {
		return nil, err
	}
	return d.openBadgerWritable()
}

func (d *Driver) openBadgerWritable() (*handle, error) {
	db, err := openBadger(d.opts)
	if errors.Is(err, badgerdb.ErrEncryptionKeyMismatch) {
		return nil, keyMismatch(d.events, len(d.opts.EncryptionKey) > 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: opening the database in %s: %v", store.ErrFailed, d.dir, err)
	}
	return newHandle(db, false, "", nil), nil
}

// openReadOnly opens the database without writing a byte to the data
// directory: Badger runs on a private directory of links to the tables and
// value logs and of copies of the write-ahead logs cut where its recovery
// would cut them, and the data directory stays locked against writers
// until the handle closes.
func (d *Driver) openReadOnly() (*handle, error) {
	if _, err := os.Stat(d.events); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no store in %s", store.ErrNotFound, d.dir)
	}
	unlock, err := lockDir(d.events)
	if err != nil {
		return nil, err
	}
	h, err := d.openShadow(unlock, nil)
	if err != nil {
		unlock()
		return nil, err
	}
	return h, nil
}

// openShadow inspects the locked directory and opens it read-only through a
// private directory. When in is given, it is the inspection to use.
func (d *Driver) openShadow(unlock func(), in *inspection) (*handle, error) {
	if in == nil {
		var err error
		if in, err = inspect(d.events, d.opts.EncryptionKey); err != nil {
			return nil, err
		}
	}
	if in.fresh {
		return nil, fmt.Errorf("%w: no store in %s", store.ErrNotFound, d.dir)
	}
	shadow, err := makeShadow(in)
	if err != nil {
		return nil, err
	}
	db, err := openBadger(d.opts.WithDir(shadow).WithValueDir(shadow).WithReadOnly(true))
	if errors.Is(err, badgerdb.ErrEncryptionKeyMismatch) {
		os.RemoveAll(shadow)
		return nil, keyMismatch(d.events, len(d.opts.EncryptionKey) > 0)
	}
	if err != nil {
		os.RemoveAll(shadow)
		return nil, fmt.Errorf("%w: opening the database in %s read-only: %v", store.ErrFailed, d.dir, err)
	}
	// Badger keeps every file it needs open, so the private directory is
	// emptied at once (its copies would otherwise outlive a crash); the
	// directory itself goes when the database closes, which syncs it.
	if entries, err := os.ReadDir(shadow); err == nil {
		for _, e := range entries {
			os.Remove(filepath.Join(shadow, e.Name()))
		}
	}
	return newHandle(db, true, shadow, unlock), nil
}

func badgerOptions(dir string, cfg config) badgerdb.Options {
	key := cfg.EncryptionKey
	if cfg.plainBadger {
		key = nil
	}
	return badgerdb.DefaultOptions(dir).
		WithEncryptionKey(key).
		WithEncryptionKeyRotationDuration(10 * 24 * time.Hour).
		WithSyncWrites(true).
		WithDetectConflicts(false). // one committer is the only writer
		WithLogger(badgerLogger{cfg.Logger}).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithNumLevelZeroTables(numLevelZeroTables).
		WithNumLevelZeroTablesStall(12).
		WithNumCompactors(2).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(256 << 20).
		WithBlockCacheSize(cfg.CacheBytes * 3 / 4).
		WithIndexCacheSize(cfg.CacheBytes / 4).
		WithCompression(options.None).
		// Check every block of a table and every value read from a value
		// log against its checksum, so that damage is an error, never
		// wrong bytes, and compaction never copies it into a new file
		// with a fresh checksum.
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true)
}

// The sizes of Badger's memtables, on which the free space the store keeps
// depends (DefaultMinFreeSpace), and its memory. Each memtable is an arena
// of about memTableSize on the Go heap, and each table Badger builds, at a
// flush or in a compaction, is built in a buffer of twice memTableSize,
// which Badger pools for reuse (up to 8 buffers). With 32 MiB memtables
// these held 270 MB of live heap in a sustained append run, so that the
// collector's goal sat at the 512 MiB memory limit; 16 MiB memtables halve
// that.
//
// Values of valueThreshold bytes and more go to the value log, as 12-byte
// pointers in the tree; smaller ones stay in the tree. A commit of 1 KiB
// events thus writes and syncs the value log, then the write-ahead log.
// Keeping such contents in the tree (a 4 KiB threshold was measured) saves
// that write, but compaction then copies every content again at each
// level: serve's peak resident memory rose from 330-365 MB to 505-510 MB
// at 100k events, CPU per event by 13% in process, and the default bench
// load lost throughput (issue 13), so the threshold stays at 512 bytes.
//
// A transaction may hold 15% of a memtable (2.4 MiB): the driver declares
// that budget to the sequencer (EventCost, MaxBatchCost), which cuts
// batches to fit it whatever the events' sizes.
const (
	memTableSize       = 16 << 20
	numMemtables       = 3
	numLevelZeroTables = 4
	valueThreshold     = 512
)

// maxTxnBytes is Badger's limit on a transaction, as Badger counts it
// (options.maxBatchSize): each entry costs its key, its value when
// inline (a 12-byte pointer otherwise), and 12 bytes.
const maxTxnBytes = 15 * memTableSize / 100

// entryCost is what Badger counts for an entry beyond its key and value
// (meta bytes, version), rounded up.
const entryCost = 16

// EventCost implements store.BatchBudget: an upper bound on what an
// event's records add to a transaction. Its leaf record and its content
// record (slots of its run's bundles) hold its encoding (size, which
// counts the principal's name) with at most 256 bytes more, each inline
// only when its bundle is under valueThreshold. Its
// id record, its postings, its statistics cells and its subject key copy
// its identifiers (indexed bytes), each at most three times (the agent id:
// a posting and a cell of each cube). Every other record it adds (bundle
// keys and slot lengths, keyring record, postings lists, time index, the
// counters of its cells) fits in 1 KiB, entry costs included.
func (d *Driver) EventCost(size, indexed int) int {
	return min(size+256, 2*valueThreshold) + 3*indexed + 1<<10
}

// MaxBatchCost implements store.BatchBudget: Badger's limit on a
// transaction, less what a batch adds besides its events: its tree hashes,
// size record and checkpoint (each inline only under valueThreshold) and
// the statistics rollups the engine writes with it (store.MaxBatchRollups,
// each inline only under valueThreshold), with room to spare.
func (d *Driver) MaxBatchCost() int {
	perRecord := valueThreshold + 64 + entryCost
	return maxTxnBytes - (3+store.MaxBatchRollups)*perRecord - 16<<10
}

// Dir returns the data directory.
func (d *Driver) Dir() string { return d.dir }

// Load implements store.Driver.
func (d *Driver) Load(ctx context.Context) (store.LogState, error) {
	var st store.LogState
	err := d.view(func(txn *badgerdb.Txn) error {
		format, err := getValue(txn, metaFormat)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		origin, err := getValue(txn, metaOrigin)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		st.Format, st.Origin = string(format), string(origin)
		st.Size, st.Root, err = latestSize(txn)
		return err
	})
	return st, err
}

// Init implements store.Driver.
func (d *Driver) Init(ctx context.Context, m store.LogMeta) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.update(func(txn *badgerdb.Txn) error {
		for _, k := range [][]byte{metaFormat, metaOrigin} {
			if _, err := txn.Get(k); err == nil {
				return fmt.Errorf("%w: the log's metadata is stored already", store.ErrAlreadyExists)
			} else if !errors.Is(err, badgerdb.ErrKeyNotFound) {
				return err
			}
		}
		if err := txn.Set(metaFormat, []byte(m.Format)); err != nil {
			return err
		}
		return txn.Set(metaOrigin, []byte(m.Origin))
	})
}

// writableHandle fails unless writes may go to the handle's database: it
// must be writable, and the disk must keep a quarter of the free space the
// store needs (appends stop at all of it, before the engine prepares
// them), so that no write of Badger's, which go through memory-mapped
// files, ever meets a full disk: there it would be killed by SIGBUS.
func (d *Driver) writableHandle(h *handle) error {
	switch {
	case d.readOnly:
		return fmt.Errorf("%w: the database was opened read-only", store.ErrFailed)
	case h.readOnly:
		free, _ := freeBytes(d.dir)
		return &store.SpaceError{Free: free, Needed: d.minFree}
	}
	free, err := freeBytes(d.dir)
	if err != nil {
		return fmt.Errorf("%w: %v", store.ErrFailed, err)
	}
	if floor := d.minFree / 4; free < floor {
		return &store.SpaceError{Free: free, Needed: d.minFree}
	}
	return nil
}

// failed wraps an error of Badger's in ErrFailed, and passes the store's
// own errors as they are.
func failed(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{store.ErrFailed, store.ErrCorrupt, store.ErrAlreadyExists, store.ErrNoSpace, store.ErrClosed, store.ErrInvalidArgument, store.ErrNotFound, store.ErrStale} {
		if errors.Is(err, s) {
			return err
		}
	}
	return fmt.Errorf("%w: %v", store.ErrFailed, err)
}

// Commit implements store.Driver: one Badger transaction with SyncWrites.
func (d *Driver) Commit(ctx context.Context, b *store.Batch) error {
	if len(b.Events) == 0 || b.Size != b.First+uint64(len(b.Events)) {
		return fmt.Errorf("%w: a batch of %d events from %d cannot end at size %d", store.ErrInvalidArgument, len(b.Events), b.First, b.Size)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if b.First != d.size {
		return fmt.Errorf("%w: the batch starts at %d, the stored size is %d", store.ErrStale, b.First, d.size)
	}
	err := d.update(func(txn *badgerdb.Txn) error { return stageBatch(txn, b, &d.committed) })
	if err != nil {
		return failed(err)
	}
	d.size = b.Size
	d.committed.add(b)
	// The id lookups see this batch once it returns (idSnapshot).
	if h, err := d.acquire(); err == nil {
		h.ids.refresh(h.db)
		h.release()
	}
	return nil
}

// committedIDs are the ids of the events a driver committed at indexes
// from from on: all of them, since Badger has no other writer while the
// driver holds the directory. They spare a batch whose ids the engine
// looked up a read of each id from the database, which its transaction
// would otherwise make (a tenth of the committer's work): only the ids of
// events stored since the lookup can be there, and those are in memory.
// At most max are kept; past that, from moves to the next batch.
type committedIDs struct {
	from uint64
	ids  map[string]struct{}
	max  int
}

// maxCommittedIDs is how many ids committedIDs keeps: several batches'
// worth, more than the engine ever has in flight.
const maxCommittedIDs = 1 << 14

// covers reports whether every event stored from index at on is in c.
func (c *committedIDs) covers(at uint64) bool { return c.ids != nil && at >= c.from }

func (c *committedIDs) has(id string) bool {
	_, ok := c.ids[id]
	return ok
}

// add notes a committed batch's ids.
func (c *committedIDs) add(b *store.Batch) {
	if c.ids == nil {
		return
	}
	if len(c.ids)+len(b.Events) > c.max {
		clear(c.ids)
		c.from = b.First
	}
	for _, ev := range b.Events {
		c.ids[ev.EventID] = struct{}{}
	}
}

// stageBatch writes a batch's records in a transaction. The ids of its
// events are checked against those committed, in the database or, when
// the engine looked them up at a tree size recent enough, in committed.
func stageBatch(txn *badgerdb.Txn, b *store.Batch, committed *committedIDs) error {
	// Write-once guard: nothing may be stored at the batch's first index,
	// in a bundle or, in a store written before bundles, on its own.
	if _, err := txn.Get(recordKey(b.First)); !errors.Is(err, badgerdb.ErrKeyNotFound) {
		return fmt.Errorf("%w: index %d is already written on disk (%v)", store.ErrCorrupt, b.First, err)
	}
	if key, err := floorBundleKey(txn, prefixLeaves, b.First); err != nil {
		return err
	} else if _, last, _ := bundleRange(key); key != nil && last >= b.First {
		return fmt.Errorf("%w: index %d is already written on disk, in a record bundle", store.ErrCorrupt, b.First)
	}
	set := func(k, v []byte) error {
		if err := txn.Set(k, v); err != nil {
			return fmt.Errorf("staging batch: %w", err)
		}
		return nil
	}
	postings := map[postingKey][]uint64{}
	times := map[uint64][]uint64{}
	seen := make(map[string]bool, len(b.Events))
	inMemory := committed.covers(b.IDsLookedUpAt)
	for i, ev := range b.Events {
		idx := b.First + uint64(i)
		if seen[ev.EventID] {
			return fmt.Errorf("%w: event id appears twice in one batch", store.ErrAlreadyExists)
		}
		seen[ev.EventID] = true
		if inMemory {
			if committed.has(ev.EventID) {
				return fmt.Errorf("%w: an event id of the batch is stored", store.ErrAlreadyExists)
			}
		} else if _, err := txn.Get(idKey(ev.EventID)); !errors.Is(err, badgerdb.ErrKeyNotFound) {
			if err == nil {
				return fmt.Errorf("%w: an event id of the batch is stored", store.ErrAlreadyExists)
			}
			return err
		}
		if ev.ContentKey != nil {
			if err := set(keyringKey(store.EventKeyName(idx)), ev.ContentKey); err != nil {
				return err
			}
		}
		if err := set(idKey(ev.EventID), encodeU64(idx)); err != nil {
			return err
		}
		addPostings(postings, times, idx, ev.Index)
	}
	for start, end := range bundleRuns(b.Events) {
		run := b.Events[start:end]
		leafBytes, contentBytes := 0, 0
		for _, ev := range run {
			leafBytes, contentBytes = leafBytes+len(ev.LeafData), contentBytes+len(ev.Content)
		}
		leaves, contents := newBundleWriter(len(run), leafBytes), newBundleWriter(len(run), contentBytes)
		for _, ev := range run {
			leaves.add(slotStored, ev.LeafData)
			if ev.ContentErased {
				contents.add(slotErased, nil)
			} else {
				contents.add(slotStored, ev.Content)
			}
		}
		first, last := b.First+uint64(start), b.First+uint64(end-1)
		if err := set(bundleKey(prefixLeaves, first, last), leaves.buf); err != nil {
			return err
		}
		if err := set(bundleKey(prefixContents, first, last), contents.buf); err != nil {
			return err
		}
	}
	if err := set(hashesKey(uint64(tlog.StoredHashIndex(0, int64(b.First)))), encodeHashes(b.Hashes)); err != nil {
		return err
	}
	for k, list := range postings {
		if err := set(postingsKey(k.field, k.value, list[0]), encodePostings(list)); err != nil {
			return err
		}
	}
	for hour, list := range times {
		if err := set(timeKey(hour, list[0]), encodePostings(list)); err != nil {
			return err
		}
	}
	if err := set(sizeKey(b.Size), b.Root[:]); err != nil {
		return err
	}
	if b.Checkpoint != nil {
		if err := set(checkpointKey(b.Size), b.Checkpoint); err != nil {
			return err
		}
	}
	for _, k := range b.RequireKeys {
		v, err := getValue(txn, keyringKey(k.Name))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err != nil || !bytes.Equal(v, k.Value) {
			return fmt.Errorf("%w: keyring record %x", store.ErrKeyChanged, k.Name)
		}
	}
	for _, k := range b.Keys {
		if err := set(keyringKey(k.Name), k.Value); err != nil {
			return err
		}
	}
	for _, l := range b.Lifecycle {
		if _, err := txn.Get(lifecycleKey(l.Name)); !errors.Is(err, badgerdb.ErrKeyNotFound) {
			return fmt.Errorf("%w: lifecycle record %x is stored (%v)", store.ErrCorrupt, l.Name, err)
		}
		if err := set(lifecycleKey(l.Name), l.Value); err != nil {
			return err
		}
	}
	for _, r := range b.Aggregates {
		n := b.First
		if r.Rollup() {
			if r.Upto != b.Size {
				return fmt.Errorf("%w: a rollup of the batch must end at its size %d, not %d", store.ErrInvalidArgument, b.Size, r.Upto)
			}
			n = r.Upto
		}
		if err := set(aggregateKey(byte(r.Cube), r.Hour, r.Rollup(), n), r.Cells); err != nil {
			return err
		}
	}
	return nil
}

// PutAggregates implements store.Driver.
func (d *Driver) PutAggregates(ctx context.Context, size uint64, rollups []store.AggregateRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if size != d.size {
		return fmt.Errorf("%w: rollups up to %d, the stored size is %d", store.ErrStale, size, d.size)
	}
	err := d.update(func(txn *badgerdb.Txn) error {
		for _, r := range rollups {
			if r.Upto != size {
				return fmt.Errorf("%w: a rollup up to %d among rollups up to %d", store.ErrInvalidArgument, r.Upto, size)
			}
			k := aggregateKey(byte(r.Cube), r.Hour, true, size)
			if _, err := txn.Get(k); !errors.Is(err, badgerdb.ErrKeyNotFound) {
				if err == nil {
					return fmt.Errorf("%w: a rollup of hour %d is stored", store.ErrAlreadyExists, r.Hour)
				}
				return err
			}
			if err := txn.Set(k, r.Cells); err != nil {
				return fmt.Errorf("staging rollups: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return failed(err)
	}
	return nil
}

type postingKey struct {
	field byte
	value string
}

// addPostings notes an event in the postings of its index values.
func addPostings(postings map[postingKey][]uint64, times map[uint64][]uint64, index uint64, v store.IndexValues) {
	post := func(field byte, value string) {
		if value != "" {
			k := postingKey{field, value}
			postings[k] = append(postings[k], index)
		}
	}
	post(fieldSession, v.SessionID)
	post(fieldAgent, v.AgentID)
	post(fieldUser, v.UserID)
	post(fieldKind, kindValue(v.Kind))
	post(fieldTool, v.ToolName)
	if v.Failure {
		postings[postingKey{fieldFailure, ""}] = append(postings[postingKey{fieldFailure, ""}], index)
	}
	hour := hourOf(v.OccurredAt)
	times[hour] = append(times[hour], index)
}

// PutCheckpoint implements store.Driver.
func (d *Driver) PutCheckpoint(ctx context.Context, size uint64, note []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	stored := d.size
	if size > stored {
		return fmt.Errorf("%w: a checkpoint of size %d is beyond the stored size %d", store.ErrInvalidArgument, size, stored)
	}
	err := d.update(func(txn *badgerdb.Txn) error {
		old, err := getValue(txn, checkpointKey(size))
		switch {
		case err == nil && string(old) == string(note):
			return nil
		case err == nil:
			return fmt.Errorf("%w: another checkpoint of size %d is stored", store.ErrAlreadyExists, size)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return txn.Set(checkpointKey(size), note)
	})
	return failed(err)
}

// Close implements store.Driver. Calling it again returns the first
// result.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		close(d.gcStop)
		<-d.gcDone
		close(d.resStop)
		<-d.resDone
		d.upgrade.Lock()
		defer d.upgrade.Unlock()
		if h := d.cur.Swap(nil); h != nil {
			d.closeErr = h.retire()
		}
	})
	return d.closeErr
}

// collectGarbage runs value-log garbage collection on a timer until Close,
// unless the disk is short of space: collection writes before it frees.
func (d *Driver) collectGarbage(interval time.Duration) {
	defer close(d.gcDone)
	if interval == 0 {
		<-d.gcStop
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.gcStop:
			return
		case <-t.C:
			if free, err := freeBytes(d.dir); err != nil || free < 2*d.minFree {
				continue
			}
			h, err := d.acquire()
			if err != nil {
				return
			}
			if h.readOnly {
				h.release()
				continue
			}
			rewrites := 0
			for rewrites < 16 {
				err := func() (err error) {
					d.mu.Lock()
					defer d.mu.Unlock()
					defer d.recoverBadger(&err)
					return h.db.RunValueLogGC(0.5)
				}()
				if err != nil {
					if !errors.Is(err, badgerdb.ErrNoRewrite) && !errors.Is(err, badgerdb.ErrRejected) {
						d.log.Warn("value log garbage collection failed", slog.Any("error", err))
					}
					break
				}
				rewrites++
			}
			h.release()
			if rewrites > 0 {
				d.log.Info("value log garbage collected", slog.Int("files_rewritten", rewrites))
			}
		}
	}
}

// latestSize returns the size and root recorded by the last committed batch.
func latestSize(txn *badgerdb.Txn) (uint64, [hashSize]byte, error) {
	var root [hashSize]byte
	key, val, err := seekFloor(txn, prefixSize, ^uint64(0))
	if errors.Is(err, store.ErrNotFound) {
		return 0, root, nil
	}
	if err != nil {
		return 0, root, err
	}
	if len(val) != hashSize {
		return 0, root, fmt.Errorf("%w: size record of %d bytes", store.ErrCorrupt, len(val))
	}
	copy(root[:], val)
	return keyIndex(key), root, nil
}

func getValue(txn *badgerdb.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badgerdb.ErrKeyNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// seekFloor returns the key and value of the greatest key with the given
// one-byte prefix whose 8-byte index is at most n, or ErrNotFound.
func seekFloor(txn *badgerdb.Txn, prefix byte, n uint64) ([]byte, []byte, error) {
	opts := badgerdb.DefaultIteratorOptions
	opts.Reverse = true
	opts.PrefetchValues = false
	opts.Prefix = []byte{prefix}
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Seek(u64Key(prefix, n))
	if !it.Valid() {
		return nil, nil, fmt.Errorf("%w: nothing stored at or below %d", store.ErrNotFound, n)
	}
	item := it.Item()
	key := item.KeyCopy(nil)
	if len(key) != 9 {
		return nil, nil, fmt.Errorf("%w: key of %d bytes under prefix %q", store.ErrCorrupt, len(key), prefix)
	}
	val, err := item.ValueCopy(nil)
	if err != nil {
		return nil, nil, err
	}
	return key, val, nil
}

// badgerLogger sends Badger's own warnings and errors to slog.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}
