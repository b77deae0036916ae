package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store/event"
)

// Report is what a verification checked and the first disagreement it found.
type Report struct {
	// TreeSize is the size of the log, from its last committed batch.
	TreeSize uint64
	// From and To are the range of events whose bytes were re-read and
	// recomputed: [From, To).
	From, To uint64
	// Checkpoints is the number of signed checkpoints checked against the
	// recomputed tree.
	Checkpoints int
	// Problem is the first disagreement, by log index; nil when everything
	// agrees.
	Problem *Problem
}

// OK reports whether verification found nothing wrong.
func (r Report) OK() bool { return r.Problem == nil }

// Problem is a disagreement between stored bytes and the Merkle log.
type Problem struct {
	// Index is the first log index affected.
	Index uint64
	// Reason says what disagrees.
	Reason string
}

// Error implements error.
func (p *Problem) Error() string { return fmt.Sprintf("event %d: %s", p.Index, p.Reason) }

// Verify re-reads the events in [from, to) from the stored bytes (to = 0
// means the whole log), recomputes every leaf, content digest and tree hash,
// and checks them against the stored tree and every signed checkpoint and
// batch root up to to. Leaves below from are taken from the stored tree. The
// report names the first index where anything disagrees. The error is for
// failures to read at all.
func (s *Store) Verify(ctx context.Context, from, to uint64) (Report, error) {
	var rep Report
	err := s.view(func(txn *badger.Txn) error {
		var err error
		rep, err = verifyLog(ctx, txn, s.origin, s.verifier, from, to)
		return err
	})
	return rep, err
}

// VerifyDir verifies the store in dir offline, from its raw bytes: the store
// must not be open elsewhere (stop the server first). It opens the database
// read-only and does none of Open's own checks, so that a damaged store is
// reported, not refused. vkey is the note verifier key of the log's
// checkpoints; empty means the one derived from the signing key kept in dir.
func VerifyDir(ctx context.Context, dir, vkey string) (Report, error) {
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "events")).
		WithReadOnly(true).
		WithLogger(nil).
		WithMetricsEnabled(false).
		WithValueThreshold(1 << 10))
	if err != nil {
		return Report{}, fmt.Errorf("store: opening %s read-only (is the server stopped?): %w", dir, err)
	}
	defer db.Close()
	var rep Report
	err = db.View(func(txn *badger.Txn) error {
		origin, err := getValue(txn, metaOrigin)
		if err != nil {
			return fmt.Errorf("store: reading origin: %w", err)
		}
		var verifier note.Verifier
		if vkey != "" {
			if verifier, err = note.NewVerifier(vkey); err != nil {
				return fmt.Errorf("%w: verifier key: %v", ErrInvalidArgument, err)
			}
		} else {
			if _, verifier, _, err = loadSigner(dir, string(origin), "", false); err != nil {
				return err
			}
		}
		rep, err = verifyLog(ctx, txn, string(origin), verifier, 0, 0)
		return err
	})
	return rep, err
}

