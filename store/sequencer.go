package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
	"github.com/agenttrail/agenttrail/store/event"
)

// request is one Append call waiting for the sequencer.
type request struct {
	principal string
	record    bool // a record the server makes of the trail itself (SubmitRecords)
	events    []*agenttrailv1.Event
	// received, when set, holds the bytes each event arrived in
	// (SubmitReceived), nil for an event without them.
	received [][]byte
	sizes    []int // encoded size of each event
	bytes    int
	cost     int // what the events cost a batch (BatchBudget)
	results  []Result
	err      error // set when the whole batch failed
	done     chan struct{}
	// pre is the preflight of each event (sequencer only), once its
	// batch has sealed it: while the batch gathers, or as it is prepared.
	pre []preflighted
	// op, when set, is a lifecycle operation (an erasure, say): the
	// sequencer runs it alone, once every earlier batch has committed, and
	// it supplies the one event of the request.
	op *lifecycleOp
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// Append commits events to the log on behalf of an authenticated principal
// and returns one Result per event, in order, once every event of the call is
// durable or rejected. Events are validated (event.Validate); an event id
// that exists already returns its original receipt when the event is
// identical and ErrAlreadyExists when it differs. One event's failure does
// not affect the others.
//
// The returned error is for the call as a whole: ErrClosed, ErrFailed, a
// context error, or ErrInvalidArgument for more events than one batch holds.
// When ctx ends after the events were queued, they may still be committed;
// appending them again with the same ids is safe.
func (s *Store) Append(ctx context.Context, principal string, events []*agenttrailv1.Event) ([]Result, error) {
	t, err := s.Submit(ctx, principal, events)
	if err != nil {
		return nil, err
	}
	return t.Wait(ctx)
}

// Ticket is an append in progress: Submit queued its events for the
// sequencer, and Wait returns their results.
type Ticket struct {
	// parts are the call's requests: one, or the consecutive parts of a
	// call too large for one batch (see BatchBudget), which commit in
	// order. Their results are slices of results.
	parts   []*request
	results []Result
}

// Submit queues events for the sequencer and returns at once, or when ctx
// ends while the queue is full. Use it to keep many appends in flight (the
// server does, one ticket per batch of a stream); Append is Submit and Wait.
// The events must not be modified until the ticket is done.
func (s *Store) Submit(ctx context.Context, principal string, events []*agenttrailv1.Event) (*Ticket, error) {
	return s.submit(ctx, principal, events, nil, false)
}

// SubmitReceived is Submit for events decoded from bytes that came over
// the wire: received[i] is the encoding events[i] was decoded from by
// proto.Unmarshal, or nil. Where those bytes are already the canonical
// encoding the log commits (as Go's encoder writes it), they are committed
// as they are instead of encoding the event again
// (event.EncodeReceived); the log holds the same bytes either way. Neither
// events nor the bytes may change until the ticket is done.
func (s *Store) SubmitReceived(ctx context.Context, principal string, events []*agenttrailv1.Event, received [][]byte) (*Ticket, error) {
	if received != nil && len(received) != len(events) {
		return nil, fmt.Errorf("%w: %d events, %d received encodings", ErrInvalidArgument, len(events), len(received))
	}
	return s.submit(ctx, principal, events, received, false)
}

// SubmitRecords is Submit for the records the server makes of the trail
// itself: access records of reads, key changes. When the storage is short
// of space (ErrNoSpace) they are still written while a quarter of the free
// space the store keeps is left, after other appends stop, so that reads
// and key changes stay recorded.
func (s *Store) SubmitRecords(ctx context.Context, principal string, events []*agenttrailv1.Event) (*Ticket, error) {
	return s.submit(ctx, principal, events, nil, true)
}

// AppendRecords is Append for the server's own records (see SubmitRecords).
func (s *Store) AppendRecords(ctx context.Context, principal string, events []*agenttrailv1.Event) ([]Result, error) {
	t, err := s.SubmitRecords(ctx, principal, events)
	if err != nil {
		return nil, err
	}
	return t.Wait(ctx)
}

func (s *Store) submit(ctx context.Context, principal string, events []*agenttrailv1.Event, received [][]byte, record bool) (*Ticket, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrInvalidArgument)
	}
	if len(events) > s.cfg.maxBatchEvents {
		return nil, fmt.Errorf("%w: %d events in one call, at most %d", ErrInvalidArgument, len(events), s.cfg.maxBatchEvents)
	}
	if s.cfg.readOnly {
		return nil, fmt.Errorf("%w: the store is open read-only", ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := &Ticket{results: make([]Result, len(events))}
	budget, _ := s.d.(BatchBudget)
	maxCost := math.MaxInt
	if budget != nil {
		maxCost = budget.MaxBatchCost()
	}
	var req *request
	for i, ev := range events {
		var raw []byte
		if received != nil {
			raw = received[i]
		}
		// What the event arrived in is its size if it is canonical (see
		// encode); what a batch may have to store of it is bounded the
		// same way for any encoding.
		size, stored := len(raw), event.MaxEncodedSize(len(raw))
		if raw == nil {
			size = proto.Size(ev)
			stored = size
		}
		cost := 0
		if budget != nil {
			cost = budget.EventCost(stored+len(principal), IndexedBytes(ev))
		}
		if req == nil || req.cost+cost > maxCost {
			// A call that would cost a batch more than the driver takes
			// goes in consecutive parts, each a batch's worth at most.
			req = &request{principal: principal, record: record, events: events[i:i], results: t.results[i:i], done: make(chan struct{})}
			if received != nil {
				req.received = received[i:i]
			}
			t.parts = append(t.parts, req)
		}
		req.events = req.events[:len(req.events)+1]
		if received != nil {
			req.received = req.received[:len(req.received)+1]
		}
		req.results = req.results[:len(req.results)+1]
		req.sizes = append(req.sizes, size)
		req.bytes += size
		req.cost += cost
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.failed(); err != nil {
		return nil, err
	}
	for _, req := range t.parts {
		select {
		case s.queue <- req:
		case <-ctx.Done():
			// Parts already queued may still commit.
			return nil, ctx.Err()
		}
	}
	return t, nil
}

// Done is closed when the ticket's results are ready. (The parts of a call
// commit in order: the last is done last.)
func (t *Ticket) Done() <-chan struct{} { return t.parts[len(t.parts)-1].done }

// Wait returns the results of the ticket's events, in order, once they are
// all durable or rejected; see Append. When ctx ends first, Wait returns its
// error, and the events may still be committed.
func (t *Ticket) Wait(ctx context.Context) ([]Result, error) {
	for _, req := range t.parts {
		select {
		case <-req.done:
			if req.err != nil {
				return nil, req.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return t.results, nil
}

func (s *Store) failed() error {
	if p := s.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// sequence is the sequencer: the one goroutine that orders the log. It
// forms batches from queued requests and prepares each (validation,
// encoding, salts, digests, leaves, tree hashes, index values, and a
// checkpoint when due) into a Batch, which it hands to the committer
// goroutine. The committer commits batches strictly in order, one
// at a time, while the sequencer prepares the next: CPU work overlaps the
// previous batch's fsync, and a failed commit stops every later batch, so
// the log can never have a gap. sequence returns when the queue is closed
// and every batch has been committed and answered.
func (s *Store) sequence(fr *frontier) {
	defer close(s.seqDone)
	seq := &sequencer{
		s:              s,
		fr:             fr,
		lastCheckpoint: s.cfg.now(),
		inflight:       map[string]*pending{},
		subjects:       map[subject]*subjectKey{},
		wake:           make(chan struct{}, 1),
		agg:            newAggregator(s.d),
		cfr:            fr.clone(),
	}
	seq.shared, _ = s.d.(SharedDriver)
	toCommit := make(chan *prepared, 1)
	committerDone := make(chan struct{})
	go func() {
		defer close(committerDone)
		seq.commitLoop(toCommit)
	}()
	defer func() {
		close(toCommit)
		<-committerDone
		seq.settle()
		seq.signIfBehind()
	}()

	maxCost := math.MaxInt // what a batch's events may cost (BatchBudget)
	if b, ok := s.d.(BatchBudget); ok {
		maxCost = b.MaxBatchCost()
	}
	var carry *request
	for {
		var first *request
		if carry != nil {
			first, carry = carry, nil
		} else {
			select {
			case r, ok := <-s.queue:
				if !ok {
					return
				}
				first = r
			case <-seq.wake:
				// A batch committed: re-arm the checkpoint timer.
				seq.settle()
				continue
			case <-seq.checkpointTimer():
				seq.signIfBehind()
				continue
			}
		}
		if first.op != nil {
			toCommit <- seq.prepareOp(first)
			seq.outstanding++
			continue
		}
		batch := []*request{first}
		// The batch's events are received now: its received-at time is
		// fixed here, so that they can be sealed while it gathers.
		received := seq.stamp()
		sealed := 0 // the requests of batch sealed while it gathers
		n, bytes, cost := len(first.events), first.bytes, first.cost
		var wait <-chan time.Time
		var waitTimer *time.Timer
		if s.cfg.batchWait > 0 {
			waitTimer = time.NewTimer(s.cfg.batchWait)
			wait = waitTimer.C
		}
	gather:
		for n < s.cfg.maxBatchEvents && bytes < s.cfg.maxBatchBytes {
			var r *request
			var ok bool
			select {
			case r, ok = <-s.queue:
			default:
				// Nothing more has queued. While the committer is busy
				// with an earlier batch and this one is still small, go
				// on gathering: the batch could not commit sooner, and
				// larger batches take fewer commits under load. Once the
				// committer is idle, commit at once: light load never
				// waits for more work.
				busy := wait == nil && seq.busy() && n < s.cfg.maxBatchEvents/4 && bytes < s.cfg.maxBatchBytes/4 && cost < maxCost/4
				if wait == nil && !busy {
					break gather
				}
				if sealed < len(batch) {
					// Rather than wait, seal what has gathered (most of
					// the CPU an event costs): it is then off the path
					// from the committer turning idle to this batch's
					// commit. Ids are looked up as the batch is prepared,
					// once the batches before it are committed (a lookup
					// now would wait for the commit in progress anyway).
					seq.seal(batch[sealed:], received)
					sealed = len(batch)
					continue
				}
				var idle <-chan struct{}
				if busy {
					idle = seq.wake
				}
				select {
				case r, ok = <-s.queue:
				case <-wait:
					break gather
				case <-idle:
					seq.settle()
					continue
				}
			}
			if !ok {
				break gather
			}
			if r.op != nil {
				carry = r // a lifecycle operation runs alone
				break gather
			}
			if n+len(r.events) > s.cfg.maxBatchEvents || bytes+r.bytes > s.cfg.maxBatchBytes || cost+r.cost > maxCost {
				carry = r
				break gather
			}
			batch = append(batch, r)
			n, bytes, cost = n+len(r.events), bytes+r.bytes, cost+r.cost
		}
		if waitTimer != nil {
			waitTimer.Stop()
		}
		toCommit <- seq.prepare(batch, received)
		seq.outstanding++
	}
}

// sequencer is the state the sequencer goroutine owns, and the channel
// through which the committer tells it what became durable.
type sequencer struct {
	s              *Store
	fr             *frontier // the tree including every prepared batch
	lastReceived   time.Time
	lastCheckpoint time.Time
	spaceLow       bool // appends are refused for want of disk space
	timer          *time.Timer
	// inflight holds the events of prepared batches until the sequencer
	// knows they are committed and visible to its next transaction: until
	// then, reads of the database would not see them.
	inflight map[string]*pending
	// committed holds the batches the committer has finished, until the
	// sequencer forgets their events (settle). A slice under a mutex, not
	// a channel, so the committer never waits for the sequencer.
	mu        sync.Mutex
	committed []*prepared
	wake      chan struct{} // signalled, without waiting, after each commit
	// outstanding counts the batches handed to the committer and not yet
	// settled (sequencer only).
	outstanding int
	// subjects holds the subject key in use for each subject seen lately,
	// under subjectsMu: the committer looks keys up again when another
	// server retired one.
	subjectsMu sync.Mutex
	subjects   map[subject]*subjectKey
	// agg computes each batch's additions to the aggregate statistics.
	agg *aggregator
	// rebased, under mu, is the tree after a batch the committer had to
	// prepare again on a tree that had moved on (see rebase): the
	// sequencer prepares its next batch on it.
	rebased *frontier

	// The committer's own state: the tree after the last batch it
	// committed, and the shared driver when other writers may commit.
	cfr    *frontier
	shared SharedDriver
}

// prepared is a batch ready to commit.
type prepared struct {
	reqs  []*request
	b     *batchBuilder // nil when the batch adds no event
	all   []*pending    // every event the batch took in, kept across rebase
	waits []deferred
	cp    Checkpoint
	// signed: cp, signed with the batch, commits in its transaction.
	// signAfter (shared drivers): a checkpoint is due, and is signed once
	// the batch has committed, so that no tree is ever signed that did
	// not become the log.
	signed, signAfter bool
	moved             bool  // prepared again by the committer (rebase)
	failure           error // set when preparing failed; the batch is answered with it
	sticky            bool  // the failure stops the store (see fail)
	// op is set for the batch of a lifecycle operation, which is never
	// prepared again: when the log moved, the operation runs again.
	op bool
	// committed, when set, runs once the batch is durable, before the head
	// moves and its callers are answered, with the batch's first index.
	committed func(first uint64)
}

// settle takes in every batch the committer has finished.
func (q *sequencer) settle() {
	q.mu.Lock()
	done := q.committed
	q.committed = nil
	q.mu.Unlock()
	for _, p := range done {
		q.forget(p)
	}
	q.outstanding -= len(done)
}

// busy reports whether the committer has a batch to commit (sequencer
// only).
func (q *sequencer) busy() bool {
	q.settle()
	return q.outstanding > 0
}

// drain waits until every batch handed to the committer is committed (or
// failed) and settled.
func (q *sequencer) drain() {
	q.settle()
	for q.outstanding > 0 {
		<-q.wake
		q.settle()
	}
}

// forget drops a committed batch's events from the in-flight map: the next
// transaction the sequencer opens sees them in the database.
func (q *sequencer) forget(p *prepared) {
	for _, e := range p.all {
		if q.inflight[e.ev.GetEventId()] == e {
			delete(q.inflight, e.ev.GetEventId())
		}
	}
}

// checkpointTimer returns a channel that fires when a checkpoint is due for
// events committed since the last one, or nil when none is due.
func (q *sequencer) checkpointTimer() <-chan time.Time {
	h := q.s.head.Load()
	if h.checkpoint.Size == h.size {
		return nil
	}
	d := q.s.cfg.checkpointInterval - q.s.cfg.now().Sub(q.lastCheckpoint)
	if d < 0 {
		d = 0
	}
	if q.timer == nil {
		q.timer = time.NewTimer(d)
	} else {
		q.timer.Reset(d)
	}
	return q.timer.C
}

// signIfBehind signs a checkpoint of the committed tree when the latest one
// does not cover it.
func (q *sequencer) signIfBehind() {
	h := q.s.head.Load()
	if h.checkpoint.Size == h.size || q.s.failed() != nil {
		return
	}
	if q.shared != nil {
		// The head may be another server's batch: sign only a tree read
		// back from the stored hashes.
		got, err := tlog.TreeHash(int64(h.size), q.s.hashes)
		if err != nil || got != h.root {
			q.s.log.Error("not signing: the stored tree does not read back as the head", slog.Uint64("tree_size", h.size), slog.Any("error", err))
			return
		}
	}
	cp, err := q.s.storeCheckpoint(context.Background(), h.size, h.root)
	if errors.Is(err, ErrNoSpace) {
		q.s.log.Debug("checkpoint not signed: disk almost full", slog.Uint64("tree_size", h.size), slog.Any("error", err))
		q.lastCheckpoint = q.s.cfg.now() // retry after an interval
		return
	}
	if err != nil {
		q.s.log.Error("signing checkpoint failed", slog.Uint64("tree_size", h.size), slog.Any("error", err))
		return
	}
	q.lastCheckpoint = q.s.cfg.now()
	q.s.record.noteSigned(cp)
	// The committer or the follower may have moved the head meanwhile;
	// advance only moves it forward.
	q.s.advance(h.size, h.root, cp)
}

// pending is an event accepted into a batch.
type pending struct {
	ev      *agenttrailv1.Event
	sealed  *sealed
	key     *subjectKey // the subject key its content is encrypted under; nil in a plaintext store
	receipt Receipt
	// Set when the event turned out, as its batch was prepared again, to
	// be stored already (by another writer): stored, with the original
	// receipt, or err, when it differs. err is also set when the batch
	// failed without stopping the store.
	stored bool
	err    error
}

// deferred is a result that depends on a batch committing: a new event's
// receipt, or the receipt of an event in the same or an earlier in-flight
// batch.
type deferred struct {
	slot *Result
	p    *pending
	dup  bool
}

// stamp returns the received-at time of the next batch: now, and never
// before the last batch's.
func (q *sequencer) stamp() time.Time {
	now := q.s.cfg.now().UTC()
	if now.Before(q.lastReceived) {
		now = q.lastReceived // received-at never goes backwards
	}
	q.lastReceived = now
	return now
}

// seal does the work of preflight that needs neither the database nor the
// other events (validation, encoding, salts, digests, leaves) for requests
// of a batch received at received. Should it fail, prepare does it again.
func (q *sequencer) seal(reqs []*request, received time.Time) {
	limits := event.Limits{Now: received, MaxClockSkew: q.s.cfg.clockSkew}
	if err := q.preflight(reqs, limits, mustMarshal(timestamppb.New(received)), false); err != nil {
		for _, r := range reqs {
			r.pre = nil
		}
	}
}

// prepare validates and sequences one batch, received at received. Events
// are answered in place when they are invalid or duplicates of stored
// events; new events get their receipts when the committer commits the
// batch.
func (q *sequencer) prepare(batch []*request, received time.Time) *prepared {
	s := q.s
	q.settle()
	q.mu.Lock()
	if q.rebased != nil {
		q.fr, q.rebased = q.rebased, nil
	}
	q.mu.Unlock()
	p := &prepared{reqs: batch}
	if err := s.failed(); err != nil {
		p.failure, p.sticky = err, true
		return p
	}
	if err := q.room(); err != nil {
		// Refuse the batch's events before anything is prepared: the log
		// stays as it is, and the next batch asks again. The server's own
		// records (reads, key changes) go on while a quarter of the space
		// the store keeps is free, so that reads stay recorded.
		var se *SpaceError
		recordsFit := errors.As(err, &se) && se.Free >= se.Needed/4
		var kept []*request
		for _, r := range batch {
			if r.record && recordsFit {
				kept = append(kept, r)
				continue
			}
			for i := range r.results {
				r.results[i].Err = err
			}
		}
		if len(kept) == 0 {
			return p
		}
		batch = kept
	}
	limits := event.Limits{Now: received, MaxClockSkew: s.cfg.clockSkew}

	b := newBatchBuilder(q.fr.clone(), received)
	total := 0
	for _, r := range batch {
		total += len(r.events)
	}
	b.entries = make([]*pending, 0, total)
	b.batch.Events = make([]BatchEvent, 0, total)
	b.batch.Hashes = make([][HashSize]byte, 0, 2*total+64) // about two stored hashes per leaf
	// The lookups of preflight see at least the tree of the head now
	// (batches are published once their commit is visible): no event
	// the batch takes is stored below it, and the driver need check only
	// the ids of events stored since (Batch.IDsLookedUpAt).
	b.batch.IDsLookedUpAt = s.head.Load().size
	if err := q.preflight(batch, limits, b.receivedBytes, true); err != nil {
		p.failure, p.sticky = err, q.shared == nil
		return p
	}
	for _, r := range batch {
		for i, ev := range r.events {
			slot := &r.results[i]
			pf := &r.pre[i]
			if pf.err != nil {
				slot.Err = pf.err
				continue
			}
			id := ev.GetEventId()
			if earlier, ok := q.inflight[id]; ok {
				if proto.Equal(earlier.ev, ev) {
					p.waits = append(p.waits, deferred{slot: slot, p: earlier, dup: true})
				} else {
					slot.Err = fmt.Errorf("%w: event id was appended moments ago", ErrAlreadyExists)
				}
				continue
			}
			if pf.stored {
				existing, err := q.existing(pf.index, ev)
				switch {
				case err == nil:
					existing.Duplicate = true
					slot.Receipt = existing
				case errors.Is(err, ErrAlreadyExists):
					slot.Err = err
				default:
					p.failure, p.sticky = err, q.shared == nil
					return p
				}
				continue
			}
			pe := &pending{ev: ev, sealed: pf.sealed}
			if s.keys != nil {
				var err error
				if pe.key, err = q.subjectKey(subjectOf(ev), b); err != nil {
					p.failure, p.sticky = err, q.shared == nil
					return p
				}
			}
			if err := b.add(pe); err != nil {
				slot.Err = err
				continue
			}
			q.inflight[id] = pe
			p.all = append(p.all, pe)
			p.waits = append(p.waits, deferred{slot: slot, p: pe})
		}
	}
	if len(b.entries) == 0 {
		return p
	}
	if s.keys != nil {
		if err := encryptBatch(b, s.keys.hook); err != nil {
			p.failure, p.sticky = err, true
			return p
		}
	}
	cfg := s.cfg
	sign := cfg.checkpointInterval == 0 || cfg.now().Sub(q.lastCheckpoint) >= cfg.checkpointInterval
	cp, err := b.finish(s, sign && q.shared == nil)
	if err != nil {
		p.failure, p.sticky = err, true
		return p
	}
	if sign {
		if q.shared == nil {
			p.cp, p.signed = cp, true
		} else {
			p.signAfter = true
		}
		q.lastCheckpoint = cfg.now()
	}
	p.b = b
	q.fr = b.fr
	return p
}

// room asks a driver that can run out of space (SpaceReporter) whether it
// has room for a batch, and returns a *SpaceError when it has not. It logs
// when appends stop for want of space and when they resume.
func (q *sequencer) room() error {
	sr, ok := q.s.d.(SpaceReporter)
	if !ok {
		return nil
	}
	sp, err := sr.Space(context.Background())
	if err != nil {
		q.s.log.Error("measuring free space failed; appends are refused", slog.Any("error", err))
		return err
	}
	low := sp.Free < sp.Needed
	if low != q.spaceLow {
		q.spaceLow = low
		if low {
			q.s.log.Warn("disk almost full: appends are refused until space is freed; reads go on",
				slog.Int64("free_mib", sp.Free>>20), slog.Int64("needed_mib", sp.Needed>>20))
		} else {
			q.s.log.Info("disk space freed: appends resume", slog.Int64("free_mib", sp.Free>>20))
		}
	}
	if low {
		return &SpaceError{Free: sp.Free, Needed: sp.Needed}
	}
	return nil
}

// preflighted is the work on one event that does not depend on the others:
// its size check, validation, encoding and sealing, and whether its id is
// stored.
type preflighted struct {
	sealed *sealed
	err    error
	stored bool   // the id is stored, at index
	index  uint64 // where the id is stored
}

// preflight does the independent work on every event of a batch (r.pre),
// on all cores when the batch is large: it is most of the CPU an append
// costs. It seals the events of requests not sealed yet (see seal) and,
// when lookup is set, looks every sealed event's id up. Lookups see every
// committed batch (prepare settled first); batches still in flight are
// covered by the in-flight map, checked in order afterwards.
func (q *sequencer) preflight(batch []*request, limits event.Limits, receivedAt []byte, lookup bool) error {
	type job struct {
		r, i int
		seal bool
	}
	var jobs []job
	toSeal := 0
	for ri, r := range batch {
		seal := r.pre == nil
		if seal {
			r.pre = make([]preflighted, len(r.events))
			toSeal += len(r.events)
		}
		if !seal && !lookup {
			continue
		}
		for i := range r.events {
			jobs = append(jobs, job{ri, i, seal})
		}
	}
	salts := make([]byte, commitment.SaltSize*toSeal)
	if _, err := rand.Read(salts); err != nil {
		return fmt.Errorf("store: reading random salts: %w", err)
	}
	do := func(js []job, salts []byte) error {
		ids := make([]string, 0, len(js))
		for _, j := range js {
			r := batch[j.r]
			pf := &r.pre[j.i]
			if !j.seal {
				if pf.err == nil {
					ids = append(ids, r.events[j.i].GetEventId())
				}
				continue
			}
			if sz := r.sizes[j.i]; sz > q.s.cfg.maxEventBytes && r.op == nil { // lifecycle events are bounded by maxLifecycleRanges
				pf.err = q.tooLarge(sz)
				continue
			}
			enc, err := q.encode(r, j.i, limits)
			if err != nil {
				pf.err = err
				continue
			}
			salt := salts[:commitment.SaltSize:commitment.SaltSize]
			salts = salts[commitment.SaltSize:]
			pf.sealed = seal(enc, receivedAt, r.principal, salt, q.s.keys == nil)
			ids = append(ids, r.events[j.i].GetEventId())
		}
		if len(ids) == 0 || !lookup {
			return nil
		}
		found, err := q.s.d.LookupIDs(context.Background(), ids)
		if err != nil {
			return fmt.Errorf("store: looking event ids up: %w", err)
		}
		for _, j := range js {
			pf := &batch[j.r].pre[j.i]
			if pf.err == nil {
				pf.index, pf.stored = found[batch[j.r].events[j.i].GetEventId()]
			}
		}
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	if len(jobs) < 64 || workers < 2 {
		return do(jobs, salts)
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	per := (len(jobs) + workers - 1) / workers
	for w := 0; w < len(jobs); w += per {
		js := jobs[w:min(w+per, len(jobs))]
		n := 0 // the salts of js
		for _, j := range js {
			if j.seal {
				n += commitment.SaltSize
			}
		}
		wg.Add(1)
		go func(js []job, salts []byte) {
			defer wg.Done()
			errs[w/per] = do(js, salts)
		}(js, salts[:n:n])
		salts = salts[n:]
	}
	wg.Wait()
	return errors.Join(errs...)
}

// encode validates and encodes event i of r: from the bytes it arrived in
// when those are canonical, else as submit measured it. An event that
// arrived in other bytes than it encodes to is measured again, so that the
// size limit holds for what is stored.
func (q *sequencer) encode(r *request, i int, limits event.Limits) (event.Encoded, error) {
	ev := r.events[i]
	if r.received == nil || r.received[i] == nil {
		return event.EncodeSized(ev, limits) // submit measured it
	}
	enc, reused, err := event.EncodeReceived(ev, r.received[i], limits)
	if err == nil && !reused && r.op == nil {
		if sz := proto.Size(ev); sz > q.s.cfg.maxEventBytes {
			return event.Encoded{}, q.tooLarge(sz)
		}
	}
	return enc, err
}

// tooLarge is the error of an event of sz bytes, over the limit.
func (q *sequencer) tooLarge(sz int) error {
	return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, sz, q.s.cfg.maxEventBytes)
}

// commitLoop is the committer: it commits prepared batches in order and
// answers their requests. After a failed commit, every later batch fails
// too, uncommitted.
func (q *sequencer) commitLoop(in <-chan *prepared) {
	for p := range in {
		q.commitOne(p)
		for _, r := range p.reqs {
			close(r.done)
		}
		q.mu.Lock()
		q.committed = append(q.committed, p)
		q.mu.Unlock()
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *sequencer) commitOne(p *prepared) {
	s := q.s
	if p.failure == nil {
		if err := s.failed(); err != nil {
			p.failure, p.sticky = err, true
		}
	}
	if p.failure == nil && p.b != nil {
		p.failure, p.sticky = q.commitBatch(p)
	}
	if p.failure != nil {
		for _, pe := range p.all {
			pe.err = p.failure
		}
		if p.sticky {
			q.fail(p.reqs, p.failure)
		} else {
			s.log.Warn("batch failed; appends go on", slog.Any("error", p.failure))
			failAll(p.reqs, p.failure)
		}
		return
	}
	for _, w := range p.waits {
		if w.p.err != nil {
			w.slot.Err = w.p.err
			continue
		}
		w.slot.Receipt = w.p.receipt
		w.slot.Receipt.Duplicate = w.dup || w.p.stored
	}
}

// published moves the head to a committed batch's tree.
func (q *sequencer) published(p *prepared) {
	if p.committed != nil {
		p.committed(p.b.batch.First)
	}
	cp := Checkpoint{}
	if p.signed {
		cp = p.cp
	}
	q.s.advance(p.b.fr.size, p.b.batch.Root, cp)
	q.s.record.noteAcknowledged(p.b.fr.size, p.b.batch.Root)
	if p.signed {
		q.s.record.noteSigned(p.cp)
	}
	if p.signAfter {
		q.signCommitted(p.b.fr.size, p.b.batch.Root)
	}
}

// existing compares an event with the stored event of the same id, at
// index: its receipt when they are equal, ErrAlreadyExists when they differ.
func (q *sequencer) existing(index uint64, ev *agenttrailv1.Event) (Receipt, error) {
	e, err := q.s.readEntry(context.Background(), index, true)
	if err != nil {
		return Receipt{}, err
	}
	stored, err := e.Event()
	if err != nil {
		return Receipt{}, err
	}
	same := proto.Equal(stored, ev)
	if e.ContentState == ContentErased {
		// Only the header is left to compare.
		header, _ := event.Split(ev)
		same = proto.Equal(e.Header, header)
	}
	if !same {
		return Receipt{}, fmt.Errorf("%w: event id is at index %d", ErrAlreadyExists, index)
	}
	return e.Receipt(), nil
}

// fail marks the store failed and answers the batch with the error.
func (q *sequencer) fail(batch []*request, err error) {
	if !errors.Is(err, ErrFailed) {
		err = fmt.Errorf("%w: %w", ErrFailed, err)
	}
	if q.s.failure.CompareAndSwap(nil, &err) {
		q.s.log.Error("store failed; appends are refused until it is reopened", slog.Any("error", err))
	}
	failAll(batch, err)
}

func failAll(batch []*request, err error) {
	for _, r := range batch {
		r.err = err
	}
}

// batchBuilder turns accepted events into one Batch.
type batchBuilder struct {
	fr *frontier
	// base is the tree the batch was prepared on: the committer commits
	// the batch only on that very tree (see commitBatch), not on another
	// one that merely has its size.
	base          *frontier
	received      time.Time
	receivedBytes []byte // the encoded received-at Timestamp
	entries       []*pending
	batch         Batch
	// created are the subject keys the batch creates, by subject.
	created map[subject]*subjectKey
}

func newBatchBuilder(fr *frontier, received time.Time) *batchBuilder {
	return &batchBuilder{
		fr:            fr,
		base:          fr.clone(),
		received:      received,
		receivedBytes: mustMarshal(timestamppb.New(received)),
		batch:         Batch{First: fr.size},
	}
}

// sealed is an event ready for the log: its leaf data (the EventHeader
// bytes and the salted content digest), leaf hash, salt and content, and,
// in a plaintext store, its content record (an encrypted store encrypts
// once the event has its index: encryptBatch).
type sealed struct {
	leafData      []byte
	leafHash      tlog.Hash
	salt, content []byte
	contentRecord []byte
}

// seal wraps an encoded event's header in an EventHeader with the received
// time and principal, salts and digests its content, and hashes the leaf.
// It needs nothing but the event, so preflight runs it on every core.
func seal(enc event.Encoded, receivedAt []byte, principal string, salt []byte, plaintext bool) *sealed {
	hb := commitment.EncodeHeader(enc.Header, receivedAt, principal)
	ld := commitment.LeafData(hb, commitment.ContentDigest(salt, enc.Content))
	s := &sealed{leafData: ld, leafHash: commitment.HashLeafData(ld), salt: salt, content: enc.Content}
	if plaintext {
		s.contentRecord = encodeContentRecord(salt, enc.Content)
	}
	return s
}

// add sequences one sealed event: it takes the next index, extends the
// tree, notes what the secondary indexes file it under, and sets the
// event's receipt.
func (b *batchBuilder) add(pe *pending) error {
	index := b.fr.size
	lh := pe.sealed.leafHash
	hs, err := b.fr.add(lh)
	if err != nil {
		return err
	}
	for _, h := range hs {
		b.batch.Hashes = append(b.batch.Hashes, h)
	}
	b.batch.Events = append(b.batch.Events, BatchEvent{
		EventID:  pe.ev.GetEventId(),
		LeafData: pe.sealed.leafData,
		Content:  pe.sealed.contentRecord,
		Index:    indexValues(pe.ev),
	})
	pe.receipt = Receipt{EventID: pe.ev.GetEventId(), Index: index, LeafHash: lh, ReceivedAt: b.received}
	b.entries = append(b.entries, pe)
	return nil
}

// indexValues are what the secondary indexes file an event under: the
// METADATA fields a Filter selects by.
func indexValues(ev *agenttrailv1.Event) IndexValues {
	return IndexValues{
		SessionID:  ev.GetSessionId(),
		AgentID:    ev.GetAgentId(),
		UserID:     ev.GetUserId(),
		ToolName:   event.ToolName(ev),
		Kind:       event.KindOf(ev),
		Failure:    event.IsFailure(ev),
		OccurredAt: ev.GetOccurredAt().AsTime(),
	}
}

func mustMarshal(m proto.Message) []byte {
	b, err := deterministic.Marshal(m)
	if err != nil {
		panic(err) // only for messages built here, which always encode
	}
	return b
}

// finish completes the batch with the new tree's size and root, and, when
// sign is set, its signed checkpoint.
func (b *batchBuilder) finish(s *Store, sign bool) (Checkpoint, error) {
	root, err := b.fr.root()
	if err != nil {
		return Checkpoint{}, err
	}
	b.batch.Size, b.batch.Root = b.fr.size, root
	if !sign {
		return Checkpoint{}, nil
	}
	cp, err := s.signCheckpoint(b.fr.size, root)
	if err != nil {
		return Checkpoint{}, err
	}
	b.batch.Checkpoint = cp.Note
	return cp, nil
}
