package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// The checkpoint record is a small file kept outside the storage, beside the
// signing key: the newest checkpoint this server signed and the newest one
// witnesses cosigned. Whoever holds the storage alone cannot move it back,
// so at open a store that is shorter than either, or holds a different tree
// at their size, is refused: the data was truncated, rewritten or replaced
// by an older copy. The file is replaced atomically (write, fsync, rename,
// fsync of the directory) and only ever moves forward.
//
// It also records the newest tree the store acknowledged: the size and root
// after the last committed batch, written within ackRecordInterval of each
// commit. Events are acknowledged only once durable, so a store that opens
// smaller than that, or with another tree at that size, lost acknowledged
// events (a storage engine's crash recovery dropped more than it should
// have): it is refused too. The acknowledged head is not signed; it guards
// against damage, the signed checkpoints against whoever holds the storage.

// recordFile is the JSON form of the record. The signed notes are verified
// with the log's key when read.
type recordFile struct {
	Origin       string     `json:"origin"`
	Signed       string     `json:"signed,omitempty"`
	Cosigned     string     `json:"cosigned,omitempty"`
	Acknowledged *ackRecord `json:"acknowledged,omitempty"`
}

// ackRecord is the newest acknowledged tree: its size and root hash (hex).
type ackRecord struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
}

// ackRecordInterval bounds how often the record is rewritten for newly
// acknowledged events alone, so that it costs a few small fsyncs a second
// however fast events arrive.
const ackRecordInterval = 100 * time.Millisecond

// recorder keeps the checkpoint record of one store.
type recorder struct {
	path string
	log  *slog.Logger

	writeMu  sync.Mutex // serializes writes of the file
	mu       sync.Mutex // guards the fields below; never held while writing
	state    recordFile
	signed   Checkpoint
	cosigned Checkpoint
	acked    TreeRoot
	dirty    bool
	err      error // the last write's failure, reported once

	wake chan struct{}
	done chan struct{}
	stop chan struct{}
}

// WithCheckpointRecord keeps the checkpoint record in a file, which must be
// outside the storage (beside the signing key, for example): the newest
// checkpoint the store signed and the newest cosigned checkpoint it was
// given (RecordCosigned). Open refuses a storage that is smaller than, or
// inconsistent with, either, naming both sizes (ErrRolledBack). A missing
// file is created.
func WithCheckpointRecord(path string) Option {
	return optionFunc(func(c *config) error {
		if path == "" {
			return fmt.Errorf("%w: empty checkpoint record file name", ErrInvalidArgument)
		}
		c.recordFile = path
		return nil
	})
}

// openRecord reads the record, verifying its notes with the store's key.
func (s *Store) openRecord() (*recorder, error) {
	r := &recorder{path: s.cfg.recordFile, log: s.log, state: recordFile{Origin: s.origin},
		wake: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	b, err := os.ReadFile(r.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("store: reading the checkpoint record: %w", err)
	}
	var f recordFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: the checkpoint record %s is not one: %v", ErrInvalidArgument, r.path, err)
	}
	if f.Origin != s.origin {
		return nil, fmt.Errorf("%w: the checkpoint record %s is of the log %q, this store holds %q", ErrInvalidArgument, r.path, f.Origin, s.origin)
	}
	for _, n := range []struct {
		note string
		dst  *Checkpoint
		what string
	}{{f.Signed, &r.signed, "signed"}, {f.Cosigned, &r.cosigned, "cosigned"}} {
		if n.note == "" {
			continue
		}
		cp, err := s.openCheckpoint([]byte(n.note))
		if err != nil {
			return nil, fmt.Errorf("%w: the %s checkpoint in the record %s does not verify with the log's key: %v", ErrInvalidArgument, n.what, r.path, err)
		}
		*n.dst = cp
	}
	if a := f.Acknowledged; a != nil {
		root, err := hex.DecodeString(a.Root)
		if err != nil || len(root) != HashSize {
			return nil, fmt.Errorf("%w: the acknowledged tree in the checkpoint record %s has no valid root", ErrInvalidArgument, r.path)
		}
		r.acked = TreeRoot{Size: a.Size, Root: [HashSize]byte(root)}
	}
	r.state = f
	return r, nil
}