// verifyLog is the verification both Verify and VerifyDir run.
func verifyLog(ctx context.Context, txn *badger.Txn, origin string, verifier note.Verifier, from, to uint64) (Report, error) {
	size, _, err := latestSize(txn)
	if err != nil {
		return Report{}, err
	}
	if to == 0 || to > size {
		to = size
	}
	rep := Report{TreeSize: size, From: min(from, to), To: to}
	from = rep.From
	bad := func(i uint64, format string, a ...any) (Report, error) {
		rep.Problem = &Problem{Index: i, Reason: fmt.Sprintf(format, a...)}
		return rep, nil
	}

	fr := &frontier{}
	if from > 0 {
		// The tree below from comes from the stored hashes.
		r := newStoredHashReader(func(fn func(*badger.Txn) error) error { return fn(txn) })
		if fr, err = loadFrontier(r, from); err != nil {
			return bad(from, "the stored tree below this event is unreadable: %v", err)
		}
	}
	stored, err := newSequentialHashes(txn, uint64(tlog.StoredHashIndex(0, int64(from))))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Report{}, err
	}
	defer stored.close()

	roots := newSizeRoots(txn, origin, verifier)
	defer roots.close()
	if err := roots.skipTo(from); err != nil {
		return bad(from, "%v", err)
	}

	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte{prefixRecord}
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Seek(recordKey(from))
	for i := from; i < to; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Report{}, err
			}
		}
		if !it.Valid() || keyIndex(it.Item().Key()) != i {
			return bad(i, "the event's record is missing")
		}
		ld, err := it.Item().ValueCopy(nil)
		if err != nil {
			return Report{}, err
		}
		it.Next()
		e, err := decodeEntry(i, ld)
		if err != nil {
			return bad(i, "the event's record does not decode: %v", err)
		}
		if event.KindOf(e.Header) == 0 {
			return bad(i, "the event's header has no payload")
		}
		want, err := fr.add(e.LeafHash)
		if err != nil {
			return Report{}, err
		}
		got, err := stored.read(uint64(tlog.StoredHashIndex(0, int64(i))), len(want))
		if err != nil {
			return bad(i, "the stored tree hashes of the event are unreadable: %v", err)
		}
		if got[0] != want[0] {
			return bad(i, "the event's leaf hash differs from the stored tree: its header or digest was changed")
		}
		for l := 1; l < len(want); l++ {
			if got[l] != want[l] {
				return bad(i, "stored tree hash at level %d differs from the recomputed one", l)
			}
		}
		if err := readContent(txn, e); err != nil {
			return bad(i, "%v", err)
		}
		if e.ContentState == ContentPresent && contentDigest(e.Salt, e.Content) != e.ContentDigest {
			return bad(i, "the event's content does not match its committed digest")
		}
		idVal, err := getValue(txn, idKey(e.EventID()))
		if err != nil {
			return bad(i, "the event id index has no entry for this event")
		}
		if at, err := decodeU64(idVal); err != nil || at != i {
			return bad(i, "the event id index points to %d, not to this event", at)
		}
		if err := roots.check(i+1, fr, &rep); err != nil {
			return bad(roots.lastGood, "%v", err)
		}
	}
	if to == size {
		if it.Valid() {
			return bad(keyIndex(it.Item().Key()), "a record exists beyond the tree size %d", size)
		}
		if err := roots.finish(); err != nil {
			return bad(roots.lastGood, "%v", err)
		}
	}
	return rep, nil
}

// sequentialHashes reads stored tree hashes in increasing index order from
// the hash bundles.
type sequentialHashes struct {
	it    *badger.Iterator
	first uint64
	hs    []tlog.Hash
}

// newSequentialHashes starts reading at the bundle that holds stored hash
// index start.
func newSequentialHashes(txn *badger.Txn, start uint64) (*sequentialHashes, error) {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte{prefixHashes}
	it := txn.NewIterator(opts)
	r := &sequentialHashes{it: it}
	key, _, err := seekFloor(txn, prefixHashes, start)
	if err != nil {
		it.Rewind()
		return r, err
	}
	it.Seek(key)
	if it.Valid() {
		r.first = keyIndex(key) // the bundle at key is the next one read
	}
	return r, nil
}

