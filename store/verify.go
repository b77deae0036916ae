package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
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
	err := s.reading(ctx, func() error {
		var err error
		rep, err = verifyLog(ctx, s.d, s.verifier, contentReader{keys: s.keys}, from, to)
		return err
	})
	return rep, err
}

// VerifyStorage verifies the log in a storage URL offline, from its raw
// bytes, without running the engine: the storage is opened read-only and
// must not be in use by a server that holds it exclusively (stop a Badger
// server first). None of Open's checks run, so that damage is reported, not
// refused. verifierKey is the note verifier key of the log's checkpoints.
//
// Encrypted storage needs its master key (WithMasterKey or
// WithMasterKeyFile, which is then only read); other options are ignored.
// Storage written in the clear by older builds needs none.
func VerifyStorage(ctx context.Context, storeURL, verifierKey string, opts ...Option) (Report, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o.apply(&cfg); err != nil {
			return Report{}, err
		}
	}
	mk := cfg.masterKey
	if mk.IsZero() && cfg.masterKeyFile != "" {
		k, err := ReadMasterKeyFile(cfg.masterKeyFile)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Report{}, err
		}
		mk = k
	}
	d, err := OpenDriver(ctx, storeURL, DriverConfig{ReadOnly: true, EncryptionKey: mk.StorageKey()})
	if errors.Is(err, ErrPlaintext) {
		mk = MasterKey{}
		d, err = OpenDriver(ctx, storeURL, DriverConfig{ReadOnly: true})
	}
	if err != nil {
		if errors.Is(err, ErrWrongKey) && mk.IsZero() {
			return Report{}, fmt.Errorf("store: %s is encrypted: give its master key (%w)", redactURL(storeURL), err)
		}
		return Report{}, fmt.Errorf("store: opening %s read-only (is the server stopped?): %w", redactURL(storeURL), err)
	}
	defer d.Close()
	st, err := d.Load(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("store: reading the log's state: %w", err)
	}
	if st.Origin == "" {
		return Report{}, fmt.Errorf("%w: no log is stored there (no origin recorded)", ErrNotFound)
	}
	v, err := commitment.NewCheckpointVerifier(verifierKey, st.Origin)
	if err != nil {
		return Report{}, fmt.Errorf("%w: verifier key: %v", ErrInvalidArgument, err)
	}
	var cr contentReader
	switch st.Format {
	case FormatPlaintext:
	case FormatVersion:
		if mk.IsZero() {
			return Report{}, fmt.Errorf("%w: the log's content is encrypted: give its master key", ErrWrongKey)
		}
		if cr.keys, err = newKeyring(d, mk, nil); err != nil {
			return Report{}, err
		}
		if err := cr.keys.checkMaster(ctx, false); err != nil {
			return Report{}, err
		}
	default:
		return Report{}, fmt.Errorf("%w: stored format %q, this build reads %q and %q", ErrCorrupt, st.Format, FormatVersion, FormatPlaintext)
	}
	return verifyLog(ctx, d, v, cr, 0, 0)
}

