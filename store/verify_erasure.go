package store

import (
	"cmp"
	"slices"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// erasureLedger holds what verification learned about destroyed content:
// the indexes whose content is gone, and the ranges that verified erasure
// and retention events name. Content may be missing only where an erasure
// or retention event of the same log, at a later index, names the index.
type erasureLedger struct {
	erased []uint64    // in log order
	named  []namedSpan // in the order the naming events were read
}

// namedSpan is a range of indexes [first, last] that the event at at names.
type namedSpan struct {
	first, last, at uint64
}

// note records what an event that verified names, if it is an erasure or a
// retention event.
func (l *erasureLedger) note(at uint64, header *agenttrailv1.Event) {
	for _, s := range ErasedBy(header) {
		l.named = append(l.named, namedSpan{s[0], s[1], at})
	}
}

// ErasedBy returns the index ranges [first, last] whose content an event
// says it destroyed: Erasure.log_indexes, one range each, and
// Erasure.ranges; or Retention.ranges. Other events name none.
func ErasedBy(ev *agenttrailv1.Event) [][2]uint64 {
	var out [][2]uint64
	if e := ev.GetErasure(); e != nil {
		for _, i := range e.GetLogIndexes() {
			out = append(out, [2]uint64{i, i})
		}
	}
	return append(out, erasedRanges(ev)...)
}

// firstUnproven returns the first erased index that no later erasure or
// retention event names.
func (l *erasureLedger) firstUnproven() (uint64, bool) {
	if len(l.erased) == 0 {
		return 0, false
	}
	spans := slices.Clone(l.named)
	slices.SortFunc(spans, func(a, b namedSpan) int { return cmp.Compare(a.first, b.first) })
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
			return i, true
		}
	}
	return 0, false
}

// erasedRanges returns the ranges of Erasure.ranges or Retention.ranges. A
// range whose last index is below its first names nothing.
func erasedRanges(ev *agenttrailv1.Event) [][2]uint64 {
	var rs []*agenttrailv1.IndexRange
	switch {
	case ev.GetErasure() != nil:
		rs = ev.GetErasure().GetRanges()
	case ev.GetRetention() != nil:
		rs = ev.GetRetention().GetRanges()
	}
	var out [][2]uint64
	for _, r := range rs {
		if r.GetLast() >= r.GetFirst() {
			out = append(out, [2]uint64{r.GetFirst(), r.GetLast()})
		}
	}
	return out
}
