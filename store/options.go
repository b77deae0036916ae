package store

import (
	"fmt"
	"log/slog"
	"time"
)

// An Option configures Open.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	origin             string
	signingKey         string
	signingKeyFile     string
	recordFile         string
	checkpointInterval time.Duration
	maxBatchEvents     int
	maxBatchBytes      int
	batchWait          time.Duration
	maxEventBytes      int
	clockSkew          time.Duration
	cacheBytes         int64
	minFreeBytes       int64
	logger             *slog.Logger
	now                func() time.Time
	queueDepth         int
	masterKey          MasterKey
	masterKeyFile      string
	plaintext          bool
	keyHook            func(name, key []byte)
	retentionInterval  time.Duration
	// readOnly opens the store to read only, checking checkpoints with
	// verifierKey (WithReadOnly).
	readOnly     bool
	verifierKey  string
	noAggregates bool // for measuring what the aggregates cost (tests only)
	observe      func(CommitInfo)
}

func defaultConfig() config {
	return config{
		checkpointInterval: time.Second,
		maxBatchEvents:     1024,
		maxBatchBytes:      8 << 20,
		batchWait:          0,
		maxEventBytes:      1 << 20,
		clockSkew:          5 * time.Minute,
		cacheBytes:         64 << 20,
		logger:             slog.New(slog.DiscardHandler),
		now:                time.Now,
		queueDepth:         4096,
		retentionInterval:  time.Hour,
	}
}

// WithOrigin sets the origin line of the log's checkpoints: the log's name,
// conventionally a schemeless URL such as "audit.example.com/agents". It is
// fixed when a store is created; opening an existing store with a different
// origin fails. By default a new store takes the name of its signing key when
// that key exists already, and is otherwise named "agenttrail.local/"
// followed by 16 random hex digits.
func WithOrigin(origin string) Option {
	return optionFunc(func(c *config) error {
		if !validOrigin(origin) {
			return fmt.Errorf("%w: origin must be non-empty, without whitespace or '+'", ErrInvalidArgument)
		}
		c.origin = origin
		return nil
	})
}

// WithSigningKey sets the checkpoint signing key, as a note signer key string
// ("PRIVATE+KEY+<origin>+<hash>+<key>", see golang.org/x/mod/sumdb/note).
// Its name must be the log's origin. Open needs this or WithSigningKeyFile.
func WithSigningKey(skey string) Option {
	return optionFunc(func(c *config) error {
		if skey == "" {
			return fmt.Errorf("%w: empty signing key", ErrInvalidArgument)
		}
		c.signingKey = skey
		return nil
	})
}

// WithSigningKeyFile reads the checkpoint signing key from a file, which
// must be readable by its owner only. When the file does not exist and the
// log has never signed a checkpoint, a new key is generated and written
// there with mode 0600. Open needs this or WithSigningKey; WithSigningKey
// wins when both are given.
func WithSigningKeyFile(path string) Option {
	return optionFunc(func(c *config) error {
		if path == "" {
			return fmt.Errorf("%w: empty signing key file name", ErrInvalidArgument)
		}
		c.signingKeyFile = path
		return nil
	})
}

// WithCheckpointInterval sets how often a checkpoint is signed while events
// arrive: at most once per d, and always within d of the last append. Zero
// signs a checkpoint with every committed batch. The default is one second.
func WithCheckpointInterval(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: negative checkpoint interval", ErrInvalidArgument)
		}
		c.checkpointInterval = d
		return nil
	})
}

// WithBatchLimits bounds each batch the sequencer commits in one transaction:
// at most events events and about bytes bytes, waiting at most wait for more
// events to arrive once the first is there. Defaults: 1024 events, 8 MiB, no
// wait (batches form from whatever queues up while the previous batch
// commits; with no wait, a batch under a quarter of the limits gathers
// until the committer is free, and one for an idle committer goes at once).
func WithBatchLimits(events, bytes int, wait time.Duration) Option {
	return optionFunc(func(c *config) error {
		if events < 1 || bytes < 1 || wait < 0 {
			return fmt.Errorf("%w: batch limits must be positive", ErrInvalidArgument)
		}
		c.maxBatchEvents, c.maxBatchBytes, c.batchWait = events, bytes, wait
		return nil
	})
}

// WithMaxEventSize sets the largest encoded event Append accepts; larger
// ones fail with ErrTooLarge. The default is 1 MiB.
func WithMaxEventSize(bytes int) Option {
	return optionFunc(func(c *config) error {
		if bytes < 1024 {
			return fmt.Errorf("%w: max event size below 1 KiB", ErrInvalidArgument)
		}
		c.maxEventBytes = bytes
		return nil
	})
}

// MaxEventSize returns the largest encoded event the store accepts (see
// WithMaxEventSize), so that a server can name it when it refuses one.
func (s *Store) MaxEventSize() int { return s.cfg.maxEventBytes }

// WithClockSkew sets how far in the future an event's occurred_at may be.
// The default is five minutes.
func WithClockSkew(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: negative clock skew", ErrInvalidArgument)
		}
		c.clockSkew = d
		return nil
	})
}

