package store

import (
	"context"
	"encoding/binary"
	"iter"
	"log/slog"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// Driver is the storage beneath the engine: it keeps what the engine hands it
// and gives it back, and decides nothing about the log. The engine (Store)
// orders events, builds the Merkle tree, signs checkpoints and verifies;
// a driver makes each batch durable atomically, refuses to write anywhere but
// at the end of the log, and never overwrites or deletes a record.
//
// Every method may be called concurrently, except that the engine calls
// Commit from one goroutine at a time per Store. Methods return the store's
// sentinel errors (ErrNotFound, ErrAlreadyExists, ErrStale, ErrCorrupt,
// ErrClosed), wrapped with %w; storage engine errors are wrapped in
// ErrFailed or returned as they are, and never leave the driver as types of
// the storage engine. Reads of indexes below the stored size see immutable
// records, so they need no snapshot; a Scan reads one consistent view.
//
// Drivers are held to the conformance suite in store/storetest.
type Driver interface {
	// Load returns what the log has stored: its metadata, and the size and
	// root hash of its tree after the last committed batch. A driver over
	// empty storage returns a zero LogState.
	Load(ctx context.Context) (LogState, error)
	// Init records the metadata of a new log. It fails with
	// ErrAlreadyExists when metadata is stored already.
	Init(ctx context.Context, m LogMeta) error

	// LookupIDs returns the log index of every event id among ids that is
	// stored; ids that are not stored are absent from the map.
	LookupIDs(ctx context.Context, ids []string) (map[string]uint64, error)
	// Commit makes a batch durable, all of it or nothing: its events, their
	// content, their id and secondary index entries, the tree hashes, the
	// new size and root, and its checkpoint when it has one. It fails with
	// ErrStale, writing nothing, unless b.First is the stored size; and with
	// ErrAlreadyExists, writing nothing, when one of its event ids is stored
	// (at b.IDsLookedUpAt or above, at least).
	// When it returns nil the batch survives a crash of the process and of
	// the machine.
	Commit(ctx context.Context, b *Batch) error
	// PutCheckpoint stores the signed checkpoint of a tree size no larger
	// than the stored size. Storing the same note again is not an error;
	// another note for a size that has one is ErrAlreadyExists.
	PutCheckpoint(ctx context.Context, size uint64, note []byte) error

	// ReadEntries returns the stored records of the events at indexes, in
	// the order asked, with their content records when content is set. An
	// index with no event is ErrNotFound.
	ReadEntries(ctx context.Context, indexes []uint64, content bool) ([]RawEntry, error)
	// Scan yields the stored records of events in [Lo, Hi), in log order
	// (or reversed), that may match the filter: it uses the secondary
	// indexes to skip events that cannot match, and the engine checks the
	// filter against each header it yields. With a zero filter it yields
	// every stored record in the range, including any beyond the tree
	// size, so that verification can find them.
	Scan(ctx context.Context, r ScanRequest) iter.Seq2[RawEntry, error]
	// ReadHashes returns the stored tree hashes at the given stored-hash
	// indexes (golang.org/x/mod/sumdb/tlog numbering); a hash not stored is
	// ErrNotFound.
	ReadHashes(ctx context.Context, indexes []int64) ([][HashSize]byte, error)
	// Roots yields the size and root hash recorded by every committed
	// batch, by increasing size, starting at the first size above after.
	Roots(ctx context.Context, after uint64) iter.Seq2[TreeRoot, error]
	// Checkpoint returns the signed checkpoint of exactly a tree size, or
	// ErrNotFound.
	Checkpoint(ctx context.Context, size uint64) ([]byte, error)
	// LatestCheckpoint returns the signed checkpoint of the largest size,
	// or ErrNotFound when none is stored.
	LatestCheckpoint(ctx context.Context) (size uint64, note []byte, err error)
	// Checkpoints yields every stored checkpoint with a size above after,
	// by increasing size.
	Checkpoints(ctx context.Context, after uint64) iter.Seq2[StoredCheckpoint, error]
	// Aggregates yields what a reader of the aggregates of one cube needs
	// for the hours in [from, to), by increasing hour: for each hour, its
	// latest rollup (the one of the largest Upto), if any, then every delta
	// whose First is at or above that rollup's Upto (every delta, without
	// one), in First order, with First set. Hours with no record are
	// skipped.
	Aggregates(ctx context.Context, cube Cube, from, to uint32) iter.Seq2[AggregateRecord, error]
	// PutAggregates stores rollups computed outside a batch (for a log
	// written before aggregates existed): every record is a rollup whose
	// Upto is size, which must be the stored size (else ErrStale). Each is
	// written once, all of them or none; a stored one is ErrAlreadyExists.
	PutAggregates(ctx context.Context, size uint64, rollups []AggregateRecord) error
	// Postings yields every entry the secondary indexes hold, in any order,
	// with canonical values (see Posting), including entries for indexes
	// beyond the tree size. Verification checks them against the event
	// headers both ways: every event is filed under each of its values, and
	// no entry files an event under a value its header does not have.
	Postings(ctx context.Context) iter.Seq2[Posting, error]

	// AddCredential stores a new API key credential; an id that is stored
	// is ErrAlreadyExists.
	AddCredential(ctx context.Context, c Credential) error
	// RevokeCredential records the revocation of a credential at a time,
	// once: revoking again keeps the first revocation. It returns the
	// credential as it now stands, or ErrNotFound.
	RevokeCredential(ctx context.Context, id string, at time.Time) (Credential, error)
	// Credential returns a credential with its revocation, or ErrNotFound.
	Credential(ctx context.Context, id string) (Credential, error)
	// Credentials yields every credential.
	Credentials(ctx context.Context) iter.Seq2[Credential, error]

	// The keyring: the one place where records are replaced and deleted.
	// It holds the wrapped keys that encrypt content (see masterkey.go);
	// its record names and values are opaque to the driver, except that
	// the content key of the event at index i is named EventKeyName(i).

	// Keys returns the keyring records of the given names; a name with no
	// record is absent from the map, which is keyed by string(name).
	Keys(ctx context.Context, names [][]byte) (map[string][]byte, error)
	// KeysWithPrefix yields the keyring records whose names start with
	// prefix, in name order.
	KeysWithPrefix(ctx context.Context, prefix []byte) iter.Seq2[KeyRecord, error]
	// PutKeys creates or replaces keyring records, all or none.
	PutKeys(ctx context.Context, recs []KeyRecord) error
	// DestroyKeys deletes keyring records for good. When it returns nil,
	// no record named is readable, and no file or row the driver keeps
	// holds their bytes any more, in any version: the driver compacts,
	// rewrites or vacuums as its storage needs. What the storage medium
	// itself keeps (blocks an SSD or file system has not reused yet,
	// backups, snapshots) is beyond it; each driver documents that. Names
	// with no record are ignored, so calling it again is harmless.
	DestroyKeys(ctx context.Context, names [][]byte) error

	// Lifecycle records note what the engine did to content, such as an
	// erasure finished. They are written once, like every record but the
	// keyring's.

	// PutLifecycle stores a lifecycle record. Storing the same value again
	// is not an error; another value under a stored name is
	// ErrAlreadyExists.
	PutLifecycle(ctx context.Context, rec LifecycleRecord) error
	// Lifecycle yields the lifecycle records whose names start with
	// prefix, in name order.
	Lifecycle(ctx context.Context, prefix []byte) iter.Seq2[LifecycleRecord, error]

	// Close releases the storage. The engine calls it last, once nothing
	// else runs.
	Close() error
}

// SpaceReporter is the capability of a driver whose storage lives on a
// file system that can fill up, such as a Badger data directory. Before it
// prepares each batch, the engine asks how much space is free: when less
// than the driver needs to write safely, the batch's events are refused
// with a *SpaceError (ErrNoSpace), nothing is written, and appends resume
// by themselves once space is freed. Reads go on meanwhile. A driver whose
// storage reports a full disk as an ordinary error (a database server)
// need not implement it.
type SpaceReporter interface {
	// Space returns the bytes free for the storage and the bytes it needs
	// free before it takes a batch.
	Space(ctx context.Context) (Space, error)
}

// Space is the free space a SpaceReporter found.
type Space struct {
	// Free is the number of bytes free to the store.
	Free int64
	// Needed is the number of bytes that must stay free for writes to be
	// safe (DriverConfig.MinFreeBytes, or the driver's default).
	Needed int64
}

// BatchBudget is the capability of a driver whose Commit can take batches
// of a bounded size only, such as Badger's, whose transaction holds 15% of
// a memtable. The sequencer then counts each event at EventCost and never
// hands the driver a batch whose events cost more than MaxBatchCost: it
// ends a batch early, and splits an Append call that could not commit in
// one batch into consecutive batches (its events stay in order; the call
// returns once all of them are durable or rejected). Without it, batches
// are bounded by WithBatchLimits alone.
type BatchBudget interface {
	// EventCost returns what an event costs a batch, with every record
	// it adds: at least 1. size is its protobuf encoding plus the length
	// of the appending principal's name; indexed is the length of its
	// identifiers (event, session, agent and user ids, tool name, model:
	// IndexedBytes), which indexes copy. A driver must make any event fit
	// in a batch of its own: EventCost(size, indexed) <= MaxBatchCost()
	// for every event up to the largest it can be given (WithMaxEventSize).
	EventCost(size, indexed int) int
	// MaxBatchCost returns the most the events of one batch may cost.
	MaxBatchCost() int
}

// IndexedBytes is the length of an event's identifiers that a driver's
// indexes and the statistics may copy (see BatchBudget.EventCost).
func IndexedBytes(ev *agenttrailv1.Event) int {
	return len(ev.GetEventId()) + len(ev.GetSessionId()) + len(ev.GetAgentId()) + len(ev.GetUserId()) +
		len(event.ToolName(ev)) + len(ModelOf(ev))
}

// SharedDriver is the capability of a driver whose storage several
// engines may write at once, such as several servers over one PostgreSQL
// database (store/postgres). The engine then expects ErrStale from Commit
// whenever another writer committed first, reloads the tree from the
// driver and prepares the batch again; it resolves a commit whose outcome
// is unknown by reading the log; and it follows Changes so that heads,
// tails, checkpoints and proofs see every writer's batches.
type SharedDriver interface {
	Driver
	// Changes returns a channel that receives a value soon after any
	// writer, this engine or another, commits a batch or stores a
	// checkpoint; and now and then besides, so that a notification lost
	// to an outage is made up for. Values are coalesced: one receive may
	// stand for many commits. Nil when the driver was opened read-only.
	Changes() <-chan struct{}
}

// LogMeta is a log's identity, recorded when it is created.
type LogMeta struct {
	// Format names the stored format (FormatVersion).
	Format string
	// Origin is the log's name, the first line of its checkpoints.
	Origin string
}

// LogState is what Driver.Load finds.
type LogState struct {
	LogMeta
	// Size is the tree size after the last committed batch, and Root its
	// root hash.
	Size uint64
	Root [HashSize]byte
}

// Batch is one atomic commit: consecutive events from First, and the Merkle
// tree after them.
type Batch struct {
	// First is the log index of the first event: the stored size before
	// the batch.
	First uint64
	// Events are the events at First, First+1, ...
	Events []BatchEvent
	// Hashes are the tree hashes the events add, in stored-hash index
	// order, from tlog.StoredHashIndex(0, First).
	Hashes [][HashSize]byte
	// Size (First+len(Events)) and Root are the tree after the batch.
	Size uint64
	Root [HashSize]byte
	// Checkpoint is the signed checkpoint of the tree after the batch, or
	// nil when none is due.
	Checkpoint []byte
	// Keys are keyring records to create or replace with the batch (the
	// subject keys its events are the first to use, and those an erasure
	// retires).
	Keys []KeyRecord
	// RequireKeys are keyring records the batch relies on (the subject keys
	// its content keys are wrapped by): Commit fails with ErrKeyChanged,
	// writing nothing, unless each is stored with exactly that value.
	RequireKeys []KeyRecord
	// Lifecycle are lifecycle records to write with the batch (the intent
	// of an erasure, committed with its Erasure event).
	Lifecycle []LifecycleRecord
	// IDsLookedUpAt is a tree size at which the engine looked every event
	// id of the batch up and found none stored: none is stored at an index
	// below it. Commit then needs to check only the ids of the events
	// stored since (at IDsLookedUpAt and above), which a driver may know
	// without reading them back. Zero, the ids of every stored event are
	// checked. A driver may always check more.
	IDsLookedUpAt uint64
	// Aggregates are the batch's additions to the aggregate statistics,
	// one record per cube and hour its events touch: a delta (Upto zero),
	// which the driver files under First, or a rollup (Upto = Size) that
	// already includes the batch. Drivers store them opaquely, once, in
	// the same atomic commit.
	Aggregates []AggregateRecord
}

// KeyRecord is a keyring record: a name and a value, both opaque to the
// driver.
type KeyRecord struct {
	Name  []byte
	Value []byte
}

// LifecycleRecord is a write-once record of the content lifecycle.
type LifecycleRecord struct {
	Name  []byte
	Value []byte
}

// BatchEvent is one event as a driver stores it.
type BatchEvent struct {
	// EventID is the event's id, for the id index.
	EventID string
	// LeafData is what the event's Merkle leaf commits to
	// (commitment.LeafData): stored as is and returned as is.
	LeafData []byte
	// Content is the event's content record: opaque to the driver, stored
	// under the event's index and returned as is.
	Content []byte
	// ContentKey is the keyring record of the key that encrypts Content,
	// stored in the keyring under EventKeyName(index) and returned with the
	// content. Nil for content stored unencrypted (format v1).
	ContentKey []byte
	// ContentErased, set only when a log is restored from a backup, says
	// that a logged erasure or retention destroyed the event's content:
	// Content is empty, and the driver keeps the mark that reads back as
	// RawEntry.Erased instead.
	ContentErased bool
	// Index holds the metadata the secondary indexes file the event under.
	Index IndexValues
}

// IndexValues are what the secondary indexes of one event hold. Empty
// strings are not indexed.
type IndexValues struct {
	SessionID string
	AgentID   string
	UserID    string
	ToolName  string
	Kind      agenttrailv1.EventKind
	// Failure is set when the event records a failure (event.IsFailure).
	Failure bool
	// OccurredAt is the event's occurred_at time.
	OccurredAt time.Time
}

// RawEntry is an event's stored records, as a driver returns them.
type RawEntry struct {
	// Index is the event's log index.
	Index uint64
	// LeafData is the stored leaf data.
	LeafData []byte
	// Content is the content record when it was asked for and is stored.
	Content []byte
	// ContentKey is the keyring record named EventKeyName(Index), when
	// content was asked for and the record exists.
	ContentKey []byte
	// Erased is set when content was asked for and its record was
	// destroyed by a logged erasure or retention.
	Erased bool
}

// ScanRequest asks a driver for candidate events.
type ScanRequest struct {
	// Filter is the query's filter, which the driver may use to choose an
	// index; it need not apply all of it.
	Filter *Filter
	// Lo and Hi bound the indexes: [Lo, Hi).
	Lo, Hi uint64
	// Descending yields newest first.
	Descending bool
	// Content asks for content records too.
	Content bool
}

// TreeRoot is the root hash a committed batch recorded for its tree size.
type TreeRoot struct {
	Size uint64
	Root [HashSize]byte
}

// StoredCheckpoint is a signed checkpoint note as stored, with its size.
type StoredCheckpoint struct {
	Size uint64
	Note []byte
}

// DriverConfig is what the engine tells a driver when it opens it.
type DriverConfig struct {
	// ReadOnly opens the storage without writing a byte, for offline
	// verification; every write then fails.
	ReadOnly bool
	// CacheBytes is the memory the driver may use for caches.
	CacheBytes int64
	// MinFreeBytes is the free space a SpaceReporter keeps: appends are
	// refused while less is free. Zero means the driver's default.
	MinFreeBytes int64
	// Logger receives the driver's operational log: never event content.
	Logger *slog.Logger
	// EncryptionKey, when set, is the 32-byte key (MasterKey.StorageKey)
	// with which the driver encrypts at rest everything it stores: records,
	// indexes, logs. The driver refuses storage written without it
	// (ErrPlaintext) or under another key (ErrWrongKey). When nil, the
	// driver stores in the clear, for the plaintext format of older builds,
	// and refuses encrypted storage (ErrWrongKey).
	EncryptionKey []byte
}

// EventKeyName is the keyring name of the content key of the event at a log
// index: 'e' and the index, 8 bytes big-endian.
func EventKeyName(index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{keyKindEvent}, index)
}
