package store

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store/commitment"
	"github.com/agenttrail/agenttrail/store/event"
)

// ReadMode chooses what a read returns of each event.
type ReadMode int

const (
	// HeaderOnly reads the header and commitment, not the content.
	HeaderOnly ReadMode = iota
	// HeaderAndContent also reads the content and its salt.
	HeaderAndContent
)

// Get returns the event at a log index.
func (s *Store) Get(ctx context.Context, index uint64, mode ReadMode) (*Entry, error) {
	var e *Entry
	err := s.reading(ctx, func() error {
		var err error
		e, err = s.readEntry(ctx, index, mode == HeaderAndContent)
		return err
	})
	return e, err
}

// GetByID returns the event with an event id.
func (s *Store) GetByID(ctx context.Context, eventID string, mode ReadMode) (*Entry, error) {
	if eventID == "" || len(eventID) > 1024 {
		return nil, fmt.Errorf("%w: event id", ErrInvalidArgument)
	}
	var e *Entry
	err := s.reading(ctx, func() error {
		found, err := s.d.LookupIDs(ctx, []string{eventID})
		if err != nil {
			return err
		}
		index, ok := found[eventID]
		if !ok {
			return fmt.Errorf("event id: %w", ErrNotFound)
		}
		e, err = s.readEntry(ctx, index, mode == HeaderAndContent)
		return err
	})
	return e, err
}

// readEntry reads the event at index, and its content when asked.
func (s *Store) readEntry(ctx context.Context, index uint64, withContent bool) (*Entry, error) {
	raws, err := s.d.ReadEntries(ctx, []uint64{index}, withContent)
	if err != nil {
		return nil, err
	}
	if len(raws) != 1 {
		return nil, fmt.Errorf("%w: asked for one entry, the driver returned %d", ErrCorrupt, len(raws))
	}
	return s.decodeEntry(ctx, raws[0], withContent)
}

// decodeEntry decodes an event's stored records, and its content when asked
// and not erased.
func (s *Store) decodeEntry(ctx context.Context, r RawEntry, withContent bool) (*Entry, error) {
	return s.decodeEntryWith(ctx, r, withContent, nil)
}

// decodeEntryWith is decodeEntry for the entries of a scan, whose contents
// op opens (nil: a one-off).
func (s *Store) decodeEntryWith(ctx context.Context, r RawEntry, withContent bool, op *contentOpener) (*Entry, error) {
	e, err := decodeHeader(r)
	if err != nil {
		return nil, err
	}
	if err := s.fillContent(ctx, e, r, withContent, subjectOf(e.Header), op); err != nil {
		return nil, err
	}
	return e, nil
}

// fillContent fills in the content of an entry whose header is decoded
// (subj is the subject its header names), or when the content is not read,
// whether it was erased. op, when not nil, opens the content.
func (s *Store) fillContent(ctx context.Context, e *Entry, r RawEntry, withContent bool, subj subject, op *contentOpener) error {
	if !withContent {
		// Erasure shows in every view, the metadata view too.
		if by, ok := s.cov.erasedBy(e.Index); ok {
			e.ContentState, e.ErasedBy = ContentErased, by
		}
		return nil
	}
	return s.content.openWith(ctx, e, r, subj, op)
}

// decodeLean is decodeEntry for a scan whose caller does without the
// decoded header (Query.LeanHeader) and whose filter names ids alone
// (Filter.idsOnly): the header is split and its ids read where they lie
// (commitment.SplitHeader, event.HeaderIDs, which accept only what decodes
// to the same values), and Header stays nil. A header they do not accept is
// decoded, as decodeEntry does. match reports whether the entry matches
// the filter. sc keeps what the entries of one scan share.
func (s *Store) decodeLean(ctx context.Context, r RawEntry, withContent bool, f *Filter, sc *scanCache) (e *Entry, match bool, err error) {
	hb, digest, err := commitment.ParseLeafData(r.LeafData)
	if err != nil {
		return nil, false, fmt.Errorf("%w: event %d: %w", ErrCorrupt, r.Index, err)
	}
	evb, receivedAt, principal, ok := commitment.SplitHeader(hb)
	var ids event.IDs
	if ok {
		ids, ok = event.HeaderIDs(evb)
	}
	if !ok {
		if e, err = s.decodeEntryWith(ctx, r, withContent, sc.op); err != nil {
			return nil, false, err
		}
		return e, f.matches(e.Header), nil
	}
	e = &Entry{
		Index:         r.Index,
		ReceivedAt:    receivedAt,
		Principal:     sc.principalOf(principal),
		HeaderBytes:   hb,
		ContentDigest: digest,
		LeafHash:      commitment.HashLeafData(r.LeafData),
	}
	var subj subject
	if sc.op != nil {
		subj = sc.op.subjectOfIDs(ids)
	} else {
		subj = subjectOfIDs(ids)
	}
	if err := s.fillContent(ctx, e, r, withContent, subj, sc.op); err != nil {
		return nil, false, err
	}
	return e, f.matchesIDs(ids), nil
}

