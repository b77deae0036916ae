package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// HoldScope is what a legal hold covers: the events of one subject
// (user_id), one session or one agent. Exactly one field is set.
type HoldScope struct {
	UserID    string
	SessionID string
	AgentID   string
}

// String names the scope, such as "user_id u-42".
func (h HoldScope) String() string {
	switch {
	case h.UserID != "":
		return "user_id " + h.UserID
	case h.SessionID != "":
		return "session_id " + h.SessionID
	}
	return "agent_id " + h.AgentID
}

// check reports a scope that does not set exactly one valid id.
func (h HoldScope) check() error {
	n := 0
	for _, f := range []struct{ name, v string }{{"user_id", h.UserID}, {"session_id", h.SessionID}, {"agent_id", h.AgentID}} {
		if f.v == "" {
			continue
		}
		n++
		if !event.IsID(f.v) {
			return fmt.Errorf("%w: %s must be an id: 1 to %d characters from [A-Za-z0-9._:-]", ErrInvalidArgument, f.name, event.MaxIDLen)
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: a hold covers exactly one of user_id, session_id and agent_id", ErrInvalidArgument)
	}
	return nil
}

// covers reports whether the scope covers an event, from its header.
func (h HoldScope) covers(ev *agenttrailv1.Event) bool {
	switch {
	case h.UserID != "":
		return ev.GetUserId() == h.UserID
	case h.SessionID != "":
		return ev.GetSessionId() == h.SessionID
	}
	return h.AgentID != "" && ev.GetAgentId() == h.AgentID
}

// Hold is a legal hold in force: while it is, the content of the events it
// covers is neither expired by retention nor erased.
type Hold struct {
	ID       string
	Scope    HoldScope
	Reason   string
	PlacedBy string
	PlacedAt time.Time
	// Index is the log index of the LegalHold event that placed it.
	Index uint64
}

// checkReason checks the reason given for a lifecycle change.
func checkReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return fmt.Errorf("%w: reason is required, such as a ticket or case reference", ErrInvalidArgument)
	case len(reason) > 4096:
		return fmt.Errorf("%w: reason must be at most 4096 bytes", ErrInvalidArgument)
	case !utf8.ValidString(reason):
		return fmt.Errorf("%w: reason must be valid UTF-8", ErrInvalidArgument)
	}
	return nil
}

// PlaceHold places a legal hold, on behalf of principal, and records it in
// the log with a LegalHold event.
func (s *Store) PlaceHold(ctx context.Context, principal string, scope HoldScope, reason string) (Hold, error) {
	if err := scope.check(); err != nil {
		return Hold{}, err
	}
	if err := checkReason(reason); err != nil {
		return Hold{}, err
	}
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if err := s.loadLifecycleState(ctx); err != nil {
		return Hold{}, err
	}
	id := "hold-" + strconv.FormatUint(s.holdSeq+1, 10)
	ev := s.lifecycleEvent(&agenttrailv1.Event_LegalHold{LegalHold: &agenttrailv1.LegalHold{
		Action: agenttrailv1.HoldAction_HOLD_ACTION_PLACED, HoldId: id,
		UserId: scope.UserID, SessionId: scope.SessionID, AgentId: scope.AgentID,
		Principal: principal, Reason: reason,
	}})
	r, err := s.appendServerEvent(ctx, ev)
	if err != nil {
		return Hold{}, err
	}
	h := Hold{ID: id, Scope: scope, Reason: reason, PlacedBy: principal, PlacedAt: r.ReceivedAt, Index: r.Index}
	s.holds = append(s.holds, h)
	s.holdSeq++
	return h, nil
}

// ReleaseHold releases a legal hold, on behalf of principal, recording it
// with a LegalHold event whose index it returns. A hold not in force is
// ErrNotFound.
func (s *Store) ReleaseHold(ctx context.Context, principal, id, reason string) (Hold, uint64, error) {
	if err := checkReason(reason); err != nil {
		return Hold{}, 0, err
	}
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if err := s.loadLifecycleState(ctx); err != nil {
		return Hold{}, 0, err
	}
	k := slices.IndexFunc(s.holds, func(h Hold) bool { return h.ID == id })
	if k < 0 {
		return Hold{}, 0, fmt.Errorf("%w: no hold %q is in force", ErrNotFound, id)
	}
	h := s.holds[k]
	ev := s.lifecycleEvent(&agenttrailv1.Event_LegalHold{LegalHold: &agenttrailv1.LegalHold{
		Action: agenttrailv1.HoldAction_HOLD_ACTION_RELEASED, HoldId: id,
		UserId: h.Scope.UserID, SessionId: h.Scope.SessionID, AgentId: h.Scope.AgentID,
		Principal: principal, Reason: reason,
	}})
	r, err := s.appendServerEvent(ctx, ev)
	if err != nil {
		return Hold{}, 0, err
	}
	s.holds = slices.Delete(s.holds, k, k+1)
	return h, r.Index, nil
}

// Holds returns the legal holds in force, oldest first.
func (s *Store) Holds() []Hold {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return slices.Clone(s.holds)
}

// applyHold updates the holds with a LegalHold event read from the log.
func (s *Store) applyHold(e *Entry, h *agenttrailv1.LegalHold) {
	if n, err := strconv.ParseUint(strings.TrimPrefix(h.GetHoldId(), "hold-"), 10, 64); err == nil && n > s.holdSeq {
		s.holdSeq = n
	}
	k := slices.IndexFunc(s.holds, func(x Hold) bool { return x.ID == h.GetHoldId() })
	switch h.GetAction() {
	case agenttrailv1.HoldAction_HOLD_ACTION_PLACED:
		if k < 0 {
			s.holds = append(s.holds, Hold{
				ID:       h.GetHoldId(),
				Scope:    HoldScope{UserID: h.GetUserId(), SessionID: h.GetSessionId(), AgentID: h.GetAgentId()},
				Reason:   h.GetReason(),
				PlacedBy: h.GetPrincipal(),
				PlacedAt: e.ReceivedAt,
				Index:    e.Index,
			})
		}
	case agenttrailv1.HoldAction_HOLD_ACTION_RELEASED:
		if k >= 0 {
			s.holds = slices.Delete(s.holds, k, k+1)
		}
	}
}

// heldBy returns a hold that covers an event, from its header. The caller
// holds lifeMu.
func (s *Store) heldBy(ev *agenttrailv1.Event) (Hold, bool) {
	for _, h := range s.holds {
		if h.Scope.covers(ev) {
			return h, true
		}
	}
	return Hold{}, false
}

// lifecycleEvent returns a new event the store writes with a payload.
func (s *Store) lifecycleEvent(p any) *agenttrailv1.Event {
	ev := &agenttrailv1.Event{
		EventId:    event.NewID(),
		AgentId:    ServerPrincipal,
		OccurredAt: timestamppb.New(s.cfg.now()),
	}
	switch p := p.(type) {
	case *agenttrailv1.Event_LegalHold:
		ev.Payload = p
	case *agenttrailv1.Event_RetentionPolicy:
		ev.Payload = p
	case *agenttrailv1.Event_Erasure:
		ev.Payload = p
	case *agenttrailv1.Event_Retention:
		ev.Payload = p
	}
	return ev
}
