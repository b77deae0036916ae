package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

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
	// SignedSize is the size of the newest signed checkpoint the storage
	// holds. Events at and above it, up to TreeSize, are an unsigned tail:
	// their bytes agree with the stored tree, but no signature covers them,
	// so whoever holds the storage could have written them.
	SignedSize uint64
	// Trusted is the number of trusted checkpoints (TrustCheckpoint) the
	// recomputed tree was found to extend.
	Trusted int
	// Erased is the number of events whose content is destroyed, each
	// named by a later erasure or retention event that verified.
	Erased int
	// Postings is the number of secondary index entries checked against
	// the event headers (only when the whole log is verified).
	Postings int
	// Problem is the first disagreement, by log index; nil when everything
	// agrees.
	Problem *Problem
	// AggregateHours is the number of hours whose aggregate statistics were
	// recomputed from the events' headers and compared with the stored
	// ones (only when the whole log was verified).
	AggregateHours int
	// AggregateProblem names the first hour whose stored aggregates differ
	// from the recomputed ones; empty when they agree. The aggregates are
	// conveniences, not evidence: a difference means Stats answers wrongly,
	// not that an event was changed.
	AggregateProblem string
	// AggregatesAbsent is set when the log has events but no aggregates at
	// all: it was written by a build without them, and the engine computes
	// them when it next opens the log.
	AggregatesAbsent bool
}

// Empty reports whether the log holds no event, so that there was nothing
// to verify.
func (r Report) Empty() bool { return r.TreeSize == 0 }

// UnsignedTail returns the events [from, to) that no signed checkpoint
// covers; from == to when there are none.
func (r Report) UnsignedTail() (from, to uint64) {
	if r.SignedSize >= r.TreeSize {
		return r.TreeSize, r.TreeSize
	}
	return r.SignedSize, r.TreeSize
}

// OK reports whether verification found nothing wrong.
func (r Report) OK() bool { return r.Problem == nil && r.AggregateProblem == "" }

// Problem is a disagreement between stored bytes and the Merkle log.
type Problem struct {
	// Index is the first log index affected; for a problem of the whole
	// tree (Tree), the tree size concerned.
	Index uint64
	// Reason says what disagrees.
	Reason string
	// Tree is set when the problem is with the tree as a whole, not with
	// one event: the log is empty, or it is shorter than or inconsistent
	// with a trusted checkpoint. Reason names the sizes.
	Tree bool
}

// Error implements error.
func (p *Problem) Error() string {
	if p.Tree {
		return p.Reason
	}
	return fmt.Sprintf("event %d: %s", p.Index, p.Reason)
}

// A VerifyOption adds to what VerifyStorage checks.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	trusted       []commitment.TreeHead
	masterKey     MasterKey
	masterKeyFile string
}

// VerifyWithMasterKey gives verification the master key of encrypted
// storage (format agenttrail-store-v2), which it needs to read the storage
// and check each event's content against its digest.
func VerifyWithMasterKey(k MasterKey) VerifyOption {
	return func(c *verifyConfig) { c.masterKey = k }
}

// VerifyWithMasterKeyFile is VerifyWithMasterKey with the key read from a
// file (never created).
func VerifyWithMasterKeyFile(path string) VerifyOption {
	return func(c *verifyConfig) { c.masterKeyFile = path }
}

