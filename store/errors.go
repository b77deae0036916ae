package store

import (
	"errors"
	"fmt"

	"github.com/agenttrail/agenttrail/store/event"
)

// Errors returned by the store, always wrapped with %w so that callers test
// them with errors.Is. The server maps them to gRPC status codes in one place.
var (
	// ErrNotFound: no event with that id or index, or no checkpoint of that
	// size.
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: an event with that id exists and differs from the
	// one submitted. (Submitting an identical event returns its original
	// receipt instead.)
	ErrAlreadyExists = errors.New("store: event id already exists with different content")
	// ErrInvalidEvent: an event failed validation. The error is also a
	// *event.FieldError naming the field.
	ErrInvalidEvent = event.ErrInvalid
	// ErrInvalidArgument: a request other than an event is malformed, such
	// as a proof for an index outside the tree.
	ErrInvalidArgument = errors.New("store: invalid argument")
	// ErrTooLarge: an event exceeds the largest size the store accepts.
	ErrTooLarge = errors.New("store: event too large")
	// ErrClosed: the store is closed or closing.
	ErrClosed = errors.New("store: closed")
	// ErrFailed: a write to disk failed; the store refuses further appends
	// until it is reopened, because it cannot know what reached the disk.
	ErrFailed = errors.New("store: write failed")
	// ErrCorrupt: stored bytes could not be decoded or do not agree with
	// the Merkle log.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrStale: a driver refused a batch because the log's stored size is
	// not where the batch starts; nothing was written. Another writer
	// committed first, and the engine must reload before it retries.
	ErrStale = errors.New("store: the log moved on since the batch was prepared")
	// ErrPlaintext: the storage was written without encryption at rest, by
	// an older build. Migrate it (Migrate, `agenttrail migrate`) into new
	// storage; it is never mixed with encrypted records.
	ErrPlaintext = errors.New("store: the storage is not encrypted at rest")
	// ErrWrongKey: the master key given does not open the storage, or none
	// was given for encrypted storage.
	ErrWrongKey = errors.New("store: wrong master key")
	// ErrHeld: a legal hold covers content an erasure would destroy. The
	// error is also a *HeldError naming the hold.
	ErrHeld = errors.New("store: a legal hold covers the content")
	// ErrConflict: the lifecycle state changed since the caller read it
	// (a retention policy version, a hold already released), or the
	// operation does not apply to this store (erasure in a plaintext
	// store).
	ErrConflict = errors.New("store: the request conflicts with the current state")
	// ErrNoSpace: the storage's disk is almost full, so the store refuses
	// to write (see SpaceReporter); nothing was written. The error is a
	// *SpaceError with the figures. Appends resume once space is freed.
	ErrNoSpace = errors.New("store: disk almost full")
	// ErrUnavailable: the shared storage (a database several servers
	// share) could not be reached for long enough that the append was
	// given up. Its events may or may not have been stored; appending them
	// again with the same ids is safe. The store goes on.
	ErrUnavailable = errors.New("store: the storage is unavailable")
	// ErrRolledBack: the storage holds a tree smaller than, or inconsistent
	// with, a checkpoint this server signed or had cosigned (see
	// WithCheckpointRecord): it was truncated, rewritten or replaced by an
	// older copy. The store refuses to open it.
	ErrRolledBack = errors.New("store: the log is behind or inconsistent with a checkpoint it signed")
)

// ErrKeyChanged is the ErrStale of a batch that relies on a keyring record
// another writer changed (an erasure on another server retired a subject
// key): the engine prepares the batch again with fresh keys.
var ErrKeyChanged = fmt.Errorf("%w: a keyring record the batch relies on changed", ErrStale)

// HeldError is ErrHeld with the hold that refused an erasure.
type HeldError struct {
	// Hold is the hold in force.
	Hold Hold
	// Index is a log index the hold covers that the erasure would erase.
	Index uint64
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("store: legal hold %s (%s) covers event %d", e.Hold.ID, e.Hold.Scope, e.Index)
}

// Unwrap makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Unwrap() error { return ErrHeld }

// SpaceError is the ErrNoSpace of a disk with too little free space.
type SpaceError struct {
	// Free is the number of bytes free; Needed the number that must be.
	Free, Needed int64
}

func (e *SpaceError) Error() string {
	return fmt.Sprintf("disk almost full: %d MiB free, %d MiB needed", e.Free>>20, e.Needed>>20)
}

// Unwrap makes errors.Is(err, ErrNoSpace) true.
func (e *SpaceError) Unwrap() error { return ErrNoSpace }
