package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// FormatVersion names the stored format this build writes and reads: the
// records a Batch holds, the content record encoding (version 2: encrypted,
// see content.go), the keyring and the leaf format. Open refuses storage of
// any other format.
const FormatVersion = "agenttrail-store-v2"

// FormatPlaintext names the format of builds before encryption at rest:
// the same records and leaves, with content in the clear (content record
// version 1) and no keyring. Open refuses it (ErrPlaintext) unless
// WithPlaintextStorage is given; Migrate copies it into encrypted storage;
// VerifyStorage verifies it.
const FormatPlaintext = "agenttrail-store-v1"

// ServerPrincipal is the principal of the events the store writes itself
// (erasure, retention, legal hold and retention policy records); the
// principal who asked is in the event's payload. It is the same name as
// the server's own records use.
const ServerPrincipal = "agenttrail"

// HashSize is the size of every hash of the log.
const HashSize = commitment.HashSize

// Store is an open event store: the engine over one Driver. It is safe for
// concurrent use.
type Store struct {
	cfg      config
	d        Driver
	log      *slog.Logger
	origin   string
	signer   note.Signer
	verifier *commitment.CheckpointVerifier
	hashes   *hashReader
	record   *recorder

	// queue carries append requests to the sequencer. mu guards closed
	// and sending on queue, so that Close can close queue only once no
	// Append is mid-send.
	mu     sync.RWMutex
	closed bool
	queue  chan *request

	// readMu guards reads against Close: every read holds it for reading
	// and checks readClosed; Close takes it for writing before it closes
	// the driver.
	readMu     sync.RWMutex
	readClosed bool

	seqDone chan struct{}
	failure atomic.Pointer[error]

	// followStop and followDone run the follower of a shared driver,
	// which moves the head with other writers' commits.
	followStop chan struct{}
	followDone chan struct{}

	// head is the committed state, replaced by the sequencer after each
	// commit and read by everyone else.
	head atomic.Pointer[head]

	// keys is the keyring of an encrypted store; nil for a plaintext one.
	keys    *keyring
	content contentReader
	// recent keeps the batches committed last, for tails (nil: none).
	recent *recentBatches
	// cov knows which events this store's erasures and retention runs
	// erased; claims which events any Erasure or Retention event names
	// (see contentReader).
	cov, claims *coverage
	// retired are the subject keys an erasure retired, until they are
	// destroyed.
	retiredMu sync.Mutex
	retired   map[string]bool
	// lifeMu serializes the lifecycle operations (erasure, retention,
	// holds, policies) and guards their state.
	lifeMu     sync.Mutex
	holds      []Hold
	holdSeq    uint64
	lifeSeen   uint64 // lifecycle events below this index are applied
	claimsMu   sync.Mutex
	claimsSeen uint64 // erasure claims below this index are known
	policies   RetentionPolicies
	retention  retentionJob
	createdKey string // the master key file Open created, if it did
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

// Open opens the store at a storage URL with the driver its scheme names,
// creating the log if the storage is empty: for example
// "badger:///var/lib/agenttrail" (package store/badger, which the program
// must import). Close it to stop: see Close for the shutdown order.
//
// An encrypted store (the default) needs its master key: WithMasterKey or
// WithMasterKeyFile, which creates the key when both the file and the
// storage are new.
func Open(ctx context.Context, storeURL string, opts ...Option) (*Store, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	mk, created, err := cfg.resolveMasterKey()
	if err != nil {
		return nil, err
	}
	cfg.masterKey = mk
	d, err := OpenDriver(ctx, storeURL, DriverConfig{CacheBytes: cfg.cacheBytes - recentBudget(cfg.cacheBytes), MinFreeBytes: cfg.minFreeBytes, Logger: cfg.logger, ReadOnly: cfg.readOnly, EncryptionKey: mk.StorageKey()})
	if errors.Is(err, ErrPlaintext) && cfg.readOnly {
		// Reading storage of an older build needs no key.
		cfg.plaintext, cfg.masterKey = true, MasterKey{}
		d, err = OpenDriver(ctx, storeURL, DriverConfig{CacheBytes: cfg.cacheBytes, MinFreeBytes: cfg.minFreeBytes, Logger: cfg.logger, ReadOnly: true})
	}
	if errors.Is(err, ErrPlaintext) {
		err = plaintextError(err)
	}
	if err != nil {
		return nil, cfg.openFailed(err, created)
	}
	s, err := newStore(ctx, d, cfg)
	if err != nil {
		return nil, cfg.openFailed(errors.Join(err, d.Close()), created)
	}
	s.createdKey = created
	return s, nil
}

// resolveMasterKey returns the configured master key, reading its file, or
// creating it (and returning its name) when the file does not exist.
func (cfg config) resolveMasterKey() (MasterKey, string, error) {
	switch {
	case cfg.plaintext:
		return MasterKey{}, "", nil
	case !cfg.masterKey.IsZero():
		return cfg.masterKey, "", nil
	case cfg.readOnly && cfg.masterKeyFile == "":
		return MasterKey{}, "", nil
	}
	k, err := ReadMasterKeyFile(cfg.masterKeyFile)
	if err == nil {
		return k, "", nil
	}
	if !errors.Is(err, ErrNotFound) || cfg.readOnly {
		return k, "", err // a read-only store creates nothing
	}
	if k, err = GenerateMasterKey(); err != nil {
		return k, "", err
	}
	if err := WriteMasterKeyFile(cfg.masterKeyFile, k); err != nil {
		return k, "", err
	}
	return k, cfg.masterKeyFile, nil
}

// plaintextError explains ErrPlaintext.
func plaintextError(err error) error {
	return fmt.Errorf("%w: it was written by an older build, which stored content in the clear (format %s); this build encrypts everything at rest and never mixes the two. Copy it into new, encrypted storage with `agenttrail migrate` (store.Migrate): the log, its leaves and its checkpoints stay the same", err, FormatPlaintext)
}

// openFailed explains a failure to open storage and removes a master key
// file Open created when the storage turned out not to be new: that key
// protects nothing.
func (cfg config) openFailed(err error, created string) error {
	if created == "" {
		return err
	}
	if errors.Is(err, ErrWrongKey) || errors.Is(err, ErrPlaintext) {
		os.Remove(created)
		if errors.Is(err, ErrWrongKey) {
			return fmt.Errorf("%w: the master key file %s did not exist, and the storage is not new: restore the key file it was created with, or give the key (%v)", ErrWrongKey, created, err)
		}
	}
	return err
}

// MasterKeyCreated returns the master key file Open created for a new store,
// or "" when it read an existing key: the caller should say where it is, so
// that it gets backed up.
func (s *Store) MasterKeyCreated() string { return s.createdKey }

// Encrypted reports whether the store encrypts content at rest (format
// agenttrail-store-v2).
func (s *Store) Encrypted() bool { return s.keys != nil }

// New runs the engine over a driver that is already open, creating the log
// if the storage is empty. The store owns the driver from then on: Close
// closes it, and so does New when it fails.
func New(ctx context.Context, d Driver, opts ...Option) (*Store, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil driver", ErrInvalidArgument)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, errors.Join(err, d.Close())
	}
	mk, created, err := cfg.resolveMasterKey()
	if err != nil {
		return nil, errors.Join(err, d.Close())
	}
	cfg.masterKey = mk
	s, err := newStore(ctx, d, cfg)
	if err != nil {
		return nil, cfg.openFailed(errors.Join(err, d.Close()), created)
	}
	s.createdKey = created
	return s, nil
}