// verifyLog is the verification both Verify and VerifyStorage run.
func verifyLog(ctx context.Context, d Driver, v *commitment.CheckpointVerifier, cr contentReader, from, to uint64) (Report, error) {
	st, err := d.Load(ctx)
	if err != nil {
		return Report{}, err
	}
	size := st.Size
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
		if fr, err = loadFrontier(newHashReader(d), from); err != nil {
			return bad(from, "the stored tree below this event is unreadable: %v", err)
		}
	}
	roots := newSizeRoots(ctx, d, v, from)
	defer roots.close()

	// The id index is checked a chunk of events at a time; a problem found
	// later in the chunk is reported only after the chunk's ids, so that
	// the first bad index is the one named.
	const chunk = 256
	var ids []string
	var idIndexes []uint64
	checkIDs := func() (*Problem, error) {
		if len(ids) == 0 {
			return nil, nil
		}
		found, err := d.LookupIDs(ctx, ids)
		if err != nil {
			return nil, err
		}
		for k, id := range ids {
			at, ok := found[id]
			switch {
			case !ok:
				return &Problem{Index: idIndexes[k], Reason: "the event id index has no entry for this event"}, nil
			case at != idIndexes[k]:
				return &Problem{Index: idIndexes[k], Reason: fmt.Sprintf("the event id index points to %d, not to this event", at)}, nil
			}
		}
		ids, idIndexes = ids[:0], idIndexes[:0]
		return nil, nil
	}
	fail := func(i uint64, format string, a ...any) (Report, error) {
		p, err := checkIDs()
		if err != nil {
			return Report{}, err
		}
		if p != nil {
			rep.Problem = p
			return rep, nil
		}
		return bad(i, format, a...)
	}

	var missing []uint64  // indexes whose content is gone
	var erasures coverage // what the Erasure and Retention events verified so far name
	present := bitset{}   // indexes from from whose content is readable
	next, stop := iter.Pull2(d.Scan(ctx, ScanRequest{Filter: &Filter{}, Lo: from, Hi: ^uint64(0), Content: true}))
	defer stop()
	var hashes []tlog.Hash // stored hashes, from stored-hash index hashesFirst on
	hashesFirst := tlog.StoredHashIndex(0, int64(from))
	readHashes := func(lo, hi int64) error {
		idxs := make([]int64, 0, hi-lo)
		for k := lo; k < hi; k++ {
			idxs = append(idxs, k)
		}
		got, err := d.ReadHashes(ctx, idxs)
		if err != nil {
			return err
		}
		for _, h := range got {
			hashes = append(hashes, h)
		}
		return nil
	}
	for i := from; i < to; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Report{}, err
			}
		}
		raw, err, ok := next()
		switch {
		case ok && err != nil:
			return fail(i, "the event's records are unreadable: %v", err)
		case !ok || raw.Index > i:
			return fail(i, "the event's record is missing")
		case raw.Index < i:
			return fail(raw.Index, "the event's record is out of order")
		}
		e, err := decodeHeader(raw)
		if err != nil {
			return fail(i, "the event's record does not decode: %v", err)
		}
		contentErr := cr.open(ctx, e, raw)
		if contentErr != nil && !errors.Is(contentErr, ErrCorrupt) {
			return Report{}, contentErr
		}
		if event.KindOf(e.Header) == 0 {
			return fail(i, "the event's header has no payload")
		}
		want, err := fr.add(e.LeafHash)
		if err != nil {
			return Report{}, err
		}
		first := tlog.StoredHashIndex(0, int64(i))
		end := first + int64(len(want))
		if have := hashesFirst + int64(len(hashes)); end > have {
			// Read the stored hashes of the next chunk of events at once;
			// when that fails, read only this event's, to name it.
			last := max(end, tlog.StoredHashIndex(0, int64(min(i+chunk, to))))
			if err := readHashes(have, last); err != nil {
				if err := readHashes(have, end); err != nil {
					return fail(i, "the stored tree hashes of the event are unreadable: %v", err)
				}
			}
		}
		got := hashes[first-hashesFirst:]
		if got[0] != want[0] {
			return fail(i, "the event's leaf hash differs from the stored tree: its header or digest was changed")
		}
		for l := 1; l < len(want); l++ {
			if got[l] != want[l] {
				return fail(i, "stored tree hash at level %d differs from the recomputed one", l)
			}
		}
		hashes, hashesFirst = hashes[end-hashesFirst:], end // no later event needs them
		switch {
		case errors.Is(contentErr, errKeyMissing), contentErr == nil && e.ContentState == ContentErased:
			// Accepted only where a later Erasure or Retention event
			// names it: checked once they are all known.
			missing = append(missing, i)
		case contentErr != nil:
			return fail(i, "%v", contentErr)
		case commitment.ContentDigest(e.Salt, e.Content) != e.ContentDigest:
			return fail(i, "the event's content does not match its committed digest")
		default:
			present.set(i - from)
		}
		if rs, ok := erasedIndexes(e.Header); ok {
			if n := len(rs); n > 0 && rs[n-1].Last >= i {
				return fail(i, "the erasure or retention event names index %d, which is not before it", rs[n-1].Last)
			}
			erasures.add(i, rs)
		}
		ids, idIndexes = append(ids, e.EventID()), append(idIndexes, i)
		if len(ids) == chunk {
			if p, err := checkIDs(); err != nil || p != nil {
				rep.Problem = p
				return rep, err
			}
		}
		if err := roots.check(i+1, fr, &rep); err != nil {
			return fail(roots.lastGood, "%v", err)
		}
	}
	if p, err := checkIDs(); err != nil || p != nil {
		rep.Problem = p
		return rep, err
	}
	if p, err := checkErasures(ctx, d, from, to, size, missing, &erasures, present); err != nil || p != nil {
		rep.Problem = p
		return rep, err
	}
	if to == size {
		if raw, err, ok := next(); ok {
			if err != nil {
				return bad(size, "the records beyond the tree size are unreadable: %v", err)
			}
			return bad(raw.Index, "a record exists beyond the tree size %d", size)
		}
		if err := roots.finish(); err != nil {
			return bad(roots.lastGood, "%v", err)
		}
	}
	return rep, nil
}