// scanCache is what the entries of one scan share, kept from one entry to
// the next by the goroutine that decodes them.
type scanCache struct {
	op        *contentOpener // opens contents; nil: a plaintext store, or headers only
	principal string         // the last entry's
}

// principalOf returns b as a string, the last one's when it is the same.
func (sc *scanCache) principalOf(b []byte) string {
	if sc.principal != string(b) {
		sc.principal = string(b)
	}
	return sc.principal
}

// decodeHeader decodes an event's leaf data. The entry's HeaderBytes alias
// the leaf data.
func decodeHeader(r RawEntry) (*Entry, error) {
	hb, digest, err := commitment.ParseLeafData(r.LeafData)
	if err != nil {
		return nil, fmt.Errorf("%w: event %d: %w", ErrCorrupt, r.Index, err)
	}
	h, err := commitment.DecodeHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("%w: event %d: %w", ErrCorrupt, r.Index, err)
	}
	return &Entry{
		Index:         r.Index,
		ReceivedAt:    h.GetReceivedAt().AsTime(),
		Principal:     h.GetPrincipal(),
		Header:        h.GetEvent(),
		HeaderBytes:   hb,
		ContentDigest: digest,
		LeafHash:      commitment.HashLeafData(r.LeafData),
	}, nil
}

// contentReader reads content records: in the clear (format v1), or
// decrypted with the keyring (format v2), unless a logged erasure covers
// the event.
type contentReader struct {
	keys *keyring // nil: a plaintext store
	// erased is what this store's own erasures and retention runs erased
	// (they logged their intent): such content is erased from the moment
	// the event commits, before its keys are gone. claims is what every
	// Erasure and Retention event of the log names: content named there
	// whose key is missing is erased. Both nil in verification, which
	// checks the claims itself.
	erased, claims *coverage
	// refreshClaims, when set (storage other servers write too), reads
	// the claims of erasures other servers logged since it last looked.
	refreshClaims func(context.Context)
}

// open fills in the content of an entry from its records.
func (c contentReader) open(ctx context.Context, e *Entry, r RawEntry) error {
	return c.openAs(ctx, e, r, subjectOf(e.Header))
}

// openAs is open for an entry of the subject subj, which its header names.
func (c contentReader) openAs(ctx context.Context, e *Entry, r RawEntry, subj subject) error {
	return c.openWith(ctx, e, r, subj, nil)
}

// openWith is openAs with op, when not nil, to decrypt (one of c.keys's).
func (c contentReader) openWith(ctx context.Context, e *Entry, r RawEntry, subj subject, op *contentOpener) error {
	if c.erased != nil {
		if by, ok := c.erased.erasedBy(e.Index); ok {
			e.ContentState, e.ErasedBy = ContentErased, by
			return nil
		}
	}
	switch {
	case r.Erased && r.Content == nil:
		e.ContentState = ContentErased
		return nil
	case r.Content == nil:
		return fmt.Errorf("%w: content of event %d is missing and was not erased", ErrCorrupt, r.Index)
	}
	switch v := r.Content[0]; {
	case v == contentRecordVersion && c.keys == nil:
		salt, content, err := decodeContentRecord(r.Content)
		if err != nil {
			return fmt.Errorf("event %d: %w", r.Index, err)
		}
		e.Salt, e.Content = salt, content
	case v == contentRecordVersionEncrypted && c.keys != nil:
		if op == nil {
			op = &contentOpener{k: c.keys} // a one-off read
		}
		salt, content, err := op.decrypt(ctx, r.Index, subj, r.Content, r.ContentKey)
		if errors.Is(err, errKeyMissing) && c.claims != nil {
			by, ok := c.claims.erasedBy(e.Index)
			if !ok && c.refreshClaims != nil {
				c.refreshClaims(ctx)
				by, ok = c.claims.erasedBy(e.Index)
			}
			if ok {
				e.ContentState, e.ErasedBy = ContentErased, by
				return nil
			}
		}
		if errors.Is(err, errKeyMissing) {
			return fmt.Errorf("%w: %w: the key of event %d's content is not in the keyring, and no logged erasure names the event", ErrCorrupt, errKeyMissing, r.Index)
		}
		if err != nil {
			return fmt.Errorf("event %d: %w", r.Index, err)
		}
		e.Salt, e.Content = salt, content
	case v == contentRecordVersion:
		return fmt.Errorf("%w: event %d has a plaintext content record in an encrypted store", ErrCorrupt, r.Index)
	case v == contentRecordVersionEncrypted:
		return fmt.Errorf("%w: event %d has an encrypted content record in a plaintext store", ErrCorrupt, r.Index)
	default:
		return fmt.Errorf("%w: content record version %d of event %d", ErrCorrupt, v, r.Index)
	}
	e.ContentState = ContentPresent
	return nil
}

