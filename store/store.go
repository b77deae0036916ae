package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Store is an open event store. It is safe for concurrent use.
type Store struct {
	cfg      config
	dir      string
	db       *badger.DB
	log      *slog.Logger
	origin   string
	signer   note.Signer
	verifier note.Verifier
	vkey     VerifierKey
	hashes   *storedHashReader

	// queue carries append requests to the sequencer. mu guards closed
	// and sending on queue, so that Close can close queue only once no
	// Append is mid-send.
	mu     sync.RWMutex
	closed bool
	queue  chan *request

	// readMu guards reads against Close: every read holds it for reading
	// and checks readClosed; Close takes it for writing before it closes
	// the database.
	readMu     sync.RWMutex
	readClosed bool

	seqDone chan struct{}
	gcStop  chan struct{}
	gcDone  chan struct{}
	failure atomic.Pointer[error]

	// head is the committed state, replaced by the sequencer after each
	// commit and read by everyone else.
	head atomic.Pointer[head]
}

// head is the state of the log after a commit.
type head struct {
	size       uint64
	root       tlog.Hash
	checkpoint Checkpoint
	// changed is closed when a later head replaces this one, or when the
	// store closes.
	changed chan struct{}
}

// Open opens the store in dir, creating it if it does not exist. The
// directory holds the Badger database (events/) and, unless a key is
// configured, the checkpoint signing key (checkpoint-signing.key, mode
// 0600).
//
// Close it to stop: see Close for the shutdown order.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: empty data directory", ErrInvalidArgument)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: creating %s: %w", dir, err)
	}
	db, err := badger.Open(badgerOptions(filepath.Join(dir, "events"), cfg))
	if err != nil {
		return nil, fmt.Errorf("store: opening database in %s: %w", dir, err)
	}
	s := &Store{
		cfg:     cfg,
		dir:     dir,
		db:      db,
		log:     cfg.logger,
		hashes:  nil,
		queue:   make(chan *request, cfg.queueDepth),
		seqDone: make(chan struct{}),
		gcStop:  make(chan struct{}),
		gcDone:  make(chan struct{}),
	}
	s.hashes = newStoredHashReader(s.view)
	fr, err := s.load(ctx)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	go s.sequence(fr)
	go s.collectGarbage()
	h := s.head.Load()
	s.log.InfoContext(ctx, "store opened", slog.String("dir", dir), slog.String("origin", s.origin),
		slog.Uint64("tree_size", h.size), slog.Uint64("checkpoint_size", h.checkpoint.Size))
	return s, nil
}

func badgerOptions(dir string, cfg config) badger.Options {
	return badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithDetectConflicts(false). // one sequencer is the only writer
		WithLogger(badgerLogger{cfg.logger}).
		WithLoggingLevel(badger.WARNING).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(32 << 20).
		WithNumMemtables(3).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12).
		WithNumCompactors(2).
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(256 << 20).
		WithBlockCacheSize(cfg.cacheBytes * 3 / 4).
		WithIndexCacheSize(cfg.cacheBytes / 4).
		WithCompression(options.None)
}

// load reads or initializes the store's metadata, signing key, tree and
// latest checkpoint, and checks that they agree.
func (s *Store) load(ctx context.Context) (*frontier, error) {
	var format, origin []byte
	var size uint64
	var sizeRoot tlog.Hash
	err := s.view(func(txn *badger.Txn) error {
		var err error
		if format, err = getValue(txn, metaFormat); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if origin, err = getValue(txn, metaOrigin); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		size, sizeRoot, err = latestSize(txn)
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case format == nil && size == 0:
		o := s.cfg.origin
		if o == "" {
			if o, err = randomOrigin(); err != nil {
				return nil, err
			}
		}
		err := s.db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(metaFormat, []byte(formatVersion)); err != nil {
				return err
			}
			return txn.Set(metaOrigin, []byte(o))
		})
		if err != nil {
			return nil, fmt.Errorf("store: initializing: %w", err)
		}
		origin = []byte(o)
	case string(format) != formatVersion:
		return nil, fmt.Errorf("%w: stored format %q, this build reads %q", ErrCorrupt, format, formatVersion)
	}
	s.origin = string(origin)
	if s.cfg.origin != "" && s.cfg.origin != s.origin {
		return nil, fmt.Errorf("%w: the store's origin is %q, not the configured %q", ErrInvalidArgument, s.origin, s.cfg.origin)
	}

	latest, err := s.latestCheckpointRaw()
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	hasCheckpoint := err == nil
	if s.signer, s.verifier, s.vkey, err = loadSigner(s.dir, s.origin, s.cfg.signingKey, !hasCheckpoint); err != nil {
		return nil, err
	}

	fr := &frontier{}
	if size > 0 {
		if fr, err = loadFrontier(s.hashes, size); err != nil {
			return nil, fmt.Errorf("store: reading the tree: %w", err)
		}
	}
	root, err := fr.root()
	if err != nil {
		return nil, err
	}
	if root != sizeRoot {
		return nil, fmt.Errorf("%w: the tree of size %d has root %s, but %s was recorded", ErrCorrupt, size, root, sizeRoot)
	}

	var cp Checkpoint
	if hasCheckpoint {
		if cp, err = openCheckpoint(latest, s.verifier, s.origin); err != nil {
			return nil, err
		}
		if cp.Size > size {
			return nil, fmt.Errorf("%w: latest checkpoint covers %d events but the log holds %d", ErrCorrupt, cp.Size, size)
		}
		got, err := tlog.TreeHash(int64(cp.Size), s.hashes)
		if err != nil {
			return nil, err
		}
		if got != cp.Root {
			return nil, fmt.Errorf("%w: the stored tree of size %d does not match its signed checkpoint", ErrCorrupt, cp.Size)
		}
	}
	if size > 0 && cp.Size < size {
		// A crash can leave committed events that the interval-based
		// signing had not yet covered; cover them now.
		if cp, err = s.storeCheckpoint(size, root); err != nil {
			return nil, err
		}
	}
	s.head.Store(&head{size: size, root: root, checkpoint: cp, changed: make(chan struct{})})
	return fr, nil
}

