package store

import (
	"fmt"
	"strconv"
	"time"
)

// IndexField names a secondary index: what a Posting files an event under.
type IndexField byte

// The secondary indexes every driver keeps (see IndexValues).
const (
	IndexSession IndexField = 's'
	IndexAgent   IndexField = 'a'
	IndexUser    IndexField = 'u'
	IndexKind    IndexField = 'k'
	IndexTool    IndexField = 't'
	IndexFailure IndexField = 'f'
	IndexHour    IndexField = 'h'
)

// String names the index as messages do: "session", "agent", ...
func (f IndexField) String() string {
	switch f {
	case IndexSession:
		return "session"
	case IndexAgent:
		return "agent"
	case IndexUser:
		return "user"
	case IndexKind:
		return "kind"
	case IndexTool:
		return "tool"
	case IndexFailure:
		return "failure"
	case IndexHour:
		return "time"
	}
	return fmt.Sprintf("IndexField(%q)", byte(f))
}

// Posting is one entry of a secondary index: the index files the event at
// Index under Value. Values are canonical, whatever a driver stores:
//
//   - session, agent, user, tool: the string itself;
//   - kind: the EventKind number in decimal;
//   - failure: empty (the index holds the events that record a failure);
//   - time: the hour of occurred_at, as whole hours since the Unix epoch
//     (rounded toward zero) in decimal.
//
// Driver.Postings yields what the driver holds; PostingsOf says what it must
// hold for an event. Verification compares the two both ways.
type Posting struct {
	Field IndexField
	Value string
	Index uint64
}

// PostingsOf returns the postings the secondary indexes must hold for the
// event at index with these index values.
func PostingsOf(index uint64, v IndexValues) []Posting {
	out := make([]Posting, 0, 7)
	add := func(f IndexField, value string) {
		if value != "" {
			out = append(out, Posting{Field: f, Value: value, Index: index})
		}
	}
	add(IndexSession, v.SessionID)
	add(IndexAgent, v.AgentID)
	add(IndexUser, v.UserID)
	add(IndexKind, strconv.FormatInt(int64(v.Kind), 10))
	add(IndexTool, v.ToolName)
	if v.Failure {
		out = append(out, Posting{Field: IndexFailure, Index: index})
	}
	add(IndexHour, HourValue(v.OccurredAt))
	return out
}

// HourValue is the canonical value of the time index for a time.
func HourValue(t time.Time) string { return strconv.FormatInt(t.Unix()/3600, 10) }