// LatestCheckpoint returns the newest signed checkpoint. Every committed
// event is covered by it within the checkpoint interval.
func (s *Store) LatestCheckpoint() Checkpoint { return s.head.Load().checkpoint }

// CheckpointAt returns the checkpoint signed at a tree size, or ErrNotFound
// when none was signed at exactly that size.
func (s *Store) CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error) {
	var cp Checkpoint
	err := s.reading(ctx, func() error {
		msg, err := s.d.Checkpoint(ctx, size)
		if err != nil {
			return fmt.Errorf("checkpoint of size %d: %w", size, err)
		}
		cp, err = s.openCheckpoint(msg)
		return err
	})
	return cp, err
}

// Checkpoints calls fn with every stored checkpoint in increasing size, until
// fn returns false.
func (s *Store) Checkpoints(ctx context.Context, fn func(Checkpoint) bool) error {
	return s.reading(ctx, func() error {
		for sc, err := range s.d.Checkpoints(ctx, 0) {
			if err != nil {
				return err
			}
			cp, err := s.openCheckpoint(sc.Note)
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
func (s *Store) InclusionProof(ctx context.Context, index, treeSize uint64) ([][HashSize]byte, error) {
	if size, _ := s.Size(); treeSize > size {
		return nil, fmt.Errorf("%w: tree size %d is larger than the log (%d)", ErrInvalidArgument, treeSize, size)
	}
	if index >= treeSize {
		return nil, fmt.Errorf("%w: index %d is not in a tree of size %d", ErrInvalidArgument, index, treeSize)
	}
	var p tlog.RecordProof
	err := s.reading(ctx, func() error {
		var err error
		p, err = tlog.ProveRecord(int64(treeSize), int64(index), s.hashes)
		return err
	})
	if err != nil {
		return nil, proofError("inclusion proof", err)
	}
	return toArrays(p), nil
}

// ConsistencyProof proves that the tree of size from is a prefix of the
// tree of size to.
func (s *Store) ConsistencyProof(ctx context.Context, from, to uint64) ([][HashSize]byte, error) {
	if size, _ := s.Size(); to > size {
		return nil, fmt.Errorf("%w: tree size %d is larger than the log (%d)", ErrInvalidArgument, to, size)
	}
	if from < 1 || from > to {
		return nil, fmt.Errorf("%w: consistency needs 1 <= from (%d) <= to (%d)", ErrInvalidArgument, from, to)
	}
	var p tlog.TreeProof
	err := s.reading(ctx, func() error {
		var err error
		p, err = tlog.ProveTree(int64(to), int64(from), s.hashes)
		return err
	})
	if err != nil {
		return nil, proofError("consistency proof", err)
	}
	return toArrays(p), nil
}

// proofError keeps the store's sentinels of a failed proof and names it.
func proofError(what string, err error) error {
	if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// RootAt returns the root hash of the tree of a size not larger than the
// log.
func (s *Store) RootAt(ctx context.Context, size uint64) ([HashSize]byte, error) {
	cur, root := s.Size()
	switch {
	case size == cur:
		return root, nil
	case size > cur:
		return [HashSize]byte{}, fmt.Errorf("%w: tree size %d is larger than the log (%d)", ErrInvalidArgument, size, cur)
	case size == 0:
		return [HashSize]byte{}, nil
	}
	var h tlog.Hash
	err := s.reading(ctx, func() error {
		var err error
		h, err = tlog.TreeHash(int64(size), s.hashes)
		return err
	})
	return h, err
}

func toArrays(hs []tlog.Hash) [][HashSize]byte {
	out := make([][HashSize]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// TileHeight is the height of the tiles ReadTile serves: C2SP tlog-tiles
// tiles of 256 hashes.
const TileHeight = 8

// ReadTile returns the hashes of a C2SP tlog-tiles hash tile of the tree the
// latest checkpoint covers: width hashes (1 to 256) of level level (each the
// root of a subtree of 256^level leaves), starting at hash index*256 of that
// level, 32 bytes each. A tile beyond that tree is ErrNotFound.
func (s *Store) ReadTile(ctx context.Context, level, index uint64, width int) ([]byte, error) {
	size := s.LatestCheckpoint().Size
	if width < 1 || width > 1<<TileHeight || level > 7 {
		return nil, fmt.Errorf("%w: tile level %d width %d", ErrInvalidArgument, level, width)
	}
	nodes := size >> (TileHeight * level) // hashes at this tile level
	if index >= 1<<56 || index<<TileHeight+uint64(width) > nodes {
		return nil, fmt.Errorf("%w: tile %d/%d of width %d is beyond the tree of %d events", ErrNotFound, level, index, width, size)
	}
	var data []byte
	err := s.reading(ctx, func() error {
		var err error
		data, err = tlog.ReadTileData(tlog.Tile{H: TileHeight, L: int(level), N: int64(index), W: width}, s.hashes)
		return err
	})
	return data, err
}

// Prover proves the inclusion of many entries in one tree size, for a
// caller that walks a range of the log (an export, an online verification).
// Proofs of neighbouring leaves share almost all their hashes: a Prover
// reads the stored hashes of the leaves' whole block of [proverBlock] once
// (one driver read, where proving leaf after leaf on its own reads a hash
// bundle per leaf) and keeps it while the proofs stay in it. Higher-level
// hashes come through the store's cache of tree hashes as for
// [Store.InclusionProof], whose proofs a Prover's are, byte for byte.
// A Prover is for one goroutine.
type Prover struct {
	s    *Store
	size uint64
	// The block held: the stored hashes of leaves [lo, hi), whose stored
	// hash indexes are [first, first+len(block)).
	lo, hi uint64
	first  int64
	block  []tlog.Hash
}

// proverBlock is how many leaves' stored hashes a Prover reads at once: a
// tile's width, so that a block is 511 hashes (16 KiB).
const proverBlock = 256

// Prover returns a Prover against the tree of size treeSize.
func (s *Store) Prover(treeSize uint64) (*Prover, error) {
	if size, _ := s.Size(); treeSize > size {
		return nil, fmt.Errorf("%w: tree size %d is larger than the log (%d)", ErrInvalidArgument, treeSize, size)
	}
	if treeSize == 0 {
		return nil, fmt.Errorf("%w: an empty tree proves nothing", ErrInvalidArgument)
	}
	return &Prover{s: s, size: treeSize}, nil
}

// TreeSize is the size of the tree the Prover proves against.
func (p *Prover) TreeSize() uint64 { return p.size }

// InclusionProof is [Store.InclusionProof] of index in the Prover's tree.
func (p *Prover) InclusionProof(ctx context.Context, index uint64) ([][HashSize]byte, error) {
	if index >= p.size {
		return nil, fmt.Errorf("%w: index %d is not in a tree of size %d", ErrInvalidArgument, index, p.size)
	}
	var proof tlog.RecordProof
	err := p.s.reading(ctx, func() error {
		if index < p.lo || index >= p.hi {
			if err := p.load(ctx, index); err != nil {
				return err
			}
		}
		var err error
		proof, err = tlog.ProveRecord(int64(p.size), int64(index), p)
		return err
	})
	if err != nil {
		return nil, proofError("inclusion proof", err)
	}
	return toArrays(proof), nil
}

// load reads the stored hashes of the block of leaves that holds index:
// every stored hash that appending those leaves wrote, a contiguous range
// of stored hash indexes, all present since the leaves are in the tree.
func (p *Prover) load(ctx context.Context, index uint64) error {
	lo := index - index%proverBlock
	hi := min(lo+proverBlock, p.size)
	first, end := tlog.StoredHashIndex(0, int64(lo)), tlog.StoredHashIndex(0, int64(hi))
	idxs := make([]int64, end-first)
	for i := range idxs {
		idxs[i] = first + int64(i)
	}
	hs, err := p.s.d.ReadHashes(ctx, idxs)
	if err != nil {
		return err
	}
	if len(hs) != len(idxs) {
		return fmt.Errorf("%w: asked for %d tree hashes, the driver returned %d", ErrCorrupt, len(idxs), len(hs))
	}
	p.block = p.block[:0]
	for _, h := range hs {
		p.block = append(p.block, tlog.Hash(h))
	}
	p.lo, p.hi, p.first = lo, hi, first
	return nil
}

// ReadHashes implements tlog.HashReader: from the block held, and through
// the store's cache of tree hashes for the others.
func (p *Prover) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	var at []int
	for i, idx := range indexes {
		if k := idx - p.first; idx >= p.first && k < int64(len(p.block)) {
			out[i] = p.block[k]
			continue
		}
		missing = append(missing, idx)
		at = append(at, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	hs, err := p.s.hashes.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	for k, h := range hs {
		out[at[k]] = h
	}
	return out, nil
}
