package store

import (
	"slices"
	"sort"
	"sync"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// IndexRange is the log indexes from First to Last, both included.
type IndexRange struct {
	First, Last uint64
}

// Len returns the number of indexes in the range.
func (r IndexRange) Len() uint64 { return r.Last - r.First + 1 }

// rangesOf turns increasing, distinct indexes into ranges.
func rangesOf(indexes []uint64) []IndexRange {
	var out []IndexRange
	for _, i := range indexes {
		if n := len(out); n > 0 && out[n-1].Last+1 == i {
			out[n-1].Last = i
			continue
		}
		out = append(out, IndexRange{i, i})
	}
	return out
}

// countRanges returns the number of indexes the ranges hold.
func countRanges(rs []IndexRange) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

// rangeMessages and rangesFromMessages convert ranges to and from the wire.
func rangeMessages(rs []IndexRange) []*agenttrailv1.IndexRange {
	out := make([]*agenttrailv1.IndexRange, len(rs))
	for i, r := range rs {
		out[i] = &agenttrailv1.IndexRange{First: r.First, Last: r.Last}
	}
	return out
}

// erasedIndexes returns the indexes an Erasure or Retention event names
// (commitment.ErasedBy), as sorted, merged ranges, and whether the event is
// one.
func erasedIndexes(ev *agenttrailv1.Event) ([]IndexRange, bool) {
	if ev.GetErasure() == nil && ev.GetRetention() == nil {
		return nil, false
	}
	var rs []IndexRange
	for _, sp := range commitment.ErasedBy(ev) {
		rs = append(rs, IndexRange{sp[0], sp[1]})
	}
	return mergeRanges(rs), true
}

// mergeRanges sorts ranges and merges those that overlap or touch.
func mergeRanges(rs []IndexRange) []IndexRange {
	slices.SortFunc(rs, func(a, b IndexRange) int {
		switch {
		case a.First < b.First:
			return -1
		case a.First > b.First:
			return 1
		}
		return 0
	})
	var out []IndexRange
	for _, r := range rs {
		if n := len(out); n > 0 && (r.First <= out[n-1].Last || r.First == out[n-1].Last+1) {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// coverage knows which log indexes a logged Erasure or Retention event has
// erased, and by which: the claim every view shows from the moment the
// event commits, which key destruction then makes true. It is safe for
// concurrent use.
type coverage struct {
	mu     sync.RWMutex
	ranges []coveredRange // disjoint, by First
	events []uint64       // the indexes of the events added, increasing
}

type coveredRange struct {
	IndexRange
	by uint64
}

// add records that the event at index by erased rs. Parts of rs that an
// earlier event erased already keep that event.
func (c *coverage) add(by uint64, rs []IndexRange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, by)
	for _, r := range mergeRanges(slices.Clone(rs)) {
		c.insertLocked(coveredRange{r, by})
	}
}

func (c *coverage) insertLocked(nr coveredRange) {
	// Carve out what is covered already, then insert the remaining pieces.
	pieces := []IndexRange{nr.IndexRange}
	i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i].Last >= nr.First })
	for j := i; j < len(c.ranges) && c.ranges[j].First <= nr.Last; j++ {
		ex := c.ranges[j]
		var next []IndexRange
		for _, p := range pieces {
			if ex.Last < p.First || ex.First > p.Last {
				next = append(next, p)
				continue
			}
			if p.First < ex.First {
				next = append(next, IndexRange{p.First, ex.First - 1})
			}
			if p.Last > ex.Last {
				next = append(next, IndexRange{ex.Last + 1, p.Last})
			}
		}
		pieces = next
	}
	for _, p := range pieces {
		k := sort.Search(len(c.ranges), func(k int) bool { return c.ranges[k].First > p.First })
		c.ranges = slices.Insert(c.ranges, k, coveredRange{p, nr.by})
	}
}

// erasedBy returns the index of the event that erased the content of the
// event at index, if one did.
func (c *coverage) erasedBy(index uint64) (uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i].Last >= index })
	if i < len(c.ranges) && c.ranges[i].First <= index {
		return c.ranges[i].by, true
	}
	return 0, false
}

// uncovered returns the parts of rs no event erased.
func (c *coverage) uncovered(rs []IndexRange) []IndexRange {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []IndexRange
	for _, r := range rs {
		at := r.First
		i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i].Last >= r.First })
		for ; i < len(c.ranges) && c.ranges[i].First <= r.Last; i++ {
			if c.ranges[i].First > at {
				out = append(out, IndexRange{at, c.ranges[i].First - 1})
			}
			if c.ranges[i].Last >= r.Last {
				at = r.Last + 1
				break
			}
			at = c.ranges[i].Last + 1
		}
		if at <= r.Last {
			out = append(out, IndexRange{at, r.Last})
		}
	}
	return out
}
