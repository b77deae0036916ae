package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// The content lifecycle: erasure, retention and legal holds. Its state is
// the log itself: Erasure and Retention events say which content is gone
// (coverage), LegalHold events which holds are in force, and
// RetentionPolicyChange events which policies apply. Open reads them back.
//
// Destroying content is crash-safe in this order:
//
//  1. The Erasure (or Retention) event commits, in one batch with a
//     lifecycle record of its intent: the subject keys and content keys to
//     destroy. From then on every view shows the events it names as erased.
//  2. The keys are destroyed (Driver.DestroyKeys), for good.
//  3. A done record is written.
//
// A crash before 1 leaves nothing erased and nothing claimed; a crash after
// 1 and before 3 is finished by the next Open, before it serves anything.

// Lifecycle record names: a kind byte and the log index of the event the
// record belongs to, 8 bytes big-endian.
const (
	lifecycleIntent = 'i'
	lifecycleDone   = 'd'
)

func lifecycleName(kind byte, index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kind}, index)
}

func lifecycleIndex(name []byte) (uint64, bool) {
	if len(name) != 9 {
		return 0, false
	}
	return binary.BigEndian.Uint64(name[1:]), true
}

// intent is what an Erasure or Retention event's destruction of keys
// consists of.
type intent struct {
	subjectKeys [][]byte     // subject key names
	eventKeys   []IndexRange // indexes whose content keys go
}

const intentVersion = 1

