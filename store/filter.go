package store

import (
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// Filter selects events. Zero fields match everything; set fields must all
// match.
type Filter struct {
	SessionID string
	AgentID   string
	UserID    string
	ToolName  string
	// Kinds matches events of any of these kinds; empty matches every kind.
	Kinds []agenttrailv1.EventKind
	// OccurredAfter and OccurredBefore bound occurred_at: after is
	// inclusive, before exclusive. Zero times are unbounded.
	OccurredAfter  time.Time
	OccurredBefore time.Time
	// FromIndex is the first log index matched; ToIndex, when non-zero, is
	// the first index not matched.
	FromIndex uint64
	ToIndex   uint64
	// ErrorsOnly matches only events that record a failure
	// (event.IsFailure).
	ErrorsOnly bool
}

// matches reports whether an event's header matches every field of the
// filter except the index range, which the scan applies.
func (f *Filter) matches(h *agenttrailv1.Event) bool {
	if f.SessionID != "" && h.GetSessionId() != f.SessionID ||
		f.AgentID != "" && h.GetAgentId() != f.AgentID ||
		f.UserID != "" && h.GetUserId() != f.UserID ||
		f.ToolName != "" && event.ToolName(h) != f.ToolName ||
		f.ErrorsOnly && !event.IsFailure(h) {
		return false
	}
	if len(f.Kinds) > 0 {
		k := event.KindOf(h)
		found := false
		for _, want := range f.Kinds {
			if k == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if !f.OccurredAfter.IsZero() || !f.OccurredBefore.IsZero() {
		at := h.GetOccurredAt().AsTime()
		if !f.OccurredAfter.IsZero() && at.Before(f.OccurredAfter) ||
			!f.OccurredBefore.IsZero() && !at.Before(f.OccurredBefore) {
			return false
		}
	}
	return true
}

// idsOnly reports whether the filter names nothing of an event but its
// ids (and the index range): matchesIDs checks it.
func (f *Filter) idsOnly() bool {
	return f.ToolName == "" && len(f.Kinds) == 0 && f.OccurredAfter.IsZero() && f.OccurredBefore.IsZero() && !f.ErrorsOnly
}

// matchesIDs is matches for a filter that names ids only (idsOnly), of an
// event with these ids.
func (f *Filter) matchesIDs(ids event.IDs) bool {
	return (f.SessionID == "" || string(ids.SessionID) == f.SessionID) &&
		(f.AgentID == "" || string(ids.AgentID) == f.AgentID) &&
		(f.UserID == "" || string(ids.UserID) == f.UserID)
}

// Query is a Scan: which events, in which order, how many, from where, and
// whether to go on with events committed after the scan began.
type Query struct {
	Filter Filter
	// Descending streams newest first.
	Descending bool
	// Limit is the most entries returned; zero is no limit.
	Limit int
	// After resumes a scan: only entries after this index (before it, when
	// descending) are returned. Pass the last index received.
	After *uint64
	// Read chooses whether content is read.
	Read ReadMode
	// LeanHeader: the caller reads entries without their decoded header
	// (it encodes them from HeaderBytes): when the filter names nothing
	// but ids and the index range, entries come with Header nil, their
	// ids read from the header's encoding, not decoded (the same checks
	// apply: what decoding would refuse is decoded and refused as
	// always). Entry.DecodeHeader fills it in.
	LeanHeader bool
	// Follow goes on past the end of the log, returning new entries as they
	// commit, until the context ends or the store closes (which ends the
	// scan with ErrClosed). Ascending only.
	Follow bool
	// CaughtUp, when set with Follow, is called once, with the tree size,
	// when every entry stored when it was called has been returned.
	CaughtUp func(treeSize uint64)
	// Idle, when set with Follow, is called each time the scan has
	// returned every match committed so far and begins to wait for the
	// next commit (after CaughtUp, the first time): a caller that gathers
	// entries into batches sends what it holds then.
	Idle func()
}
