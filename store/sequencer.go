package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// request is one Append call waiting for the sequencer.
type request struct {
	principal string
	events    []*agenttrailv1.Event
	sizes     []int // encoded size of each event
	bytes     int
	results   []Result
	err       error // set when the whole batch failed
	done      chan struct{}
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
	req *request
}

// Submit queues events for the sequencer and returns at once, or when ctx
// ends while the queue is full. Use it to keep many appends in flight (the
// server does, one ticket per batch of a stream); Append is Submit and Wait.
// The events must not be modified until the ticket is done.
func (s *Store) Submit(ctx context.Context, principal string, events []*agenttrailv1.Event) (*Ticket, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrInvalidArgument)
	}
	if len(events) > s.cfg.maxBatchEvents {
		return nil, fmt.Errorf("%w: %d events in one call, at most %d", ErrInvalidArgument, len(events), s.cfg.maxBatchEvents)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := &request{principal: principal, events: events, sizes: make([]int, len(events)), results: make([]Result, len(events)), done: make(chan struct{})}
	for i, ev := range events {
		req.sizes[i] = proto.Size(ev)
		req.bytes += req.sizes[i]
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.failed(); err != nil {
		return nil, err
	}
	select {
	case s.queue <- req:
		return &Ticket{req: req}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Done is closed when the ticket's results are ready.
func (t *Ticket) Done() <-chan struct{} { return t.req.done }

// Wait returns the results of the ticket's events, in order, once they are
// all durable or rejected; see Append. When ctx ends first, Wait returns its
// error, and the events may still be committed.
func (t *Ticket) Wait(ctx context.Context) ([]Result, error) {
	select {
	case <-t.req.done:
		if t.req.err != nil {
			return nil, t.req.err
		}
		return t.req.results, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Store) failed() error {
	if p := s.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// sequence is the sequencer: the one goroutine that orders the log. It
// forms batches from queued requests and prepares each (validation,
// encoding, salts, digests, leaves, tree hashes, index postings, and a
// checkpoint when due) into a Badger transaction, which it hands to the
// committer goroutine. The committer commits batches strictly in order, one
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
		wake:           make(chan struct{}, 1),
	}
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
		batch := []*request{first}
		n, bytes := len(first.events), first.bytes
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
				if wait == nil {
					break gather
				}
				select {
				case r, ok = <-s.queue:
				case <-wait:
					break gather
				}
			}
			if !ok {
				break gather
			}
			if n+len(r.events) > s.cfg.maxBatchEvents || bytes+r.bytes > s.cfg.maxBatchBytes {
				carry = r
				break gather
			}
			batch = append(batch, r)
			n, bytes = n+len(r.events), bytes+r.bytes
		}
		if waitTimer != nil {
			waitTimer.Stop()
		}
		toCommit <- seq.prepare(batch)
	}
}

// sequencer is the state the sequencer goroutine owns, and the channel
// through which the committer tells it what became durable.
type sequencer struct {
	s              *Store
	fr             *frontier // the tree including every prepared batch
	lastReceived   time.Time
	lastCheckpoint time.Time
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
}

// prepared is a batch ready to commit.
type prepared struct {
	reqs    []*request
	txn     *badger.Txn
	b       *batchBuilder // nil when the batch adds no event
	waits   []deferred
	cp      Checkpoint
	signed  bool
	failure error // set when preparing failed; the batch is answered with it
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
}

