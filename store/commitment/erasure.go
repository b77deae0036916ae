package commitment

import (
	"cmp"
	"fmt"
	"slices"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Content may be missing from the log only where the log itself says it
// destroyed it: an erasure or retention event, a leaf of the same log at a
// later index that verifies, names the index. A reader that finds content
// erased without such an event has found tampering: anyone who holds the
// storage can delete content and leave an erasure mark.

// ErasedBy returns the index ranges [first, last] whose content an event
// says it destroyed: each of Erasure.log_indexes, and Erasure.ranges; or
// Retention.ranges (from_index and to_index only bound them). A range whose
// last index is below its first names nothing. Other events name none.
func ErasedBy(ev *agenttrailv1.Event) [][2]uint64 {
	var out [][2]uint64
	var rs []*agenttrailv1.IndexRange
	switch {
	case ev.GetErasure() != nil:
		for _, i := range ev.GetErasure().GetLogIndexes() {
			out = append(out, [2]uint64{i, i})
		}
		rs = ev.GetErasure().GetRanges()
	case ev.GetRetention() != nil:
		rs = ev.GetRetention().GetRanges()
	}
	for _, r := range rs {
		if r.GetLast() >= r.GetFirst() {
			out = append(out, [2]uint64{r.GetFirst(), r.GetLast()})
		}
	}
	return out
}

// ErasureLedger checks that erased content is accounted for: give it every
// entry that verified, with Note, in any order, then call Check.
type ErasureLedger struct {
	erased []uint64
	named  []namedSpan
}

type namedSpan struct{ first, last, at uint64 }

// Note records an entry at index that verified: whether its content is
// erased, and what it names if it is an erasure or retention event (whose
// log_indexes and ranges are METADATA, so every view shows them).
func (l *ErasureLedger) Note(index uint64, ev *agenttrailv1.Event, erased bool) {
	if erased {
		l.erased = append(l.erased, index)
	}
	for _, s := range ErasedBy(ev) {
		l.named = append(l.named, namedSpan{s[0], s[1], index})
	}
}

// Erased returns how many erased entries were noted.
func (l *ErasureLedger) Erased() int { return len(l.erased) }

// Unproven returns the erased indexes, in order, that no event noted at a
// later index names.
func (l *ErasureLedger) Unproven() []uint64 {
	spans := slices.Clone(l.named)
	slices.SortFunc(spans, func(a, b namedSpan) int { return cmp.Compare(a.first, b.first) })
	var out []uint64
	for _, i := range l.erased {
		ok := false
		for _, s := range spans {
			if s.first > i {
				break
			}
			if i <= s.last && s.at > i {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// Check returns an error wrapping [ErrUnprovenErasure] that names the first
// erased index no later erasure or retention event names.
func (l *ErasureLedger) Check() error {
	if u := l.Unproven(); len(u) > 0 {
		return fmt.Errorf("%w: the content of entry %d is erased, but no later erasure or retention event of the log names index %d (%d such entries)", ErrUnprovenErasure, u[0], u[0], len(u))
	}
	return nil
}