// sizeRoots walks the batch roots and signed checkpoints in size order,
// checking each against the recomputed tree as verification reaches its
// size.
type sizeRoots struct {
	v        *commitment.CheckpointVerifier
	roots    func() (TreeRoot, error, bool)
	cps      func() (StoredCheckpoint, error, bool)
	stops    []func()
	root     *TreeRoot
	cp       *StoredCheckpoint
	err      error
	lastGood uint64 // the largest size whose root matched
}

func newSizeRoots(ctx context.Context, d Driver, v *commitment.CheckpointVerifier, from uint64) *sizeRoots {
	r := &sizeRoots{v: v, lastGood: from}
	var stopRoots, stopCps func()
	r.roots, stopRoots = iter.Pull2(d.Roots(ctx, from))
	r.cps, stopCps = iter.Pull2(d.Checkpoints(ctx, from))
	r.stops = []func(){stopRoots, stopCps}
	r.advanceRoot()
	r.advanceCheckpoint()
	return r
}

func (r *sizeRoots) advanceRoot() {
	r.root = nil
	if tr, err, ok := r.roots(); ok {
		if err != nil {
			r.err = errors.Join(r.err, err)
			return
		}
		r.root = &tr
	}
}

func (r *sizeRoots) advanceCheckpoint() {
	r.cp = nil
	if c, err, ok := r.cps(); ok {
		if err != nil {
			r.err = errors.Join(r.err, err)
			return
		}
		r.cp = &c
	}
}

// check compares the roots recorded at size n, if any, with the frontier.
func (r *sizeRoots) check(n uint64, fr *frontier, rep *Report) error {
	if r.err != nil {
		return fmt.Errorf("the recorded roots and checkpoints are unreadable: %v", r.err)
	}
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
	if r.root != nil && r.root.Size == n {
		want, err := compute()
		if err != nil {
			return err
		}
		if r.root.Root != want {
			return fmt.Errorf("the recorded root of the tree of size %d differs from the recomputed one (first bad event in [%d, %d))", n, r.lastGood, n)
		}
		r.advanceRoot()
	}
	if r.cp != nil && r.cp.Size == n {
		cp, err := openCheckpoint(r.v, r.cp.Note)
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
		r.advanceCheckpoint()
	}
	if computed {
		r.lastGood = n
	}
	return nil
}