// check refuses a tree that is smaller than, or differs at their size from,
// the recorded checkpoints.
func (r *recorder) check(size uint64, hashes tlog.HashReader) error {
	sizes := fmt.Sprintf("the newest checkpoint this server signed covers %d events and the newest cosigned one %d (record %s)", r.signed.Size, r.cosigned.Size, r.path)
	for _, cp := range []Checkpoint{r.signed, r.cosigned} {
		if cp.Note == nil {
			continue
		}
		if cp.Size > size {
			return fmt.Errorf("%w: the store holds %d events, but %s: the data was truncated or replaced by an older copy; refusing to start", ErrRolledBack, size, sizes)
		}
		root, err := tlog.TreeHash(int64(cp.Size), hashes)
		if err != nil {
			return fmt.Errorf("store: checking the checkpoint record: %w", err)
		}
		if root != cp.Root {
			return fmt.Errorf("%w: the store's tree of %d events differs from the checkpoint of that size this server signed, and %s: the data was rewritten or replaced; refusing to start", ErrRolledBack, cp.Size, sizes)
		}
	}
	if a := r.acked; a.Size > 0 {
		if a.Size > size {
			return fmt.Errorf("%w: the store holds %d events, but %d were acknowledged (record %s): acknowledged events were lost, by damage to the storage or by a copy older than the record; refusing to start", ErrRolledBack, size, a.Size, r.path)
		}
		root, err := tlog.TreeHash(int64(a.Size), hashes)
		if err != nil {
			return fmt.Errorf("store: checking the checkpoint record: %w", err)
		}
		if root != a.Root {
			return fmt.Errorf("%w: the store's tree of %d events differs from the one acknowledged at that size (record %s): the data was rewritten or replaced; refusing to start", ErrRolledBack, a.Size, r.path)
		}
	}
	return nil
}

// start runs the writer of the record until close. It writes at most once
// per ackRecordInterval, each time what the latest notes say.
func (r *recorder) start() {
	go func() {
		defer close(r.done)
		pause := time.NewTimer(0)
		defer pause.Stop()
		for {
			select {
			case <-r.wake:
				r.flush()
			case <-r.stop:
				r.flush()
				return
			}
			pause.Reset(ackRecordInterval)
			select {
			case <-pause.C:
			case <-r.stop:
				r.flush()
				return
			}
		}
	}()
}

func (r *recorder) close() {
	close(r.stop)
	<-r.done
}

// noteSigned records a checkpoint that is durable in the storage; the file
// is written in the background.
func (r *recorder) noteSigned(cp Checkpoint) {
	r.mu.Lock()
	if cp.Size > r.signed.Size || r.signed.Note == nil {
		r.signed, r.state.Signed, r.dirty = cp, string(cp.Note), true
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// noteAcknowledged records the tree after a committed batch, whose events
// are durable; the file is written in the background.
func (r *recorder) noteAcknowledged(size uint64, root [HashSize]byte) {
	r.mu.Lock()
	if size > r.acked.Size {
		r.acked = TreeRoot{Size: size, Root: root}
		r.state.Acknowledged = &ackRecord{Size: size, Root: hex.EncodeToString(root[:])}
		r.dirty = true
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// flush writes the record if it changed. The committer that notes a new
// checkpoint never waits for a write: the state is copied under mu, and
// written under writeMu alone, so each write holds a state at least as new
// as the one before it.
func (r *recorder) flush() error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.Lock()
	if !r.dirty || r.path == "" {
		r.mu.Unlock()
		return nil
	}
	state := r.state
	r.dirty = false
	r.mu.Unlock()
	b, err := json.MarshalIndent(state, "", "  ")
	if err == nil {
		err = replaceFile(r.path, append(b, '\n'))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.dirty = true
		if r.err == nil {
			r.log.Error("writing the checkpoint record failed", slog.String("file", r.path), slog.Any("error", err))
		}
		r.err = err
		return err
	}
	r.err = nil
	return nil
}

// replaceFile replaces a file atomically and durably.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// RecordCosigned records a checkpoint that witnesses cosigned: the signed
// note with the log's signature and their cosignature lines, which the
// caller has verified. It must verify with the log's key and state a tree
// this store holds; it is written durably before RecordCosigned returns, and
// only when it is newer than the one recorded. Without WithCheckpointRecord
// it is kept in memory only.
func (s *Store) RecordCosigned(ctx context.Context, note []byte) error {
	cp, err := s.openCheckpoint(note)
	if err != nil {
		return err
	}
	root, err := s.RootAt(ctx, cp.Size)
	if err != nil {
		return err
	}
	if root != cp.Root {
		return fmt.Errorf("%w: the cosigned checkpoint of size %d is not of this store's tree", ErrInvalidArgument, cp.Size)
	}
	r := s.record
	r.mu.Lock()
	if cp.Size < r.cosigned.Size {
		r.mu.Unlock()
		return nil
	}
	r.cosigned, r.state.Cosigned, r.dirty = cp, string(note), true
	r.mu.Unlock()
	if r.path == "" {
		return nil
	}
	return r.flush()
}

// LatestCosigned returns the newest cosigned checkpoint recorded, or a zero
// Checkpoint when there is none.
func (s *Store) LatestCosigned() Checkpoint {
	s.record.mu.Lock()
	defer s.record.mu.Unlock()
	return s.record.cosigned
}