// TrustCheckpoint makes verification demand that the stored log extends a
// tree head the caller trusts: one from a checkpoint it verified earlier,
// saved itself or fetched from a witness. The stored tree must be at least
// that large, and its first Size events must hash to that root. This is
// what catches a log rewritten, truncated or replaced by someone who holds
// the signing key, or the storage and an old copy of it.
func TrustCheckpoint(h commitment.TreeHead) VerifyOption {
	return func(c *verifyConfig) { c.trusted = append(c.trusted, h) }
}

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
// Beyond the bytes themselves, it checks what only a whole log can show:
// content is missing only where a later erasure or retention event names
// it; the secondary indexes file every event under exactly the values of
// its header; and the log extends every trusted checkpoint given. An empty
// log is a problem: there is nothing to verify.
func VerifyStorage(ctx context.Context, storeURL, verifierKey string, opts ...VerifyOption) (Report, error) {
	var cfg verifyConfig
	for _, o := range opts {
		o(&cfg)
	}
	d, cr, err := openForReading(ctx, storeURL, opts)
	if err != nil {
		return Report{}, err
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
	for _, h := range cfg.trusted {
		if h.Origin != st.Origin {
			return Report{}, fmt.Errorf("%w: the trusted checkpoint is of the log %q, the storage holds %q", ErrInvalidArgument, h.Origin, st.Origin)
		}
	}
	if st.Size == 0 {
		rep := Report{Problem: &Problem{Tree: true, Reason: "the log is empty: it holds no event and no signed checkpoint, so there is nothing to verify"}}
		for _, h := range cfg.trusted {
			if h.Size > 0 {
				rep.Problem.Reason = fmt.Sprintf("the log is empty, but a trusted checkpoint covers %d events: they were removed", h.Size)
			}
		}
		return rep, nil
	}
	return verifyLog(ctx, d, v, cr, 0, 0, cfg.trusted...)
}

// openForReading opens a storage URL read-only, with the master key the
// options give, and returns the driver and a reader of its content: with
// the keyring for an encrypted log, without for a plaintext one.
func openForReading(ctx context.Context, storeURL string, opts []VerifyOption) (Driver, contentReader, error) {
	var cfg verifyConfig
	for _, o := range opts {
		o(&cfg)
	}
	mk := cfg.masterKey
	if mk.IsZero() && cfg.masterKeyFile != "" {
		k, err := ReadMasterKeyFile(cfg.masterKeyFile)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, contentReader{}, err
		}
		mk = k
	}
	d, err := OpenDriver(ctx, storeURL, DriverConfig{ReadOnly: true, EncryptionKey: mk.StorageKey()})
	if errors.Is(err, ErrPlaintext) {
		mk = MasterKey{} // written by an older build: read it as it is
		d, err = OpenDriver(ctx, storeURL, DriverConfig{ReadOnly: true})
	}
	if err != nil {
		if errors.Is(err, ErrWrongKey) && mk.IsZero() {
			return nil, contentReader{}, fmt.Errorf("store: %s is encrypted: give its master key (%w)", redactURL(storeURL), err)
		}
		return nil, contentReader{}, fmt.Errorf("store: opening %s read-only (is the server stopped?): %w", redactURL(storeURL), err)
	}
	st, err := d.Load(ctx)
	if err != nil {
		return nil, contentReader{}, errors.Join(fmt.Errorf("store: reading the log's state: %w", err), d.Close())
	}
	var cr contentReader
	switch {
	case st.Format == FormatPlaintext, st.Format == "" && st.Size == 0:
	case st.Format == FormatVersion:
		if mk.IsZero() {
			return nil, cr, errors.Join(fmt.Errorf("%w: the log's content is encrypted: give its master key", ErrWrongKey), d.Close())
		}
		if cr.keys, err = newKeyring(d, mk, nil); err == nil {
			err = cr.keys.checkMaster(ctx, false)
		}
		if err != nil {
			return nil, cr, errors.Join(err, d.Close())
		}
	default:
		return nil, cr, errors.Join(fmt.Errorf("%w: stored format %q, this build reads %q and %q", ErrCorrupt, st.Format, FormatVersion, FormatPlaintext), d.Close())
	}
	return d, cr, nil
}