func encodeIntent(in intent) []byte {
	b := []byte{intentVersion}
	b = binary.AppendUvarint(b, uint64(len(in.subjectKeys)))
	for _, n := range in.subjectKeys {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	b = binary.AppendUvarint(b, uint64(len(in.eventKeys)))
	for _, r := range in.eventKeys {
		b = binary.AppendUvarint(b, r.First)
		b = binary.AppendUvarint(b, r.Last-r.First)
	}
	return b
}

func decodeIntent(b []byte) (intent, error) {
	var in intent
	bad := fmt.Errorf("%w: erasure intent record", ErrCorrupt)
	if len(b) == 0 || b[0] != intentVersion {
		return in, bad
	}
	b = b[1:]
	next := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	n, ok := next()
	if !ok || n > uint64(len(b)) {
		return in, bad
	}
	for range n {
		l, ok := next()
		if !ok || l > uint64(len(b)) {
			return in, bad
		}
		in.subjectKeys = append(in.subjectKeys, b[:l])
		b = b[l:]
	}
	if n, ok = next(); !ok || n > uint64(len(b)) {
		return in, bad
	}
	for range n {
		first, ok1 := next()
		span, ok2 := next()
		if !ok1 || !ok2 || first+span < first {
			return in, bad
		}
		in.eventKeys = append(in.eventKeys, IndexRange{first, first + span})
	}
	if len(b) != 0 {
		return in, bad
	}
	return in, nil
}

// lifecycleOp is an operation the sequencer runs alone, once every earlier
// batch has committed: it sees the whole log, and no event can slip in
// between what it reads and the event it writes.
type lifecycleOp struct {
	// build returns the plan of the operation, given the index its event
	// will take; an error answers the request and writes nothing.
	build func(q *sequencer, next uint64) (opPlan, error)
}

// opPlan is what a lifecycle operation writes.
type opPlan struct {
	event     *agenttrailv1.Event
	records   []LifecycleRecord
	retire    [][]byte           // subject keys no later event may use
	committed func(index uint64) // runs once the event is durable
}

// prepareOp prepares the batch of a lifecycle operation.
func (q *sequencer) prepareOp(r *request) *prepared {
	q.drain()
	p := &prepared{reqs: []*request{r}}
	if err := q.s.failed(); err != nil {
		p.failure = err
		return p
	}
	plan, err := r.op.build(q, q.fr.size)
	if err != nil {
		r.err = err
		return p
	}
	r.events = []*agenttrailv1.Event{plan.event}
	r.sizes = []int{proto.Size(plan.event)}
	r.bytes = r.sizes[0]
	p = q.prepare([]*request{r}, q.stamp())
	p.op = true
	if p.b == nil || p.failure != nil {
		return p
	}
	p.b.batch.Lifecycle = plan.records
	if len(plan.retire) > 0 {
		// The retired keys' records take the retired mark with the event,
		// so that no server encrypts under them again (a batch that relies
		// on one fails and takes a new key).
		for _, n := range plan.retire {
			p.b.batch.Keys = append(p.b.batch.Keys, KeyRecord{Name: n, Value: retiredRecord})
		}
		q.s.retire(plan.retire)
		q.subjectsMu.Lock()
		for subj, sk := range q.subjects {
			for _, n := range plan.retire {
				if string(sk.name) == string(n) {
					delete(q.subjects, subj)
				}
			}
		}
		q.subjectsMu.Unlock()
	}
	p.committed = plan.committed
	return p
}

// runOp runs a lifecycle operation through the sequencer and returns the
// receipt of its event.
func (s *Store) runOp(ctx context.Context, op *lifecycleOp) (Receipt, error) {
	req := &request{principal: ServerPrincipal, op: op, results: make([]Result, 1), done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return Receipt{}, ErrClosed
	}
	if err := s.failed(); err != nil {
		s.mu.RUnlock()
		return Receipt{}, err
	}
	select {
	case s.queue <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		return Receipt{}, ctx.Err()
	}
	s.mu.RUnlock()
	// The operation runs to its end whatever happens to ctx: it must not
	// be left half done.
	<-req.done
	if errors.Is(req.err, errOpStale) {
		// Another server wrote meanwhile: decide again on the log as it is.
		return s.runOp(ctx, op)
	}
	if req.err != nil {
		return Receipt{}, req.err
	}
	if err := req.results[0].Err; err != nil {
		return Receipt{}, err
	}
	return req.results[0].Receipt, nil
}

// appendServerEvent appends one event the store writes itself and waits
// for its receipt.
func (s *Store) appendServerEvent(ctx context.Context, ev *agenttrailv1.Event) (Receipt, error) {
	res, err := s.Append(context.WithoutCancel(ctx), ServerPrincipal, []*agenttrailv1.Event{ev})
	if err != nil {
		return Receipt{}, err
	}
	if res[0].Err != nil {
		return Receipt{}, res[0].Err
	}
	return res[0].Receipt, nil
}

// lifecycleKinds are the kinds whose events make up the lifecycle state.
var lifecycleKinds = []agenttrailv1.EventKind{
	agenttrailv1.EventKind_EVENT_KIND_ERASURE,
	agenttrailv1.EventKind_EVENT_KIND_RETENTION,
	agenttrailv1.EventKind_EVENT_KIND_LEGAL_HOLD,
	agenttrailv1.EventKind_EVENT_KIND_RETENTION_POLICY,
}

// loadLifecycle reads the lifecycle state back from the log, and finishes
// the destruction of keys that a crash interrupted.
func (s *Store) loadLifecycle(ctx context.Context) error {
	if err := s.loadLifecycleState(ctx); err != nil {
		return err
	}
	if s.keys == nil {
		return nil
	}
	return s.finishPending(ctx)
}

// loadLifecycleState reads the lifecycle state back from the log: the
// lifecycle events of [s.lifeSeen, size), from where it read last.
func (s *Store) loadLifecycleState(ctx context.Context) error {
	size, _ := s.Size()
	if size <= s.lifeSeen {
		return nil
	}
	intents := map[uint64]bool{}
	for rec, err := range s.d.Lifecycle(ctx, []byte{lifecycleIntent}) {
		if err != nil {
			return fmt.Errorf("store: reading lifecycle records: %w", err)
		}
		if i, ok := lifecycleIndex(rec.Name); ok {
			intents[i] = true
		}
	}
	f := &Filter{Kinds: lifecycleKinds}
	for raw, err := range s.d.Scan(ctx, ScanRequest{Filter: f, Lo: s.lifeSeen, Hi: size, Content: true}) {
		if err != nil {
			return fmt.Errorf("store: reading the lifecycle events: %w", err)
		}
		e, err := s.decodeEntry(ctx, raw, true)
		if err != nil {
			return fmt.Errorf("store: reading the lifecycle events: %w", err)
		}
		if !f.matches(e.Header) {
			continue
		}
		ev, err := e.Event()
		if err != nil {
			return err
		}
		s.applyLifecycleEvent(e, ev, intents[e.Index])
	}
	s.lifeSeen = size
	return nil
}

// applyLifecycleEvent updates the lifecycle state with one of its events;
// own is set for the Erasure and Retention events this store's lifecycle
// operations wrote (they have an intent record).
func (s *Store) applyLifecycleEvent(e *Entry, ev *agenttrailv1.Event, own bool) {
	if rs, ok := erasedIndexes(ev); ok {
		s.claims.add(e.Index, rs)
		if own {
			s.cov.add(e.Index, rs)
		}
		return
	}
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_LegalHold:
		s.applyHold(e, p.LegalHold)
	case *agenttrailv1.Event_RetentionPolicy:
		s.policies = policiesFrom(e, p.RetentionPolicy)
	}
}