// forget drops a committed batch's events from the in-flight map: the next
// transaction the sequencer opens sees them in the database.
func (q *sequencer) forget(p *prepared) {
	if p.b != nil {
		for _, e := range p.b.entries {
			if q.inflight[e.ev.GetEventId()] == e {
				delete(q.inflight, e.ev.GetEventId())
			}
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
	cp, err := q.s.storeCheckpoint(h.size, h.root)
	if err != nil {
		q.s.log.Error("signing checkpoint failed", slog.Uint64("tree_size", h.size), slog.Any("error", err))
		return
	}
	q.lastCheckpoint = q.s.cfg.now()
	// The committer may have published a newer head meanwhile; only move
	// the checkpoint forward.
	for {
		cur := q.s.head.Load()
		if cur.checkpoint.Size >= cp.Size {
			return
		}
		next := &head{size: cur.size, root: cur.root, checkpoint: cp, changed: make(chan struct{})}
		if q.s.head.CompareAndSwap(cur, next) {
			close(cur.changed)
			return
		}
	}
}

// pending is an event accepted into a batch.
type pending struct {
	ev      *agenttrailv1.Event
	receipt Receipt
}

// deferred is a result that depends on a batch committing: a new event's
// receipt, or the receipt of an event in the same or an earlier in-flight
// batch.
type deferred struct {
	slot *Result
	p    *pending
	dup  bool
}

// prepare validates and sequences one batch into a transaction. Events are
// answered in place when they are invalid or duplicates of stored events;
// new events get their receipts when the committer commits the batch.
func (q *sequencer) prepare(batch []*request) *prepared {
	s := q.s
	q.settle()
	p := &prepared{reqs: batch}
	if err := s.failed(); err != nil {
		p.failure = err
		return p
	}
	now := s.cfg.now().UTC()
	if now.Before(q.lastReceived) {
		now = q.lastReceived // received-at never goes backwards
	}
	q.lastReceived = now
	limits := event.Limits{Now: now, MaxClockSkew: s.cfg.clockSkew}

	p.txn = s.db.NewTransaction(true)
	// Write-once guard: the batch's first index must be free on disk.
	if _, err := p.txn.Get(recordKey(q.fr.size)); !errors.Is(err, badger.ErrKeyNotFound) {
		p.failure = fmt.Errorf("%w: index %d is already written on disk (%v)", ErrCorrupt, q.fr.size, err)
		return p
	}

	b := newBatchBuilder(q.fr.clone(), now)
	pre, err := q.preflight(batch, limits, b.receivedBytes)
	if err != nil {
		p.failure = err
		return p
	}
	for ri, r := range batch {
		for i, ev := range r.events {
			slot := &r.results[i]
			pf := &pre[ri][i]
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
			existing, err := Receipt{}, error(ErrNotFound)
			if pf.stored {
				existing, err = q.existing(p.txn, ev)
			}
			switch {
			case err == nil:
				existing.Duplicate = true
				slot.Receipt = existing
				continue
			case errors.Is(err, ErrAlreadyExists):
				slot.Err = err
				continue
			case !errors.Is(err, ErrNotFound):
				p.failure = err
				return p
			}
			pe, err := b.add(ev, pf.sealed)
			if err != nil {
				slot.Err = err
				continue
			}
			q.inflight[id] = pe
			p.waits = append(p.waits, deferred{slot: slot, p: pe})
		}
	}
	if len(b.entries) == 0 {
		return p
	}
	cfg := s.cfg
	sign := cfg.checkpointInterval == 0 || cfg.now().Sub(q.lastCheckpoint) >= cfg.checkpointInterval
	cp, err := b.write(p.txn, s, sign)
	if err != nil {
		p.failure = err
		return p
	}
	if sign {
		p.cp, p.signed = cp, true
		q.lastCheckpoint = cfg.now()
	}
	p.b = b
	q.fr = b.fr
	return p
}

// preflighted is the work on one event that does not depend on the others:
// its size check, validation, encoding and sealing, and whether its id is
// stored.
type preflighted struct {
	sealed *sealed
	err    error
	stored bool // the id is in the database (or the lookup failed: check again in order)
}

// preflight does the independent work on every event of a batch, on all
// cores when the batch is large: it is most of the CPU an append costs.
// Lookups see every committed batch (prepare settled first); batches still
// in flight are covered by the in-flight map, checked in order afterwards.
func (q *sequencer) preflight(batch []*request, limits event.Limits, receivedAt []byte) ([][]preflighted, error) {
	out := make([][]preflighted, len(batch))
	type job struct{ r, i int }
	var jobs []job
	for ri, r := range batch {
		out[ri] = make([]preflighted, len(r.events))
		for i := range r.events {
			jobs = append(jobs, job{ri, i})
		}
	}
	salts := make([]byte, saltSize*len(jobs))
	if _, err := rand.Read(salts); err != nil {
		return nil, fmt.Errorf("store: reading random salts: %w", err)
	}
	do := func(first int, js []job) {
		_ = q.s.db.View(func(txn *badger.Txn) error {
			for k, j := range js {
				r, pf := batch[j.r], &out[j.r][j.i]
				if sz := r.sizes[j.i]; sz > q.s.cfg.maxEventBytes {
					pf.err = fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, sz, q.s.cfg.maxEventBytes)
					continue
				}
				enc, err := event.Encode(r.events[j.i], limits)
				if err != nil {
					pf.err = err
					continue
				}
				salt := salts[(first+k)*saltSize : (first+k+1)*saltSize : (first+k+1)*saltSize]
				pf.sealed = seal(enc, receivedAt, r.principal, salt)
				_, err = txn.Get(idKey(r.events[j.i].GetEventId()))
				pf.stored = !errors.Is(err, badger.ErrKeyNotFound)
			}
			return nil
		})
	}
	workers := runtime.GOMAXPROCS(0)
	if len(jobs) < 64 || workers < 2 {
		do(0, jobs)
		return out, nil
	}
	var wg sync.WaitGroup
	per := (len(jobs) + workers - 1) / workers
	for w := 0; w < len(jobs); w += per {
		wg.Add(1)
		go func(first int, js []job) {
			defer wg.Done()
			do(first, js)
		}(w, jobs[w:min(w+per, len(jobs))])
	}
	wg.Wait()
	return out, nil
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
	if p.txn != nil {
		defer p.txn.Discard()
	}
	if p.failure == nil {
		p.failure = s.failed()
	}
	if p.failure != nil {
		q.fail(p.reqs, p.failure)
		return
	}
	if p.b != nil {
		if err := p.txn.Commit(); err != nil {
			q.fail(p.reqs, fmt.Errorf("%w: committing batch of %d events: %v", ErrFailed, len(p.b.entries), err))
			return
		}
		h := s.head.Load()
		cp := h.checkpoint
		if p.signed {
			cp = p.cp
		}
		next := &head{size: p.b.fr.size, root: p.b.root, checkpoint: cp, changed: make(chan struct{})}
		old := s.head.Swap(next)
		close(old.changed)
	}
	for _, w := range p.waits {
		w.slot.Receipt = w.p.receipt
		w.slot.Receipt.Duplicate = w.dup
	}
}

// existing looks an event id up in the log: ErrNotFound when it is new, its
// receipt when the stored event equals ev, ErrAlreadyExists when it differs.
func (q *sequencer) existing(txn *badger.Txn, ev *agenttrailv1.Event) (Receipt, error) {
	val, err := getValue(txn, idKey(ev.GetEventId()))
	if err != nil {
		return Receipt{}, err
	}
	index, err := decodeU64(val)
	if err != nil {
		return Receipt{}, err
	}
	e, err := readEntry(txn, index, true)
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

// batchBuilder turns accepted events into the keys of one transaction.
type batchBuilder struct {
	fr            *frontier
	first         uint64
	received      time.Time
	receivedBytes []byte // the encoded received-at Timestamp
	entries       []*pending
	records       [][]byte
	contents      [][]byte
	hashes        []tlog.Hash
	postings      map[postingKey][]uint64
	times         map[uint64][]uint64
	salts         []byte
	root          tlog.Hash
}

type postingKey struct {
	field byte
	value string
}

func newBatchBuilder(fr *frontier, received time.Time) *batchBuilder {
	return &batchBuilder{
		fr:            fr,
		first:         fr.size,
		received:      received,
		receivedBytes: mustMarshal(timestamppb.New(received)),
		postings:      map[postingKey][]uint64{},
		times:         map[uint64][]uint64{},
	}
}

// sealed is an event ready for the log: its leaf data (the EventHeader
// bytes and the salted content digest), leaf hash, and content record.
type sealed struct {
	leafData      []byte
	leafHash      tlog.Hash
	contentRecord []byte
}

// seal wraps an encoded event's header in an EventHeader with the received
// time and principal, salts and digests its content, and hashes the leaf.
// It needs nothing but the event, so preflight runs it on every core.
func seal(enc event.Encoded, receivedAt []byte, principal string, salt []byte) *sealed {
	hb := encodeEventHeader(enc.Header, receivedAt, principal)
	ld := leafData(hb, contentDigest(salt, enc.Content))
	return &sealed{leafData: ld, leafHash: leafHash(ld), contentRecord: encodeContentRecord(salt, enc.Content)}
}

// add sequences one sealed event: it takes the next index, extends the
// tree, and notes the event in the index postings.
func (b *batchBuilder) add(ev *agenttrailv1.Event, sealed *sealed) (*pending, error) {
	index := b.fr.size
	lh := sealed.leafHash
	hs, err := b.fr.add(lh)
	if err != nil {
		return nil, err
	}
	b.hashes = append(b.hashes, hs...)
	b.records = append(b.records, sealed.leafData)
	b.contents = append(b.contents, sealed.contentRecord)

	post := func(field byte, value string) {
		if value != "" {
			k := postingKey{field, value}
			b.postings[k] = append(b.postings[k], index)
		}
	}
	post(fieldSession, ev.GetSessionId())
	post(fieldAgent, ev.GetAgentId())
	post(fieldUser, ev.GetUserId())
	post(fieldKind, kindValue(event.KindOf(ev)))
	post(fieldTool, event.ToolName(ev))
	if event.IsFailure(ev) {
		b.postings[postingKey{fieldFailure, ""}] = append(b.postings[postingKey{fieldFailure, ""}], index)
	}
	hour := hourOf(ev.GetOccurredAt().AsTime())
	b.times[hour] = append(b.times[hour], index)

	p := &pending{ev: ev, receipt: Receipt{EventID: ev.GetEventId(), Index: index, LeafHash: lh, ReceivedAt: b.received}}
	b.entries = append(b.entries, p)
	return p, nil
}

// encodeEventHeader encodes an agenttrail.v1.EventHeader from the encoded
// header event and received-at time, exactly as deterministic Marshal of
// the message would (fields in number order, empty principal omitted).
func encodeEventHeader(event, receivedAt []byte, principal string) []byte {
	b := make([]byte, 0, len(event)+len(receivedAt)+len(principal)+12)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, event)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, receivedAt)
	if principal != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, principal)
	}
	return b
}