// storeCheckpoint signs and stores the checkpoint of a tree in its own
// transaction.
func (s *Store) storeCheckpoint(size uint64, root tlog.Hash) (Checkpoint, error) {
	cp, err := signCheckpoint(s.signer, s.origin, size, root)
	if err != nil {
		return Checkpoint{}, err
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(checkpointKey(size)); err == nil {
			return nil // signed before: Ed25519 is deterministic, so it is this note
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(checkpointKey(size), cp.Note)
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("store: writing checkpoint: %w", err)
	}
	return cp, nil
}

// latestSize returns the size and root recorded by the last committed batch.
func latestSize(txn *badger.Txn) (uint64, tlog.Hash, error) {
	key, val, err := seekFloor(txn, prefixSize, ^uint64(0))
	if errors.Is(err, ErrNotFound) {
		return 0, tlog.Hash{}, nil
	}
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	if len(val) != hashSize {
		return 0, tlog.Hash{}, fmt.Errorf("%w: size record of %d bytes", ErrCorrupt, len(val))
	}
	var root tlog.Hash
	copy(root[:], val)
	return keyIndex(key), root, nil
}

func (s *Store) latestCheckpointRaw() ([]byte, error) {
	var val []byte
	err := s.view(func(txn *badger.Txn) error {
		var err error
		_, val, err = seekFloor(txn, prefixCheckpoint, ^uint64(0))
		return err
	})
	return val, err
}

func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Close shuts the store down in this order, and returns when it is done:
//
//  1. New appends fail with ErrClosed.
//  2. The sequencer commits every append already queued and answers it.
//  3. A final checkpoint is signed covering every committed event.
//  4. Value-log garbage collection stops.
//  5. Followers (Watch, Scan with Follow) are woken and end with ErrClosed.
//  6. The database is closed.
//
// Acknowledged events are durable before they are acknowledged, so nothing
// acknowledged depends on Close finishing. Close is safe to call more than
// once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.seqDone
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()

	<-s.seqDone
	close(s.gcStop)
	<-s.gcDone
	close(s.head.Load().changed)
	s.readMu.Lock() // waits for reads in progress
	s.readClosed = true
	s.readMu.Unlock()
	err := s.db.Close()
	s.log.Info("store closed", slog.String("dir", s.dir), slog.Uint64("tree_size", s.head.Load().size))
	return err
}

// view runs fn in a read transaction, unless the store is closed.
func (s *Store) view(fn func(*badger.Txn) error) error {
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if s.readClosed {
		return ErrClosed
	}
	return s.db.View(fn)
}

// Origin returns the log's origin line.
func (s *Store) Origin() string { return s.origin }

// VerifierKey returns the key that verifies the store's checkpoints.
func (s *Store) VerifierKey() VerifierKey { return s.vkey }

// Size returns the number of committed events and the root hash of their
// tree.
func (s *Store) Size() (uint64, [hashSize]byte) {
	h := s.head.Load()
	return h.size, h.root
}

// Watch returns the number of committed events and a channel that is closed
// when more commit or the store closes. Call it again after the channel
// closes.
func (s *Store) Watch() (uint64, <-chan struct{}) {
	h := s.head.Load()
	return h.size, h.changed
}

// isClosed reports whether Close has begun.
func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// collectGarbage runs value-log garbage collection on a timer until Close.
func (s *Store) collectGarbage() {
	defer close(s.gcDone)
	if s.cfg.gcInterval == 0 {
		<-s.gcStop
		return
	}
	t := time.NewTicker(s.cfg.gcInterval)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			rewrites := 0
			for rewrites < 16 {
				if err := s.db.RunValueLogGC(0.5); err != nil {
					if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
						s.log.Warn("value log garbage collection failed", slog.Any("error", err))
					}
					break
				}
				rewrites++
			}
			if rewrites > 0 {
				s.log.Info("value log garbage collected", slog.Int("files_rewritten", rewrites))
			}
		}
	}
}

// badgerLogger sends Badger's own warnings and errors to slog.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(string, ...any)        {}
func (b badgerLogger) Debugf(string, ...any)       {}
