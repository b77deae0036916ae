package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// ErasureRequest says whose content to erase. Exactly one of UserID,
// SessionID and EventIDs is set.
type ErasureRequest struct {
	// Principal is who asks, recorded in the Erasure event.
	Principal string
	// Reason is why, such as a data subject request's reference: required.
	Reason string
	// UserID erases every event of a pseudonymous subject, and the events
	// without a user_id of every session in which the subject appears.
	UserID string
	// SessionID erases every event of a session.
	SessionID string
	// EventIDs erases these events (at most MaxErasureIDs).
	EventIDs []string
}

// MaxErasureIDs is the most event ids one erasure may list.
const MaxErasureIDs = 10000

// maxLifecycleRanges bounds the runs of log indexes one Erasure or
// Retention event names, so that the event and its intent record stay well
// inside one driver transaction (about 20 bytes a run).
const maxLifecycleRanges = 50_000

// ErasureResult is what an erasure did.
type ErasureResult struct {
	// Index is the log index of the Erasure event; meaningless when Count
	// is 0.
	Index uint64
	// Count is the number of events whose content the erasure destroyed.
	Count uint64
	// Ranges are their log indexes.
	Ranges []IndexRange
	// AlreadyErased is set when every matching event had been erased
	// already: Index is then the latest erasure among theirs, Count the
	// number of matching events, and nothing was written.
	AlreadyErased bool
}