// verifyLog is the verification both Verify and VerifyStorage run.
func verifyLog(ctx context.Context, d Driver, v *commitment.CheckpointVerifier, cr contentReader, from, to uint64, trusted ...commitment.TreeHead) (Report, error) {
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
	// A trusted checkpoint larger than the tree: the log lost events.
	trustedAt := map[uint64]commitment.TreeHead{}
	for _, h := range trusted {
		if h.Size > size {
			rep.Problem = &Problem{Index: size, Tree: true, Reason: fmt.Sprintf(
				"the stored tree has %d events, fewer than the %d of the trusted checkpoint: events were removed from its end, or this is not the log the checkpoint is of", size, h.Size)}
			return rep, nil
		}
		if h.Size > 0 {
			trustedAt[h.Size] = h
		}
	}
	if cpSize, _, err := d.LatestCheckpoint(ctx); err == nil {
		rep.SignedSize = cpSize
	} else if !errors.Is(err, ErrNotFound) {
		return Report{}, err
	}
	whole := from == 0 && to == size
	var erasures commitment.ErasureLedger
	var spans [][3]uint64 // what each erasure or retention event names: first, last, its index
	present := bitset{}   // indexes from from whose content is readable
	var indexes *indexCheck
	var recount map[cubeHour]Cells // the aggregates, recomputed from the headers
	if whole {
		indexes = newIndexCheck()
		recount = map[cubeHour]Cells{}
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
		switch {
		case errors.Is(contentErr, errKeyMissing):
			// Its key is gone: erased, which a later erasure or retention
			// event must name (the ledger checks).
			e.ContentState, contentErr = ContentErased, nil
		case contentErr != nil && !errors.Is(contentErr, ErrCorrupt):
			return Report{}, contentErr
		case contentErr != nil:
			e.ContentState = ContentNotRead // reported below, after the tree
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
		if e.ContentState == ContentNotRead {
			return fail(i, "%v", contentErr)
		}
		if e.ContentState == ContentPresent && commitment.ContentDigest(e.Salt, e.Content) != e.ContentDigest {
			return fail(i, "the event's content does not match its committed digest")
		}
		if e.ContentState == ContentPresent {
			present.set(i - from)
		}
		for _, sp := range commitment.ErasedBy(e.Header) {
			spans = append(spans, [3]uint64{sp[0], sp[1], i})
		}
		erasures.Note(i, e.Header, e.ContentState == ContentErased)
		if indexes != nil {
			indexes.expect(i, indexValues(e.Header))
		}
		if recount != nil {
			hour, ops, users, a := aggregateOf(e.Header)
			recountAdd(recount, cubeHour{CubeOperations, hour}, ops, &a)
			recountAdd(recount, cubeHour{CubeUsers, hour}, users, &a)
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
		if h, ok := trustedAt[i+1]; ok {
			root, err := fr.root()
			if err != nil {
				return Report{}, err
			}
			if root != h.Root {
				p, err := checkIDs()
				if err != nil || p != nil {
					rep.Problem = p
					return rep, err
				}
				rep.Problem = &Problem{Index: h.Size, Tree: true, Reason: fmt.Sprintf(
					"the stored tree of size %d has root %x, but the trusted checkpoint of size %d says %x: events below %d were rewritten, removed or inserted since it was signed",
					h.Size, root, h.Size, h.Root, h.Size)}
				return rep, nil
			}
			rep.Trusted++
		}
	}
	if p, err := checkIDs(); err != nil || p != nil {
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
	} else if erasures.Erased() > 0 {
		// The erasures that name erased events may be beyond the range.
		if err := noteLaterErasures(ctx, d, &erasures, to, size); err != nil {
			return Report{}, err
		}
	}
	if p, err := readableAfterErasure(ctx, d, from, to, spans, present); err != nil || p != nil {
		rep.Problem = p
		return rep, err
	}
	if u := erasures.Unproven(); len(u) > 0 {
		return bad(u[0], "the event's content is marked erased, but no later erasure or retention event of the log names this index: a bare erasure marker is tampering")
	}
	rep.Erased = erasures.Erased()
	if indexes != nil {
		p, err := indexes.compare(ctx, d, size)
		if err != nil {
			return Report{}, err
		}
		rep.Postings = indexes.postings
		if p != nil {
			rep.Problem = p
			return rep, nil
		}
	}
	if recount != nil {
		if err := checkAggregates(ctx, d, recount, &rep); err != nil {
			return Report{}, err
		}
	}
	return rep, nil
}

// noteLaterErasures reads the erasure and retention events in [lo, hi),
// whose leaves the stored tree holds, into the ledger.
func noteLaterErasures(ctx context.Context, d Driver, l *commitment.ErasureLedger, lo, hi uint64) error {
	kinds := []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ERASURE, agenttrailv1.EventKind_EVENT_KIND_RETENTION}
	hr := newHashReader(d)
	for raw, err := range d.Scan(ctx, ScanRequest{Filter: &Filter{Kinds: kinds}, Lo: lo, Hi: hi}) {
		if err != nil {
			return err
		}
		e, err := decodeHeader(raw)
		if err != nil {
			return err
		}
		stored, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(raw.Index))})
		if err != nil {
			return err
		}
		if stored[0] != e.LeafHash {
			continue // not the leaf the tree holds: it names nothing
		}
		l.Note(raw.Index, e.Header, false)
	}
	return nil
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