func (r *sequentialHashes) read(idx uint64, n int) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, n)
	for len(out) < n {
		for idx+uint64(len(out)) >= r.first+uint64(len(r.hs)) {
			if !r.it.Valid() {
				return nil, fmt.Errorf("%w: tree hash %d is not stored", ErrNotFound, idx)
			}
			key := r.it.Item().Key()
			if len(key) != 9 {
				return nil, fmt.Errorf("%w: hash bundle key", ErrCorrupt)
			}
			first := keyIndex(key)
			if first != r.first+uint64(len(r.hs)) {
				return nil, fmt.Errorf("%w: hash bundles jump from %d to %d", ErrCorrupt, r.first+uint64(len(r.hs)), first)
			}
			val, err := r.it.Item().ValueCopy(nil)
			if err != nil {
				return nil, err
			}
			hs, err := decodeHashes(val)
			if err != nil {
				return nil, err
			}
			r.first, r.hs = first, hs
			r.it.Next()
		}
		if idx+uint64(len(out)) < r.first {
			return nil, fmt.Errorf("%w: tree hash %d read out of order", ErrInvalidArgument, idx)
		}
		out = append(out, r.hs[idx+uint64(len(out))-r.first])
	}
	return out, nil
}

func (r *sequentialHashes) close() { r.it.Close() }

// sizeRoots walks the batch roots ('S') and signed checkpoints ('K') in size
// order, checking each against the recomputed tree as verification reaches
// its size.
type sizeRoots struct {
	sizes, cps *badger.Iterator
	origin     string
	verifier   note.Verifier
	lastGood   uint64 // the largest size whose root matched
}

func newSizeRoots(txn *badger.Txn, origin string, verifier note.Verifier) *sizeRoots {
	open := func(p byte) *badger.Iterator {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{p}
		it := txn.NewIterator(opts)
		it.Rewind()
		return it
	}
	return &sizeRoots{sizes: open(prefixSize), cps: open(prefixCheckpoint), origin: origin, verifier: verifier}
}

// skipTo passes over roots of sizes up to from, which a range verification
// does not recompute.
func (r *sizeRoots) skipTo(from uint64) error {
	for _, it := range []*badger.Iterator{r.sizes, r.cps} {
		for it.Valid() && keyIndex(it.Item().Key()) <= from {
			it.Next()
		}
	}
	r.lastGood = from
	return nil
}

// check compares the roots recorded at size n, if any, with the frontier.
func (r *sizeRoots) check(n uint64, fr *frontier, rep *Report) error {
	var root tlog.Hash
	computed := false
	compute := func() (tlog.Hash, error) {
		if !computed {
			var err error
			if root, err = fr.root(); err != nil {
				return root, err
			}
			computed = true
		}
		return root, nil
	}
	if r.sizes.Valid() && keyIndex(r.sizes.Item().Key()) == n {
		val, err := r.sizes.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		want, err := compute()
		if err != nil {
			return err
		}
		if len(val) != hashSize || tlog.Hash(val) != want {
			return fmt.Errorf("the recorded root of the tree of size %d differs from the recomputed one (first bad event in [%d, %d))", n, r.lastGood, n)
		}
		r.sizes.Next()
	}
	if r.cps.Valid() && keyIndex(r.cps.Item().Key()) == n {
		msg, err := r.cps.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		cp, err := openCheckpoint(msg, r.verifier, r.origin)
		if err != nil {
			return fmt.Errorf("the checkpoint of size %d does not verify: %v", n, err)
		}
		want, err := compute()
		if err != nil {
			return err
		}
		if cp.Size != n || cp.Root != want {
			return fmt.Errorf("the signed checkpoint of size %d does not match the recomputed tree (first bad event in [%d, %d))", n, r.lastGood, n)
		}
		rep.Checkpoints++
		r.cps.Next()
	}
	if computed {
		r.lastGood = n
	}
	return nil
}

// finish reports roots or checkpoints of sizes beyond the tree.
func (r *sizeRoots) finish() error {
	if r.sizes.Valid() {
		return fmt.Errorf("a batch root is recorded for size %d, beyond the tree", keyIndex(r.sizes.Item().Key()))
	}
	if r.cps.Valid() {
		return fmt.Errorf("a checkpoint is stored for size %d, beyond the tree", keyIndex(r.cps.Item().Key()))
	}
	return nil
}

func (r *sizeRoots) close() {
	r.sizes.Close()
	r.cps.Close()
}