func newConfig(opts []Option) (config, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.signingKey == "" && cfg.signingKeyFile == "" && !cfg.readOnly {
		return cfg, fmt.Errorf("%w: no checkpoint signing key: give WithSigningKey or WithSigningKeyFile", ErrInvalidArgument)
	}
	switch {
	case cfg.plaintext:
		cfg.masterKey, cfg.masterKeyFile = MasterKey{}, "" // plaintext storage has none
	case cfg.masterKey.IsZero() && cfg.masterKeyFile == "" && !cfg.readOnly:
		return cfg, fmt.Errorf("%w: no master key: give WithMasterKey or WithMasterKeyFile", ErrInvalidArgument)
	}
	return cfg, nil
}

func newStore(ctx context.Context, d Driver, cfg config) (*Store, error) {
	s := &Store{
		cfg:     cfg,
		d:       d,
		log:     cfg.logger,
		queue:   make(chan *request, cfg.queueDepth),
		seqDone: make(chan struct{}),
		cov:     &coverage{},
		claims:  &coverage{},
		retired: map[string]bool{},
	}
	s.hashes = newHashReader(d)
	if !cfg.plaintext && !cfg.masterKey.IsZero() {
		var err error
		if s.keys, err = newKeyring(d, cfg.masterKey, cfg.keyHook); err != nil {
			return nil, err
		}
	}
	s.content = contentReader{keys: s.keys, erased: s.cov, claims: s.claims}
	if _, ok := d.(SharedDriver); ok {
		s.content.refreshClaims = s.refreshClaims
	} else if !cfg.readOnly {
		s.recent = newRecentBatches(recentBudget(cfg.cacheBytes))
	}
	if cfg.readOnly {
		if err := s.loadReadOnly(ctx); err != nil {
			return nil, err
		}
		if err := s.loadLifecycleState(ctx); err != nil {
			return nil, err
		}
		close(s.seqDone)
		s.followStop, s.followDone = make(chan struct{}), make(chan struct{})
		close(s.followDone)
		h := s.head.Load()
		s.log.InfoContext(ctx, "store opened read-only", slog.String("origin", s.origin),
			slog.Uint64("tree_size", h.size), slog.Uint64("checkpoint_size", h.checkpoint.Size))
		return s, nil
	}
	fr, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	// Lifecycle state comes from the log itself; erasures a crash
	// interrupted finish before anything else can read or append.
	if err := s.loadLifecycle(ctx); err != nil {
		return nil, err
	}
	if err := s.backfillAggregates(ctx, fr.size); err != nil {
		return nil, err
	}
	go s.sequence(fr)
	s.followStop, s.followDone = make(chan struct{}), make(chan struct{})
	if sd, ok := d.(SharedDriver); ok {
		go s.follow(sd, s.followStop, s.followDone)
	} else {
		close(s.followDone)
	}
	s.startRetention()
	h := s.head.Load()
	s.log.InfoContext(ctx, "store opened", slog.String("origin", s.origin),
		slog.Uint64("tree_size", h.size), slog.Uint64("checkpoint_size", h.checkpoint.Size))
	return s, nil
}