func (r ErasureRequest) check() error {
	n := 0
	for _, f := range []struct {
		name string
		set  bool
		ok   bool
	}{
		{"user_id", r.UserID != "", event.IsID(r.UserID)},
		{"session_id", r.SessionID != "", event.IsID(r.SessionID)},
		{"event_ids", len(r.EventIDs) > 0, true},
	} {
		if !f.set {
			continue
		}
		n++
		if !f.ok {
			return fmt.Errorf("%w: %s must be an id: 1 to %d characters from [A-Za-z0-9._:-]", ErrInvalidArgument, f.name, event.MaxIDLen)
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: an erasure names exactly one of user_id, session_id and event_ids", ErrInvalidArgument)
	}
	if len(r.EventIDs) > MaxErasureIDs {
		return fmt.Errorf("%w: event_ids: at most %d per erasure", ErrInvalidArgument, MaxErasureIDs)
	}
	seen := make(map[string]bool, len(r.EventIDs))
	for i, id := range r.EventIDs {
		if !event.IsID(id) {
			return fmt.Errorf("%w: event_ids[%d] must be an event id: 1 to %d characters from [A-Za-z0-9._:-]", ErrInvalidArgument, i, event.MaxIDLen)
		}
		if seen[id] {
			return fmt.Errorf("%w: event_ids[%d] repeats an earlier id", ErrInvalidArgument, i)
		}
		seen[id] = true
	}
	return checkReason(r.Reason)
}

// errAlreadyErased answers an erasure that finds nothing left to erase.
type errAlreadyErased struct{ res ErasureResult }

func (e *errAlreadyErased) Error() string { return "store: already erased" }

// Erase destroys the content of a subject's, a session's or listed events
// by crypto-shredding: it writes one Erasure event naming every log index
// affected, then destroys the keys that decrypt their content (the
// subject's keys, or the events' own), so that no copy of the storage can
// decrypt it again. Headers and digests stay: every view shows the events
// as erased, with the index of the Erasure event, and they still verify.
//
// It is idempotent: when every matching event is erased already, it
// returns the erasure that did it and writes nothing. An erasure that would
// erase an event a legal hold covers is refused with a *HeldError
// (ErrHeld), writing nothing. Erasing server records (access, erasure,
// retention, hold and policy events) by id is ErrInvalidArgument; an
// unknown event id is ErrNotFound. A plaintext store cannot erase
// (ErrConflict).
//
// Erase returns once the keys are destroyed. When it fails after the
// Erasure event committed, the next Open finishes the destruction.
func (s *Store) Erase(ctx context.Context, req ErasureRequest) (ErasureResult, error) {
	if err := req.check(); err != nil {
		return ErasureResult{}, err
	}
	if s.keys == nil {
		return ErasureResult{}, fmt.Errorf("%w: this store keeps content in the clear (format %s), which cannot be crypto-shredded: migrate it first", ErrConflict, FormatPlaintext)
	}
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if TestHookErasure != nil {
		TestHookErasure("logging", 0)
	}
	var ids map[string]uint64
	if len(req.EventIDs) > 0 {
		var err error
		if ids, err = s.lookupErasureIDs(ctx, req.EventIDs); err != nil {
			return ErasureResult{}, err
		}
	}
	// Most of the reading happens here, while appends go on; the sequencer
	// then reads only what committed since.
	size0, _ := s.Size()
	var m matcher
	if err := m.read(ctx, s, req, ids, 0, size0); err != nil {
		return ErasureResult{}, err
	}
	var res ErasureResult
	var in intent
	op := &lifecycleOp{build: func(q *sequencer, next uint64) (opPlan, error) {
		// Holds and erasures other servers logged count too.
		if err := s.loadLifecycleState(ctx); err != nil {
			return opPlan{}, err
		}
		if err := m.read(ctx, s, req, ids, size0, next); err != nil {
			return opPlan{}, err
		}
		plan, r, inn, err := s.planErasure(ctx, req, m.sorted(), next)
		res, in = r, inn
		return plan, err
	}}
	rcpt, err := s.runOp(ctx, op)
	var done *errAlreadyErased
	switch {
	case errors.As(err, &done):
		return done.res, nil
	case err != nil:
		return ErasureResult{}, err
	}
	res.Index = rcpt.Index
	if TestHookErasure != nil {
		TestHookErasure("destroying", rcpt.Index)
	}
	err = s.reading(ctx, func() error { return s.destroy(context.WithoutCancel(ctx), rcpt.Index, in) })
	if err != nil {
		return res, fmt.Errorf("the erasure is logged at index %d and will finish when the store next opens: %w", rcpt.Index, err)
	}
	return res, nil
}

// lookupErasureIDs finds the log index of every event id, or fails naming
// the first that is not stored.
func (s *Store) lookupErasureIDs(ctx context.Context, ids []string) (map[string]uint64, error) {
	var found map[string]uint64
	err := s.reading(ctx, func() error {
		var err error
		found, err = s.d.LookupIDs(ctx, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if _, ok := found[id]; !ok {
			return nil, fmt.Errorf("%w: event_ids[%d]: no event with this id", ErrNotFound, i)
		}
	}
	return found, nil
}

// erasureMatch is an event an erasure names.
type erasureMatch struct {
	index  uint64
	header *agenttrailv1.Event
}

// matcher collects the events an erasure request names, read in two
// parts: the log as it was when the erasure began, and then, in the
// sequencer, what committed since.
type matcher struct {
	found    map[uint64]*agenttrailv1.Event
	sessions map[string]bool // for an erasure by subject: the subject's sessions
}

// read adds the events of [lo, hi) the request names.
func (m *matcher) read(ctx context.Context, s *Store, req ErasureRequest, ids map[string]uint64, lo, hi uint64) error {
	if m.found == nil {
		m.found, m.sessions = map[uint64]*agenttrailv1.Event{}, map[string]bool{}
	}
	scan := func(f Filter, from uint64, keep func(*agenttrailv1.Event) bool) error {
		if from >= hi {
			return nil
		}
		return s.reading(ctx, func() error {
			for raw, err := range s.d.Scan(ctx, ScanRequest{Filter: &f, Lo: from, Hi: hi}) {
				if err != nil {
					return err
				}
				e, err := decodeHeader(raw)
				if err != nil {
					return err
				}
				if f.matches(e.Header) && keep(e.Header) {
					m.found[e.Index] = e.Header
				}
			}
			return nil
		})
	}
	all := func(*agenttrailv1.Event) bool { return true }
	switch {
	case req.SessionID != "":
		return scan(Filter{SessionID: req.SessionID}, lo, all)
	case req.UserID != "":
		// The subject's sessions may hold events without a user_id: they
		// are the subject's too.
		known := maps.Clone(m.sessions)
		if err := scan(Filter{UserID: req.UserID}, lo, func(h *agenttrailv1.Event) bool {
			if h.GetSessionId() != "" {
				m.sessions[h.GetSessionId()] = true
			}
			return true
		}); err != nil {
			return err
		}
		noUser := func(h *agenttrailv1.Event) bool { return h.GetUserId() == "" }
		for _, sid := range sortedKeys(m.sessions) {
			from := uint64(0) // a session first seen now: all of it
			if known[sid] {
				from = lo // one read before: what is new
			}
			if err := scan(Filter{SessionID: sid}, from, noUser); err != nil {
				return err
			}
		}
		return nil
	}
	for _, i := range ids {
		if i < lo || i >= hi {
			continue
		}
		var e *Entry
		err := s.reading(ctx, func() error {
			var err error
			e, err = s.readEntry(ctx, i, false)
			return err
		})
		if err != nil {
			return err
		}
		m.found[i] = e.Header
	}
	return nil
}

// sorted returns the events found, in log order.
func (m *matcher) sorted() []erasureMatch {
	out := make([]erasureMatch, 0, len(m.found))
	for i, h := range m.found {
		out = append(out, erasureMatch{i, h})
	}
	slices.SortFunc(out, func(a, b erasureMatch) int { return cmpU64(a.index, b.index) })
	return out
}

// planErasure decides what an erasure destroys, given every event it
// matches below next, the index its event will take.
func (s *Store) planErasure(ctx context.Context, req ErasureRequest, matches []erasureMatch, next uint64) (opPlan, ErasureResult, intent, error) {
	var res ErasureResult
	var in intent
	var fresh []uint64
	isFresh := map[uint64]bool{}
	var lastBy uint64
	covered := 0
	for _, m := range matches {
		kind := event.KindOf(m.header)
		if event.IsServerKind(kind) {
			if len(req.EventIDs) > 0 {
				return opPlan{}, res, in, fmt.Errorf("%w: event %d is a record the server writes (%s), which is never erased", ErrInvalidArgument, m.index, kindShort(kind))
			}
			continue
		}
		if by, ok := s.cov.erasedBy(m.index); ok {
			lastBy = max(lastBy, by)
			covered++
			continue
		}
		if h, ok := s.heldBy(m.header); ok {
			return opPlan{}, res, in, &HeldError{Hold: h, Index: m.index}
		}
		fresh = append(fresh, m.index)
		isFresh[m.index] = true
	}
	if len(fresh) == 0 {
		if covered == 0 {
			return opPlan{}, res, in, &errAlreadyErased{ErasureResult{}} // nothing matched
		}
		return opPlan{}, res, in, &errAlreadyErased{ErasureResult{Index: lastBy, Count: uint64(covered), AlreadyErased: true}}
	}
	res.Ranges = rangesOf(fresh)
	res.Count = uint64(len(fresh))
	if len(res.Ranges) > maxLifecycleRanges {
		return opPlan{}, res, in, fmt.Errorf("%w: the erasure would name %d events in %d runs of log indexes, more than one Erasure event lists (%d runs): erase by session, or by event ids, in parts", ErrInvalidArgument, res.Count, len(res.Ranges), maxLifecycleRanges)
	}

	// The keys to destroy: whole subject keys where the erasure takes every
	// event they encrypt, content keys for the rest.
	var subjects []subject
	switch {
	case req.UserID != "":
		subjects = append(subjects, subject{subjectUser, req.UserID})
		for _, m := range matches {
			if m.header.GetUserId() == "" && m.header.GetSessionId() != "" {
				subjects = append(subjects, subject{subjectSession, m.header.GetSessionId()})
			}
		}
	case req.SessionID != "":
		subjects = append(subjects, subject{subjectSession, req.SessionID})
	}
	byKey := map[subject]bool{}
	for _, subj := range subjects {
		if byKey[subj] {
			continue
		}
		byKey[subj] = true
		for rec, err := range s.d.KeysWithPrefix(ctx, subj.prefix()) {
			if err != nil {
				return opPlan{}, res, in, err
			}
			if got, _, ok := parseSubjectKeyName(rec.Name); ok && got == subj {
				in.subjectKeys = append(in.subjectKeys, rec.Name)
			}
		}
	}
	var eventKeys []uint64
	for _, m := range matches {
		if isFresh[m.index] && !byKey[subjectOf(m.header)] {
			eventKeys = append(eventKeys, m.index)
		}
	}
	in.eventKeys = rangesOf(eventKeys)

	er := &agenttrailv1.Erasure{
		Principal:      req.Principal,
		UserId:         req.UserID,
		SessionId:      req.SessionID,
		Reason:         req.Reason,
		EventsAffected: res.Count,
	}
	setErasedIndexes(er, res.Ranges)
	ev := s.lifecycleEvent(&agenttrailv1.Event_Erasure{Erasure: er})
	plan := opPlan{
		event:     ev,
		records:   []LifecycleRecord{{Name: lifecycleName(lifecycleIntent, next), Value: encodeIntent(in)}},
		retire:    in.subjectKeys,
		committed: func(index uint64) { s.cov.add(index, res.Ranges); s.claims.add(index, res.Ranges) },
	}
	return plan, res, in, nil
}

// setErasedIndexes lists indexes in an Erasure event: one by one when few,
// as ranges when many.
func setErasedIndexes(er *agenttrailv1.Erasure, rs []IndexRange) {
	if countRanges(rs) <= 64 {
		for _, r := range rs {
			for i := r.First; i <= r.Last; i++ {
				er.LogIndexes = append(er.LogIndexes, i)
			}
		}
		return
	}
	er.Ranges = rangeMessages(rs)
}

func kindShort(k agenttrailv1.EventKind) string {
	name := k.String()
	if len(name) > len("EVENT_KIND_") {
		return name[len("EVENT_KIND_"):]
	}
	return name
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
