package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// request is one Append call waiting for the sequencer.
type request struct {
	principal string
	events    []*agenttrailv1.Event
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
	if len(events) == 0 {
		return nil, nil
	}
	if len(events) > s.cfg.maxBatchEvents {
		return nil, fmt.Errorf("%w: %d events in one call, at most %d", ErrInvalidArgument, len(events), s.cfg.maxBatchEvents)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := &request{principal: principal, events: events, results: make([]Result, len(events)), done: make(chan struct{})}
	for _, ev := range events {
		req.bytes += proto.Size(ev)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	if err := s.failed(); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	select {
	case s.queue <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return nil, ctx.Err()
	}
	select {
	case <-req.done:
		if req.err != nil {
			return nil, req.err
		}
		return req.results, nil
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

// sequence is the sequencer: the one goroutine that writes the log. It forms
// batches from queued requests, commits each in one transaction, and signs
// checkpoints. It returns when the queue is closed and drained.
func (s *Store) sequence(fr *frontier) {
	defer close(s.seqDone)
	seq := &sequencer{s: s, fr: fr, lastCheckpoint: s.cfg.now()}
	var carry *request
	for {
		var first *request
		if carry != nil {
			first, carry = carry, nil
		} else {
			select {
			case r, ok := <-s.queue:
				if !ok {
					seq.signIfBehind()
					return
				}
				first = r
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
		seq.commit(batch)
	}
}

// sequencer is the state the sequencer goroutine owns.
type sequencer struct {
	s              *Store
	fr             *frontier
	lastReceived   time.Time
	lastCheckpoint time.Time
	timer          *time.Timer
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

// signIfBehind signs a checkpoint of the current tree when the latest one
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
	q.publish(&head{size: h.size, root: h.root, checkpoint: cp, changed: make(chan struct{})})
}

func (q *sequencer) publish(h *head) {
	old := q.s.head.Swap(h)
	close(old.changed)
}

// pending is an event accepted into the batch being built.
type pending struct {
	ev      *agenttrailv1.Event
	receipt Receipt
}

// deferred is a result that depends on the batch committing: a new event's
// receipt, or the receipt of an event earlier in the same batch.
type deferred struct {
	slot *Result
	p    *pending
	dup  bool
}

// commit validates, sequences and commits one batch, then answers its
// requests. On a write error the store fails: every request of the batch and
// every later append gets ErrFailed.
func (q *sequencer) commit(batch []*request) {
	s := q.s
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	if err := s.failed(); err != nil {
		failAll(batch, err)
		return
	}
	now := s.cfg.now().UTC()
	if now.Before(q.lastReceived) {
		now = q.lastReceived // received-at never goes backwards
	}
	limits := event.Limits{Now: now, MaxClockSkew: s.cfg.clockSkew}

	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	h := s.head.Load()
	if size, _, err := latestSize(txn); err != nil || size != h.size {
		q.fail(batch, fmt.Errorf("%w: tree size on disk %d, in memory %d (%v)", ErrCorrupt, size, h.size, err))
		return
	}

	b := newBatchBuilder(q.fr.clone(), now)
	var waits []deferred
	byID := map[string]*pending{}
	for _, r := range batch {
		for i, ev := range r.events {
			slot := &r.results[i]
			if sz := proto.Size(ev); sz > s.cfg.maxEventBytes {
				slot.Err = fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, sz, s.cfg.maxEventBytes)
				continue
			}
			if err := event.Validate(ev, limits); err != nil {
				slot.Err = err
				continue
			}
			id := ev.GetEventId()
			if p, ok := byID[id]; ok {
				if proto.Equal(p.ev, ev) {
					waits = append(waits, deferred{slot: slot, p: p, dup: true})
				} else {
					slot.Err = fmt.Errorf("%w: event id earlier in the same batch", ErrAlreadyExists)
				}
				continue
			}
			existing, err := q.existing(txn, ev)
			if err != nil && !errors.Is(err, ErrNotFound) {
				if errors.Is(err, ErrAlreadyExists) {
					slot.Err = err
					continue
				}
				q.fail(batch, err)
				return
			}
			if err == nil {
				existing.Duplicate = true
				slot.Receipt = existing
				continue
			}
			p, err := b.add(ev, r.principal)
			if err != nil {
				slot.Err = err
				continue
			}
			byID[id] = p
			waits = append(waits, deferred{slot: slot, p: p})
		}
	}
	if len(b.entries) == 0 {
		return
	}

	cp, signed, err := b.write(txn, q, h)
	if err != nil {
		q.fail(batch, err)
		return
	}
	if err := txn.Commit(); err != nil {
		q.fail(batch, fmt.Errorf("%w: committing batch of %d events: %v", ErrFailed, len(b.entries), err))
		return
	}
	q.fr = b.fr
	q.lastReceived = now
	if !signed {
		cp = h.checkpoint
	} else {
		q.lastCheckpoint = s.cfg.now()
	}
	q.publish(&head{size: b.fr.size, root: b.root, checkpoint: cp, changed: make(chan struct{})})
	for _, w := range waits {
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

// fail marks the store failed and answers the batch.
func (q *sequencer) fail(batch []*request, err error) {
	if !errors.Is(err, ErrFailed) {
		err = fmt.Errorf("%w: %w", ErrFailed, err)
	}
	q.s.failure.CompareAndSwap(nil, &err)
	q.s.log.Error("store failed; appends are refused until it is reopened", slog.Any("error", err))
	failAll(batch, err)
}

func failAll(batch []*request, err error) {
	for _, r := range batch {
		r.err = err
	}
}

// batchBuilder turns accepted events into the keys of one transaction.
type batchBuilder struct {
	fr         *frontier
	first      uint64
	received   time.Time
	receivedPB *timestamppb.Timestamp
	entries    []*pending
	records    [][]byte
	contents   [][]byte
	hashes     []tlog.Hash
	postings   map[postingKey][]uint64
	times      map[uint64][]uint64
	salts      []byte
	root       tlog.Hash
}

type postingKey struct {
	field byte
	value string
}

func newBatchBuilder(fr *frontier, received time.Time) *batchBuilder {
	return &batchBuilder{
		fr:         fr,
		first:      fr.size,
		received:   received,
		receivedPB: timestamppb.New(received),
		postings:   map[postingKey][]uint64{},
		times:      map[uint64][]uint64{},
	}
}

// add sequences one validated event: splits it, encodes its header and
// content, salts and digests the content, and extends the tree.
func (b *batchBuilder) add(ev *agenttrailv1.Event, principal string) (*pending, error) {
	index := b.fr.size
	header, content := event.Split(ev)
	hb, err := deterministic.Marshal(&agenttrailv1.EventHeader{Event: header, ReceivedAt: b.receivedPB, Principal: principal})
	if err != nil {
		return nil, fmt.Errorf("%w: encoding header: %v", ErrInvalidEvent, err)
	}
	cb, err := deterministic.Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding content: %v", ErrInvalidEvent, err)
	}
	if len(b.salts) < saltSize {
		b.salts = make([]byte, saltSize*64)
		if _, err := rand.Read(b.salts); err != nil {
			return nil, fmt.Errorf("store: reading random salt: %w", err)
		}
	}
	salt := b.salts[:saltSize:saltSize]
	b.salts = b.salts[saltSize:]
	ld := leafData(hb, contentDigest(salt, cb))
	lh := leafHash(ld)
	hs, err := b.fr.add(lh)
	if err != nil {
		return nil, err
	}
	b.hashes = append(b.hashes, hs...)
	b.records = append(b.records, ld)
	b.contents = append(b.contents, encodeContentRecord(salt, cb))

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

// kindValue is the posting value of an event kind: its number, two bytes.
func kindValue(k agenttrailv1.EventKind) string {
	return string([]byte{byte(k >> 8), byte(k)})
}

// write puts every key of the batch into txn, and the checkpoint of the new
// tree when one is due.
func (b *batchBuilder) write(txn *badger.Txn, q *sequencer, h *head) (Checkpoint, bool, error) {
	set := func(k, v []byte) error {
		if err := txn.Set(k, v); err != nil {
			return fmt.Errorf("store: staging batch: %w", err)
		}
		return nil
	}
	for i, p := range b.entries {
		idx := b.first + uint64(i)
		if err := set(recordKey(idx), b.records[i]); err != nil {
			return Checkpoint{}, false, err
		}
		if err := set(contentKey(idx), b.contents[i]); err != nil {
			return Checkpoint{}, false, err
		}
		if err := set(idKey(p.ev.GetEventId()), encodeU64(idx)); err != nil {
			return Checkpoint{}, false, err
		}
	}
	if err := set(hashesKey(uint64(tlog.StoredHashIndex(0, int64(b.first)))), encodeHashes(b.hashes)); err != nil {
		return Checkpoint{}, false, err
	}
	for k, list := range b.postings {
		if err := set(postingsKey(k.field, k.value, list[0]), encodePostings(list)); err != nil {
			return Checkpoint{}, false, err
		}
	}
	for hour, list := range b.times {
		if err := set(timeKey(hour, list[0]), encodePostings(list)); err != nil {
			return Checkpoint{}, false, err
		}
	}
	root, err := b.fr.root()
	if err != nil {
		return Checkpoint{}, false, err
	}
	b.root = root
	if err := set(sizeKey(b.fr.size), root[:]); err != nil {
		return Checkpoint{}, false, err
	}
	cfg := q.s.cfg
	if cfg.checkpointInterval > 0 && cfg.now().Sub(q.lastCheckpoint) < cfg.checkpointInterval {
		return Checkpoint{}, false, nil
	}
	cp, err := signCheckpoint(q.s.signer, q.s.origin, b.fr.size, root)
	if err != nil {
		return Checkpoint{}, false, err
	}
	if err := set(checkpointKey(cp.Size), cp.Note); err != nil {
		return Checkpoint{}, false, err
	}
	return cp, true, nil
}