// load reads or initializes the log's metadata, signing key, tree and latest
// checkpoint, and checks that they agree.
func (s *Store) load(ctx context.Context) (*frontier, error) {
	st, err := s.d.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: loading the log: %w", err)
	}
	format := FormatVersion
	if s.cfg.plaintext {
		format = FormatPlaintext
	}
	switch {
	case st.Format == "" && st.Size == 0:
		o := s.cfg.origin
		if o == "" {
			// A key given for a new log names it.
			o = existingKeyName(s.cfg)
		}
		if o == "" {
			if o, err = randomOrigin(); err != nil {
				return nil, err
			}
		}
		st.LogMeta = LogMeta{Format: format, Origin: o}
		if err := s.d.Init(ctx, st.LogMeta); errors.Is(err, ErrAlreadyExists) {
			// Another server sharing the storage created the log first.
			if st, err = s.d.Load(ctx); err != nil {
				return nil, fmt.Errorf("store: loading the log: %w", err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("store: initializing: %w", err)
		}
	}
	switch {
	case st.Format == FormatPlaintext && format == FormatVersion:
		return nil, plaintextError(ErrPlaintext)
	case st.Format == FormatVersion && format == FormatPlaintext:
		return nil, fmt.Errorf("%w: the storage is encrypted (format %s), and plaintext storage was asked for", ErrWrongKey, FormatVersion)
	case st.Format != format:
		return nil, fmt.Errorf("%w: stored format %q, this build reads %q and %q", ErrCorrupt, st.Format, FormatVersion, FormatPlaintext)
	}
	if s.keys != nil {
		// A store with no event yet may have been initialized without its
		// check record by a crash; any other must have one.
		if err := s.keys.checkMaster(ctx, st.Size == 0); err != nil {
			return nil, err
		}
	}
	s.origin = st.Origin
	if s.cfg.origin != "" && s.cfg.origin != s.origin {
		return nil, fmt.Errorf("%w: the store's origin is %q, not the configured %q", ErrInvalidArgument, s.origin, s.cfg.origin)
	}

	cpSize, latest, err := s.d.LatestCheckpoint(ctx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	hasCheckpoint := err == nil
	if _, shared := s.d.(SharedDriver); shared && hasCheckpoint && cpSize > st.Size {
		// Another server committed and signed since Load read the state:
		// read it again, which now holds at least what the checkpoint
		// covers (checkpoints are stored only for committed sizes).
		if st, err = s.d.Load(ctx); err != nil {
			return nil, fmt.Errorf("store: loading the log: %w", err)
		}
	}
	if s.signer, s.verifier, err = loadSigner(s.origin, s.cfg, !hasCheckpoint); err != nil {
		return nil, err
	}

	fr, err := loadTree(s.hashes, st)
	if err != nil {
		return nil, err
	}
	root := st.Root
	if s.record, err = s.openRecord(); err != nil {
		return nil, err
	}
	if err := s.record.check(st.Size, s.hashes); err != nil {
		return nil, err
	}
	if s.cfg.recordFile != "" && s.record.signed.Note == nil && st.Size > 0 {
		s.log.WarnContext(ctx, "no checkpoint record yet: the store cannot be checked against the checkpoints it signed before; recording them from now on",
			slog.String("record", s.cfg.recordFile), slog.Uint64("tree_size", st.Size))
	}

	var cp Checkpoint
	if hasCheckpoint {
		if cp, err = s.openCheckpoint(latest); err != nil {
			return nil, err
		}
		if cp.Size != cpSize {
			return nil, fmt.Errorf("%w: the checkpoint stored for size %d states size %d", ErrCorrupt, cpSize, cp.Size)
		}
		if cp.Size > st.Size {
			return nil, fmt.Errorf("%w: latest checkpoint covers %d events but the log holds %d", ErrCorrupt, cp.Size, st.Size)
		}
		got, err := tlog.TreeHash(int64(cp.Size), s.hashes)
		if err != nil {
			return nil, err
		}
		if got != cp.Root {
			return nil, fmt.Errorf("%w: the stored tree of size %d does not match its signed checkpoint", ErrCorrupt, cp.Size)
		}
	}
	if st.Size > 0 && cp.Size < st.Size {
		// A crash can leave committed events that the interval-based
		// signing had not yet covered; cover them now (or, on a disk too
		// full to write, as soon as the sequencer can).
		next, err := s.storeCheckpoint(ctx, st.Size, root)
		switch {
		case errors.Is(err, ErrNoSpace):
			s.log.WarnContext(ctx, "the latest events are not covered by a checkpoint yet: disk almost full", slog.Uint64("tree_size", st.Size), slog.Any("error", err))
		case err != nil:
			return nil, err
		default:
			cp = next
		}
	}
	s.head.Store(&head{size: st.Size, root: root, checkpoint: cp, changed: make(chan struct{})})
	if cp.Note != nil {
		s.record.noteSigned(cp)
	}
	if s.cfg.recordFile != "" {
		s.record.start()
		if err := s.record.flush(); err != nil {
			s.record.close()
			return nil, fmt.Errorf("store: writing the checkpoint record %s: %w", s.cfg.recordFile, err)
		}
	}
	return fr, nil
}

// loadReadOnly reads the log's metadata, tree and latest checkpoint without
// writing, and checks that they agree (WithReadOnly).
func (s *Store) loadReadOnly(ctx context.Context) error {
	st, err := s.d.Load(ctx)
	if err != nil {
		return fmt.Errorf("store: loading the log: %w", err)
	}
	if st.Origin == "" {
		return fmt.Errorf("%w: no log is stored there (no origin recorded)", ErrNotFound)
	}
	switch {
	case st.Format == FormatPlaintext:
		s.keys, s.content.keys = nil, nil // read as it is, with no key
	case st.Format != FormatVersion:
		return fmt.Errorf("%w: stored format %q, this build reads %q and %q", ErrCorrupt, st.Format, FormatVersion, FormatPlaintext)
	case s.keys == nil:
		return fmt.Errorf("%w: the log's content is encrypted: give its master key", ErrWrongKey)
	default:
		if err := s.keys.checkMaster(ctx, false); err != nil {
			return err
		}
	}
	s.origin = st.Origin
	if s.verifier, err = commitment.NewCheckpointVerifier(s.cfg.verifierKey, s.origin); err != nil {
		return fmt.Errorf("%w: verifier key: %v", ErrInvalidArgument, err)
	}
	if s.record, err = s.openRecord(); err != nil {
		return err
	}
	if _, err := loadTree(s.hashes, st); err != nil {
		return err
	}
	var cp Checkpoint
	cpSize, latest, err := s.d.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	default:
		if cp, err = s.openCheckpoint(latest); err != nil {
			return err
		}
		if cp.Size != cpSize || cp.Size > st.Size {
			return fmt.Errorf("%w: the checkpoint stored for size %d states size %d, and the log holds %d", ErrCorrupt, cpSize, cp.Size, st.Size)
		}
		if got, err := tlog.TreeHash(int64(cp.Size), s.hashes); err != nil || got != cp.Root {
			return fmt.Errorf("%w: the stored tree of size %d does not match its signed checkpoint (%v)", ErrCorrupt, cp.Size, err)
		}
	}
	s.head.Store(&head{size: st.Size, root: st.Root, checkpoint: cp, changed: make(chan struct{})})
	return nil
}

// storeCheckpoint signs and stores the checkpoint of a tree on its own.
func (s *Store) storeCheckpoint(ctx context.Context, size uint64, root tlog.Hash) (Checkpoint, error) {
	cp, err := s.signCheckpoint(size, root)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := s.d.PutCheckpoint(ctx, size, cp.Note); err != nil {
		return Checkpoint{}, fmt.Errorf("store: writing checkpoint: %w", err)
	}
	return cp, nil
}

// Close shuts the store down in this order, and returns when it is done:
//
//  0. The retention job stops (a run in progress ends where it is: an
//     expiry it logged finishes on the next open).
//  1. New appends fail with ErrClosed.
//  2. The sequencer commits every append already queued and answers it.
//  3. A final checkpoint is signed covering every committed event.
//  4. Followers (Watch, Scan with Follow) are woken and end with ErrClosed.
//  5. Reads in progress finish, and so do erasures destroying keys; later
//     reads fail with ErrClosed.
//  6. The driver is closed.
//
// Acknowledged events are durable before they are acknowledged, so nothing
// acknowledged depends on Close finishing. Close is safe to call more than
// once.
func (s *Store) Close() error {
	s.stopRetention()
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
	close(s.followStop)
	<-s.followDone
	if s.cfg.recordFile != "" && s.record != nil {
		s.record.close() // writes the final checkpoint
	}
	close(s.head.Load().changed)
	s.readMu.Lock() // waits for reads in progress
	s.readClosed = true
	s.readMu.Unlock()
	err := s.d.Close()
	s.log.Info("store closed", slog.String("origin", s.origin), slog.Uint64("tree_size", s.head.Load().size))
	return err
}

// reading runs fn unless the store is closed, holding Close off until fn
// returns.
func (s *Store) reading(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.readMu.RLock()
	defer s.readMu.RUnlock()
	if s.readClosed {
		return ErrClosed
	}
	return fn()
}

// Origin returns the log's origin line.
func (s *Store) Origin() string { return s.origin }

// VerifierKey returns the key that verifies the store's checkpoints.
func (s *Store) VerifierKey() commitment.VerifierKey { return s.verifier.Key() }

// Size returns the number of committed events and the root hash of their
// tree.
func (s *Store) Size() (uint64, [HashSize]byte) {
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

// readable fails when ctx is done or the store is closing.
func (s *Store) readable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	return nil
}