// WithCacheBytes sets the memory the store's driver may use for caches
// (DriverConfig.CacheBytes). The default, 64 MiB, keeps the whole store
// well under a GOMEMLIMIT of 512 MiB.
func WithCacheBytes(n int64) Option {
	return optionFunc(func(c *config) error {
		if n < 1<<20 {
			return fmt.Errorf("%w: cache below 1 MiB", ErrInvalidArgument)
		}
		c.cacheBytes = n
		return nil
	})
}

// WithMinFreeSpace sets the disk space the store keeps free
// (DriverConfig.MinFreeBytes): while less is free, appends are refused
// with ErrNoSpace before anything is written, and they resume by
// themselves once space is freed. The default is the driver's: for Badger,
// room to flush its memtables and compact once (DefaultMinFreeSpace in
// store/badger). Drivers that cannot measure their space ignore it.
func WithMinFreeSpace(bytes int64) Option {
	return optionFunc(func(c *config) error {
		if bytes < 1<<20 {
			return fmt.Errorf("%w: minimum free space below 1 MiB", ErrInvalidArgument)
		}
		c.minFreeBytes = bytes
		return nil
	})
}

// WithReadOnly opens a store to read it only, for offline tools (export of
// a stopped server's data, or of a database through a role that may only
// read): the storage is opened read-only (DriverConfig.ReadOnly), nothing is
// created, signed or written, and the stored checkpoints are checked with
// the log's verifier key instead of a signing key, which is then not
// needed. The tree is read back and checked against the stored root and the
// latest checkpoint. Appends and credential changes fail with
// ErrInvalidArgument.
func WithReadOnly(verifierKey string) Option {
	return optionFunc(func(c *config) error {
		if verifierKey == "" {
			return fmt.Errorf("%w: a read-only store needs the log's verifier key", ErrInvalidArgument)
		}
		c.readOnly, c.verifierKey = true, verifierKey
		return nil
	})
}

// WithLogger sets the logger. The store logs operations (opens, closes,
// garbage collection, failures), never event contents.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidArgument)
		}
		c.logger = l
		return nil
	})
}

// WithClock sets the clock used for received-at times, checkpoint intervals
// and the future bound of occurred_at. For tests.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidArgument)
		}
		c.now = now
		return nil
	})
}

// WithMasterKey sets the master key of an encrypted store (see
// masterkey.go for the key hierarchy). Open needs this or
// WithMasterKeyFile, unless WithPlaintextStorage is given.
func WithMasterKey(k MasterKey) Option {
	return optionFunc(func(c *config) error {
		if k.IsZero() {
			return fmt.Errorf("%w: no master key", ErrInvalidArgument)
		}
		c.masterKey = k
		return nil
	})
}

// WithMasterKeyFile reads the master key from a file, which must be
// readable by its owner only. When the file does not exist and the storage
// is new, a new key is generated and written there with mode 0600 before
// anything is stored; keep the file outside the data directory, and back it
// up: without it, the store cannot be read. WithMasterKey wins when both are
// given.
func WithMasterKeyFile(path string) Option {
	return optionFunc(func(c *config) error {
		if path == "" {
			return fmt.Errorf("%w: empty master key file name", ErrInvalidArgument)
		}
		c.masterKeyFile = path
		return nil
	})
}

// WithPlaintextStorage stores content unencrypted, in the format that builds
// before encryption at rest wrote (agenttrail-store-v1), and opens storage
// of that format, which is otherwise refused (ErrPlaintext). It exists for
// benchmarks that measure what encryption costs and for tests of old data
// directories; never use it for personal data: its content cannot be
// erased. Master key options are ignored with it.
func WithPlaintextStorage() Option {
	return optionFunc(func(c *config) error {
		c.plaintext = true
		return nil
	})
}

// WithTestHookKeys calls f with the keyring name and plaintext bytes of
// every subject key the store creates or unwraps and every content key it
// creates, so that tests can look for them on disk after an erasure. f may
// be called from several goroutines at once. Never use it outside tests.
func WithTestHookKeys(f func(name, key []byte)) Option {
	return optionFunc(func(c *config) error {
		c.keyHook = f
		return nil
	})
}

// WithRetentionInterval sets how often the retention job applies the
// retention policies: at most an hour, the default; 0 turns the job off
// (ApplyRetention still runs it on demand).
func WithRetentionInterval(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 || d > time.Hour {
			return fmt.Errorf("%w: the retention interval must be between 0 (off) and one hour", ErrInvalidArgument)
		}
		c.retentionInterval = d
		return nil
	})
}

// CommitInfo describes one batch the store committed, for metrics.
type CommitInfo struct {
	// Events is the number of events in the batch.
	Events int
	// Duration is how long the driver's atomic commit took (for Badger,
	// with SyncWrites, the write and its fsync).
	Duration time.Duration
}

// WithCommitObserver has f called, from the committer goroutine, after
// every batch is committed. f must return quickly.
func WithCommitObserver(f func(CommitInfo)) Option {
	return optionFunc(func(c *config) error {
		c.observe = f
		return nil
	})
}
