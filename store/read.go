package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// ReadOption chooses what a read returns.
type ReadOption int

const (
	// HeaderOnly reads the header and commitment, not the content.
	HeaderOnly ReadOption = iota
	// WithContent also reads the content and its salt.
	WithContent
)

// Get returns the event at a log index.
func (s *Store) Get(ctx context.Context, index uint64, opt ReadOption) (*Entry, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	var e *Entry
	err := s.view(func(txn *badger.Txn) error {
		var err error
		e, err = readEntry(txn, index, opt == WithContent)
		return err
	})
	return e, err
}

// GetByID returns the event with an event id.
func (s *Store) GetByID(ctx context.Context, eventID string, opt ReadOption) (*Entry, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	if eventID == "" || len(eventID) > 1024 {
		return nil, fmt.Errorf("%w: event id", ErrInvalidArgument)
	}
	var e *Entry
	err := s.view(func(txn *badger.Txn) error {
		val, err := getValue(txn, idKey(eventID))
		if err != nil {
			return fmt.Errorf("event id: %w", err)
		}
		index, err := decodeU64(val)
		if err != nil {
			return err
		}
		e, err = readEntry(txn, index, opt == WithContent)
		return err
	})
	return e, err
}

func (s *Store) readable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	return nil
}

// readEntry reads the event at index, and its content when asked.
func readEntry(txn *badger.Txn, index uint64, withContent bool) (*Entry, error) {
	item, err := txn.Get(recordKey(index))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: no event at index %d", ErrNotFound, index)
	}
	if err != nil {
		return nil, err
	}
	ld, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	e, err := decodeEntry(index, ld)
	if err != nil {
		return nil, err
	}
	if withContent {
		if err := readContent(txn, e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// decodeEntry decodes the leaf data of the event at index. The entry's
// HeaderBytes alias ld.
func decodeEntry(index uint64, ld []byte) (*Entry, error) {
	hb, digest, err := parseLeafData(ld)
	if err != nil {
		return nil, fmt.Errorf("event %d: %w", index, err)
	}
	var h agenttrailv1.EventHeader
	if err := proto.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header of event %d: %v", ErrCorrupt, index, err)
	}
	if h.GetEvent() == nil || h.GetReceivedAt() == nil {
		return nil, fmt.Errorf("%w: header of event %d lacks its event or received-at time", ErrCorrupt, index)
	}
	return &Entry{
		Index:         index,
		ReceivedAt:    h.GetReceivedAt().AsTime(),
		Principal:     h.GetPrincipal(),
		Header:        h.GetEvent(),
		HeaderBytes:   hb,
		ContentDigest: digest,
		LeafHash:      leafHash(ld),
	}, nil
}

// readContent adds the content and salt to an entry.
func readContent(txn *badger.Txn, e *Entry) error {
	item, err := txn.Get(contentKey(e.Index))
	if errors.Is(err, badger.ErrKeyNotFound) {
		if _, err := txn.Get(erasedKey(e.Index)); err == nil {
			e.ContentState = ContentErased
			return nil
		}
		return fmt.Errorf("%w: content of event %d is missing and was not erased", ErrCorrupt, e.Index)
	}
	if err != nil {
		return err
	}
	rec, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	salt, content, err := decodeContentRecord(rec)
	if err != nil {
		return fmt.Errorf("event %d: %w", e.Index, err)
	}
	e.Salt, e.Content, e.ContentState = salt, content, ContentPresent
	return nil
}

// LatestCheckpoint returns the newest signed checkpoint. Every committed
// event is covered by it within the checkpoint interval.
func (s *Store) LatestCheckpoint() Checkpoint { return s.head.Load().checkpoint }

// CheckpointAt returns the checkpoint signed at a tree size, or ErrNotFound
// when none was signed at exactly that size.
func (s *Store) CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	if err := s.readable(ctx); err != nil {
		return Checkpoint{}, err
	}
	var msg []byte
	err := s.view(func(txn *badger.Txn) error {
		var err error
		msg, err = getValue(txn, checkpointKey(size))
		return err
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint of size %d: %w", size, err)
	}
	return openCheckpoint(msg, s.verifier, s.origin)
}

// Checkpoints calls fn with every stored checkpoint in increasing size, until
// fn returns false.
func (s *Store) Checkpoints(ctx context.Context, fn func(Checkpoint) bool) error {
	if err := s.readable(ctx); err != nil {
		return err
	}
	return s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixCheckpoint}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			msg, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			cp, err := openCheckpoint(msg, s.verifier, s.origin)
			if err != nil {
				return err
			}
			if !fn(cp) {
				return nil
			}
		}
		return nil
	})
}

// InclusionProof proves that the event at index is in the tree of size
// treeSize: the RFC 6962 audit path, from the leaf's sibling up.
func (s *Store) InclusionProof(ctx context.Context, index, treeSize uint64) ([][hashSize]byte, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	if size, _ := s.Size(); treeSize > size {
		return nil, fmt.Errorf("%w: tree size %d is larger than the log (%d)", ErrInvalidArgument, treeSize, size)
	}
	if index >= treeSize {
		return nil, fmt.Errorf("%w: index %d is not in a tree of size %d", ErrInvalidArgument, index, treeSize)
	}
	p, err := tlog.ProveRecord(int64(treeSize), int64(index), s.hashes)
	if err != nil {
		return nil, fmt.Errorf("store: inclusion proof: %w", err)
	}
	return toArrays(p), nil
}

// ConsistencyProof proves that the tree of size from is a prefix of the
// tree of size to.
func (s *Store) ConsistencyProof(ctx context.Context, from, to uint64) ([][hashSize]byte, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	if size, _ := s.Size(); to > size {
		return nil, fmt.Errorf("%w: tree size %d is larger than the log (%d)", ErrInvalidArgument, to, size)
	}
	if from < 1 || from > to {
		return nil, fmt.Errorf("%w: consistency needs 1 <= from (%d) <= to (%d)", ErrInvalidArgument, from, to)
	}
	p, err := tlog.ProveTree(int64(to), int64(from), s.hashes)
	if err != nil {
		return nil, fmt.Errorf("store: consistency proof: %w", err)
	}
	return toArrays(p), nil
}

// RootAt returns the root hash of the tree of a size not larger than the
// log.
func (s *Store) RootAt(ctx context.Context, size uint64) ([hashSize]byte, error) {
	if err := s.readable(ctx); err != nil {
		return [hashSize]byte{}, err
	}
	if cur, root := s.Size(); size == cur {
		return root, nil
	} else if size > cur {
		return [hashSize]byte{}, fmt.Errorf("%w: tree size %d is larger than the log (%d)", ErrInvalidArgument, size, cur)
	}
	if size == 0 {
		return [hashSize]byte{}, nil
	}
	return tlog.TreeHash(int64(size), s.hashes)
}

func toArrays(hs []tlog.Hash) [][hashSize]byte {
	out := make([][hashSize]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}
