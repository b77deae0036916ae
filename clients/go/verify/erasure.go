package verify

import (
	"fmt"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// ErasureOf reports whether an entry's content was erased (its view says
// CONTENT_STATE_ERASED), and the log index of the Erasure or Retention
// event that erased it, as the view names it (View.erased_by; named is
// false when the server did not say).
func ErasureOf(e *agenttrailv1.Entry) (by uint64, named, erased bool) {
	v := e.GetView()
	if v.GetContent() != agenttrailv1.ContentState_CONTENT_STATE_ERASED {
		return 0, false, false
	}
	return v.GetErasedBy(), v.ErasedBy != nil, true
}

// CheckErasure checks one erased entry against the erasure its view names:
// erased's view says its content was erased and names erasure's index;
// erasure passes [CheckEntry]; it is an Erasure or Retention event, at a
// later index than erased, whose committed header names erased's index
// ([ErasedBy]). Check erasure's inclusion in the log as for any entry. An
// [ErasureLedger] checks a whole run of entries at once; CheckErasure is
// for one entry and the erasure a reader fetched for it. Failures wrap
// [ErrMalformed] or [ErrEventMismatch].
func CheckErasure(erased, erasure *agenttrailv1.Entry) error {
	index, at := erased.GetStamp().GetLogIndex(), erasure.GetStamp().GetLogIndex()
	by, named, ok := ErasureOf(erased)
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
	ev := erasure.GetEvent()
	if ev.GetErasure() == nil && ev.GetRetention() == nil {
		return fmt.Errorf("%w: entry %d is neither an Erasure nor a Retention event", ErrEventMismatch, at)
	}
	for _, r := range ErasedBy(ev) {
		if r[0] <= index && index <= r[1] {
			return nil
		}
	}
	return fmt.Errorf("%w: erasure %d does not name entry %d", ErrEventMismatch, at, index)
}
