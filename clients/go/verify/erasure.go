package verify

import (
	"fmt"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// ErasedBy reports whether an entry's content was erased (its view says
// CONTENT_STATE_ERASED), and the log index of the Erasure or Retention
// event that erased it when the view names one.
func ErasedBy(e *agenttrailv1.Entry) (by uint64, named, erased bool) {
	v := e.GetView()
	if v.GetContent() != agenttrailv1.ContentState_CONTENT_STATE_ERASED {
		return 0, false, false
	}
	return v.GetErasedBy(), v.ErasedBy != nil, true
}

// Names reports whether an Erasure or Retention event names a log index in
// its log_indexes or ranges, and whether it is such an event at all.
func Names(ev *agenttrailv1.Event, index uint64) (names, isErasure bool) {
	var ranges []*agenttrailv1.IndexRange
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_Erasure:
		for _, i := range p.Erasure.GetLogIndexes() {
			if i == index {
				return true, true
			}
		}
		ranges = p.Erasure.GetRanges()
	case *agenttrailv1.Event_Retention:
		ranges = p.Retention.GetRanges()
	default:
		return false, false
	}
	for _, r := range ranges {
		if r.GetFirst() <= index && index <= r.GetLast() {
			return true, true
		}
	}
	return false, true
}

// CheckErasure checks that erasure is the logged event that accounts for
// the missing content of erased: erased's view says its content was erased
// (and, when it names the erasure, names this one); erasure passes
// [CheckEntry]; it is an Erasure or Retention event, at a later index than
// erased, whose committed header names erased's index. Check erasure's
// inclusion in the log as for any entry. Failures wrap [ErrMalformed] or
// [ErrEventMismatch].
func CheckErasure(erased, erasure *agenttrailv1.Entry) error {
	index, at := erased.GetStamp().GetLogIndex(), erasure.GetStamp().GetLogIndex()
	by, named, ok := ErasedBy(erased)
	switch {
	case !ok:
		return fmt.Errorf("%w: entry %d is not erased in its view", ErrMalformed, index)
	case named && by != at:
		return fmt.Errorf("%w: entry %d names erasure %d, not %d", ErrEventMismatch, index, by, at)
	case at <= index:
		return fmt.Errorf("%w: erasure %d is not later than the entry %d it would erase", ErrEventMismatch, at, index)
	}
	if err := CheckEntry(erasure); err != nil {
		return fmt.Errorf("erasure %d: %w", at, err)
	}
	// CheckEntry proved that the event shown carries the committed header's
	// METADATA fields, which hold every index the erasure names.
	names, isErasure := Names(erasure.GetEvent(), index)
	switch {
	case !isErasure:
		return fmt.Errorf("%w: entry %d is neither an Erasure nor a Retention event", ErrEventMismatch, at)
	case !names:
		return fmt.Errorf("%w: erasure %d does not name entry %d", ErrEventMismatch, at, index)
	}
	return nil
}