// finishPending destroys the keys of every logged erasure or retention run
// whose destruction did not finish.
func (s *Store) finishPending(ctx context.Context) error {
	done := map[uint64]bool{}
	for rec, err := range s.d.Lifecycle(ctx, []byte{lifecycleDone}) {
		if err != nil {
			return fmt.Errorf("store: reading lifecycle records: %w", err)
		}
		if i, ok := lifecycleIndex(rec.Name); ok {
			done[i] = true
		}
	}
	var pending []LifecycleRecord
	for rec, err := range s.d.Lifecycle(ctx, []byte{lifecycleIntent}) {
		if err != nil {
			return fmt.Errorf("store: reading lifecycle records: %w", err)
		}
		if i, ok := lifecycleIndex(rec.Name); ok && !done[i] {
			pending = append(pending, rec)
		}
	}
	for _, rec := range pending {
		i, _ := lifecycleIndex(rec.Name)
		in, err := decodeIntent(rec.Value)
		if err != nil {
			return err
		}
		s.log.WarnContext(ctx, "finishing an erasure a crash interrupted", slog.Uint64("event_index", i))
		if err := s.destroy(ctx, i, in); err != nil {
			return err
		}
	}
	return nil
}

// destroy destroys the keys of an intent and records that it is done.
func (s *Store) destroy(ctx context.Context, index uint64, in intent) error {
	names := make([][]byte, 0, len(in.subjectKeys)+int(min(countRanges(in.eventKeys), 1<<20)))
	names = append(names, in.subjectKeys...)
	for _, r := range in.eventKeys {
		for i := r.First; ; i++ {
			names = append(names, EventKeyName(i))
			if i == r.Last {
				break
			}
		}
	}
	s.recent.clear() // it may hold some of these keys
	if err := s.d.DestroyKeys(ctx, names); err != nil {
		return fmt.Errorf("store: destroying the keys of event %d: %w", index, err)
	}
	s.keys.forget(in.subjectKeys)
	s.unretire(in.subjectKeys)
	if TestHookErasure != nil {
		TestHookErasure("destroyed", index)
	}
	err := s.d.PutLifecycle(ctx, LifecycleRecord{Name: lifecycleName(lifecycleDone, index), Value: []byte{1}})
	if err != nil && !errors.Is(err, ErrAlreadyExists) {
		return fmt.Errorf("store: recording that the erasure of event %d is done: %w", index, err)
	}
	return nil
}

// TestHookErasure, when set, is called at each step of an erasure or
// retention run: "logging" before its event is submitted, "destroying"
// once the event is durable and before its keys are destroyed, "destroyed"
// once they are and before the done record. The index is the event's (0
// for "logging"). It exists for crash tests, which kill the process there;
// never set it elsewhere.
var TestHookErasure func(step string, index uint64)

// refreshClaims reads the Erasure and Retention events committed since it
// last looked (by other servers on shared storage) into the claims.
func (s *Store) refreshClaims(ctx context.Context) {
	s.claimsMu.Lock()
	defer s.claimsMu.Unlock()
	size, _ := s.Size()
	if size <= s.claimsSeen {
		return
	}
	f := &Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ERASURE, agenttrailv1.EventKind_EVENT_KIND_RETENTION}}
	for raw, err := range s.d.Scan(ctx, ScanRequest{Filter: f, Lo: s.claimsSeen, Hi: size}) {
		if err != nil {
			return
		}
		e, err := decodeHeader(raw)
		if err != nil {
			return
		}
		if rs, ok := erasedIndexes(e.Header); ok {
			s.claims.add(e.Index, rs)
		}
	}
	s.claimsSeen = size
}
