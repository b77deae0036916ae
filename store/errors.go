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