// readableAfterErasure finds content an erasure or retention event names,
// and says it finished destroying (its done record), that is still
// readable: the destruction did not happen.
func readableAfterErasure(ctx context.Context, d Driver, from, to uint64, spans [][3]uint64, present bitset) (*Problem, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	done := map[uint64]bool{}
	for rec, err := range d.Lifecycle(ctx, []byte{lifecycleDone}) {
		if err != nil {
			return nil, err
		}
		if i, ok := lifecycleIndex(rec.Name); ok {
			done[i] = true
		}
	}
	var p *Problem
	for _, sp := range spans {
		if !done[sp[2]] {
			continue
		}
		for i := max(sp[0], from); i <= sp[1] && i < to; i++ {
			if present.has(i-from) && (p == nil || i < p.Index) {
				p = &Problem{Index: i, Reason: fmt.Sprintf("the event's content is still readable, though erasure or retention event %d finished destroying its key", sp[2])}
				break
			}
		}
	}
	return p, nil
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
func recountAdd(m map[cubeHour]Cells, ch cubeHour, k CellKey, a *Aggregate) {
	c := m[ch]
	if c == nil {
		c = Cells{}
		m[ch] = c
	}
	c.Add(k, a)
}

// checkAggregates compares the stored aggregates, hour by hour, with those
// recomputed from the headers, and names the first hour that differs.
func checkAggregates(ctx context.Context, d Driver, recount map[cubeHour]Cells, rep *Report) error {
	stored := map[cubeHour]Cells{}
	for _, cube := range Cubes {
		for r, err := range d.Aggregates(ctx, cube, 0, ^uint32(0)) {
			if err != nil {
				return err
			}
			ch := cubeHour{cube, r.Hour}
			c, err := UnmarshalCells(r.Cells)
			if err != nil {
				if rep.AggregateProblem == "" {
					rep.AggregateProblem = fmt.Sprintf("the stored aggregates of hour %s (cube %c) do not decode: %v", hourName(r.Hour), cube, err)
				}
				continue
			}
			if stored[ch] == nil {
				stored[ch] = Cells{}
			}
			stored[ch].Merge(c)
		}
	}
	if len(stored) == 0 && len(recount) > 0 && rep.AggregateProblem == "" {
		rep.AggregatesAbsent = true
		return nil
	}
	hours := map[cubeHour]bool{}
	for ch := range recount {
		hours[ch] = true
	}
	for ch := range stored {
		hours[ch] = true
	}
	keys := slices.SortedFunc(maps.Keys(hours), func(a, b cubeHour) int { return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.cube, b.cube)) })
	for _, ch := range keys {
		rep.AggregateHours++
		want, _ := recount[ch].MarshalBinary()
		got, _ := stored[ch].MarshalBinary()
		if !bytes.Equal(want, got) && rep.AggregateProblem == "" {
			rep.AggregateProblem = fmt.Sprintf("the stored aggregates of hour %s (cube %c) differ from the events' headers (%d cells stored, %d recomputed)",
				hourName(ch.hour), ch.cube, len(stored[ch]), len(recount[ch]))
		}
	}
	return nil
}

func hourName(h uint32) string { return time.Unix(int64(h)*3600, 0).UTC().Format("2006-01-02T15Z") }