// finish reports roots or checkpoints of sizes beyond the tree.
func (r *sizeRoots) finish() error {
	if r.err != nil {
		return fmt.Errorf("the recorded roots and checkpoints are unreadable: %v", r.err)
	}
	if r.root != nil {
		return fmt.Errorf("a batch root is recorded for size %d, beyond the tree", r.root.Size)
	}
	if r.cp != nil {
		return fmt.Errorf("a checkpoint is stored for size %d, beyond the tree", r.cp.Size)
	}
	return nil
}

func (r *sizeRoots) close() {
	for _, stop := range r.stops {
		stop()
	}
}

// checkErasures checks, once every event in [from, to) is verified, that
// the content of each event in missing is named by an Erasure or Retention
// event at a later index (for a partial verification, by one beyond to whose
// leaf the stored tree holds), and that content named by a finished erasure
// is no longer readable.
func checkErasures(ctx context.Context, d Driver, from, to, size uint64, missing []uint64, erasures *coverage, present bitset) (*Problem, error) {
	var uncovered []uint64
	for _, i := range missing {
		if _, ok := erasures.erasedBy(i); !ok {
			uncovered = append(uncovered, i)
		}
	}
	if len(uncovered) > 0 && to < size {
		if err := laterErasures(ctx, d, to, size, erasures); err != nil {
			return nil, err
		}
		rest := uncovered[:0]
		for _, i := range uncovered {
			if _, ok := erasures.erasedBy(i); !ok {
				rest = append(rest, i)
			}
		}
		uncovered = rest
	}
	var p *Problem
	if len(uncovered) > 0 {
		p = &Problem{Index: uncovered[0], Reason: "the event's content is gone (its key is not in the keyring), and no logged erasure or retention event names it"}
	}
	// Content an erasure finished destroying must not be readable.
	erasures.mu.RLock()
	ranges := slices.Clone(erasures.ranges)
	erasures.mu.RUnlock()
	done := map[uint64]bool{}
	for rec, err := range d.Lifecycle(ctx, []byte{lifecycleDone}) {
		if err != nil {
			return nil, err
		}
		if idx, ok := lifecycleIndex(rec.Name); ok {
			done[idx] = true
		}
	}
	for _, r := range ranges {
		if !done[r.by] {
			continue
		}
		for i := max(r.First, from); i <= r.Last && i < to; i++ {
			if present.has(i-from) && (p == nil || i < p.Index) {
				p = &Problem{Index: i, Reason: fmt.Sprintf("the event's content is still readable, though erasure or retention event %d finished destroying its key", r.by)}
				break
			}
		}
	}
	return p, nil
}

// laterErasures adds to erasures the Erasure and Retention events in
// [from, size) whose leaves the stored tree holds.
func laterErasures(ctx context.Context, d Driver, from, size uint64, erasures *coverage) error {
	f := &Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ERASURE, agenttrailv1.EventKind_EVENT_KIND_RETENTION}}
	for raw, err := range d.Scan(ctx, ScanRequest{Filter: f, Lo: from, Hi: size}) {
		if err != nil {
			return err
		}
		e, err := decodeHeader(raw)
		if err != nil {
			continue
		}
		rs, ok := erasedIndexes(e.Header)
		if !ok {
			continue
		}
		h, err := d.ReadHashes(ctx, []int64{tlog.StoredHashIndex(0, int64(raw.Index))})
		if err != nil || h[0] != e.LeafHash {
			continue
		}
		erasures.add(raw.Index, rs)
	}
	return nil
}

// bitset is a growable set of small integers.
type bitset struct{ words []uint64 }

func (b *bitset) set(i uint64) {
	w := int(i / 64)
	for len(b.words) <= w {
		b.words = append(b.words, 0)
	}
	b.words[w] |= 1 << (i % 64)
}

func (b bitset) has(i uint64) bool {
	w := int(i / 64)
	return w < len(b.words) && b.words[w]&(1<<(i%64)) != 0
}