func mustMarshal(m proto.Message) []byte {
	b, err := deterministic.Marshal(m)
	if err != nil {
		panic(err) // only for messages built here, which always encode
	}
	return b
}

// kindValue is the posting value of an event kind: its number, two bytes.
func kindValue(k agenttrailv1.EventKind) string {
	return string([]byte{byte(k >> 8), byte(k)})
}

// write puts every key of the batch into txn, and, when sign is set, the
// checkpoint of the new tree.
func (b *batchBuilder) write(txn *badger.Txn, s *Store, sign bool) (Checkpoint, error) {
	set := func(k, v []byte) error {
		if err := txn.Set(k, v); err != nil {
			return fmt.Errorf("store: staging batch: %w", err)
		}
		return nil
	}
	for i, p := range b.entries {
		idx := b.first + uint64(i)
		if err := set(recordKey(idx), b.records[i]); err != nil {
			return Checkpoint{}, err
		}
		if err := set(contentKey(idx), b.contents[i]); err != nil {
			return Checkpoint{}, err
		}
		if err := set(idKey(p.ev.GetEventId()), encodeU64(idx)); err != nil {
			return Checkpoint{}, err
		}
	}
	if err := set(hashesKey(uint64(tlog.StoredHashIndex(0, int64(b.first)))), encodeHashes(b.hashes)); err != nil {
		return Checkpoint{}, err
	}
	for k, list := range b.postings {
		if err := set(postingsKey(k.field, k.value, list[0]), encodePostings(list)); err != nil {
			return Checkpoint{}, err
		}
	}
	for hour, list := range b.times {
		if err := set(timeKey(hour, list[0]), encodePostings(list)); err != nil {
			return Checkpoint{}, err
		}
	}
	root, err := b.fr.root()
	if err != nil {
		return Checkpoint{}, err
	}
	b.root = root
	if err := set(sizeKey(b.fr.size), root[:]); err != nil {
		return Checkpoint{}, err
	}
	if !sign {
		return Checkpoint{}, nil
	}
	cp, err := signCheckpoint(s.signer, s.origin, b.fr.size, root)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := set(checkpointKey(cp.Size), cp.Note); err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}
