package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/sketch"
)

// Dimension is what Stats groups events by.
type Dimension int

// The dimensions.
const (
	ByAgent Dimension = iota + 1
	ByModel
	ByTool
	ByUser
	ByKind
)

// StatsQuery asks for statistics of the events a filter selects.
type StatsQuery struct {
	Filter Filter
	// GroupBy are the dimensions rows are grouped by; none gives one row
	// per bucket.
	GroupBy []Dimension
	// Interval splits time into buckets by occurred_at: 0 (one bucket),
	// time.Hour, or 24*time.Hour (UTC days).
	Interval time.Duration
}

// StatsRow is the statistics of one group in one time bucket.
type StatsRow struct {
	// Start is the bucket's start (zero without an Interval).
	Start time.Time
	// Key holds the grouped dimensions' values; the others are empty.
	Key CellKey
	// Totals sums the group's events (its Durations are not used).
	Totals Aggregate
	// LLMCalls and LLMLatency are the group's LLM calls and a sketch of
	// their latencies; ToolCalls and ToolDurations the same for tool calls.
	LLMCalls, ToolCalls       uint64
	LLMLatency, ToolDurations sketch.Sketch
}

// StatsResult is the answer to a StatsQuery.
type StatsResult struct {
	// Rows, by bucket start, then group.
	Rows []StatsRow
	// FromAggregates is set when the aggregates answered; otherwise the
	// headers of the matching events were read (a filter the aggregates
	// cannot answer: a session, an index range, errors only, time bounds
	// off the hour, or users together with tools or models).
	FromAggregates bool
}

// Stats computes statistics of the events a filter selects, grouped and
// bucketed, from metadata only: from the aggregates when they can answer
// (see StatsResult.FromAggregates), else from the events' headers.
func (s *Store) Stats(ctx context.Context, q StatsQuery) (StatsResult, error) {
	if q.Interval != 0 && q.Interval != time.Hour && q.Interval != 24*time.Hour {
		return StatsResult{}, fmt.Errorf("%w: stats interval %v: want none, an hour or a day", ErrInvalidArgument, q.Interval)
	}
	for _, d := range q.GroupBy {
		if d < ByAgent || d > ByKind {
			return StatsResult{}, fmt.Errorf("%w: stats dimension %d", ErrInvalidArgument, d)
		}
	}
	rows := statsRows{q: q, m: map[rowKey]*StatsRow{}}
	var res StatsResult
	err := s.reading(ctx, func() error {
		if cube, from, to, ok := aggregatesAnswer(q); ok && !s.cfg.noAggregates {
			res.FromAggregates = true
			for r, err := range s.d.Aggregates(ctx, cube, from, to) {
				if err != nil {
					return err
				}
				err := decodeCells(r.Cells, func(k CellKey, a *Aggregate, sk []byte) error {
					if !rows.match(k) {
						return nil
					}
					return rows.add(r.Hour, k, a, sk)
				})
				if err != nil {
					return err
				}
			}
			return nil
		}
		for e, err := range s.Scan(ctx, Query{Filter: q.Filter, Read: HeaderOnly}) {
			if err != nil {
				return err
			}
			hour, ops, users, a := aggregateOf(e.Header)
			k := ops
			k.User = users.User
			sk, _ := a.Durations.MarshalBinary()
			a.Durations = sketch.Sketch{}
			if err := rows.add(hour, k, &a, sk); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return StatsResult{}, err
	}
	res.Rows = rows.sorted()
	return res, nil
}

// aggregatesAnswer reports whether the aggregates can answer a query, and
// from which cube and hours.
func aggregatesAnswer(q StatsQuery) (Cube, uint32, uint32, bool) {
	f := q.Filter
	if f.SessionID != "" || f.FromIndex != 0 || f.ToIndex != 0 || f.ErrorsOnly {
		return 0, 0, 0, false
	}
	from, to := uint32(0), ^uint32(0)
	if !f.OccurredAfter.IsZero() {
		if !f.OccurredAfter.Equal(f.OccurredAfter.Truncate(time.Hour)) || f.OccurredAfter.Unix() < 0 {
			return 0, 0, 0, false
		}
		from = HourOf(f.OccurredAfter)
	}
	if !f.OccurredBefore.IsZero() {
		if !f.OccurredBefore.Equal(f.OccurredBefore.Truncate(time.Hour)) || f.OccurredBefore.Unix() < 0 {
			return 0, 0, 0, false
		}
		to = HourOf(f.OccurredBefore)
	}
	users := f.UserID != "" || slices.Contains(q.GroupBy, ByUser)
	opsDims := f.ToolName != "" || slices.Contains(q.GroupBy, ByTool) || slices.Contains(q.GroupBy, ByModel)
	switch {
	case users && opsDims:
		return 0, 0, 0, false
	case users:
		return CubeUsers, from, to, true
	}
	return CubeOperations, from, to, true
}

type rowKey struct {
	start int64
	key   CellKey
}

type statsRows struct {
	q StatsQuery
	m map[rowKey]*StatsRow
}

// match applies the filter's fields that cells carry.
func (r *statsRows) match(k CellKey) bool {
	f := r.q.Filter
	if f.AgentID != "" && k.Agent != f.AgentID || f.UserID != "" && k.User != f.UserID || f.ToolName != "" && k.Tool != f.ToolName {
		return false
	}
	return len(f.Kinds) == 0 || slices.Contains(f.Kinds, k.Kind)
}

// add adds a cell's figures (a, its Durations empty) and its encoded
// duration sketch to the row of its bucket and group.
func (r *statsRows) add(hour uint32, k CellKey, a *Aggregate, sk []byte) error {
	var start time.Time
	switch r.q.Interval {
	case time.Hour:
		start = time.Unix(int64(hour)*3600, 0).UTC()
	case 24 * time.Hour:
		start = time.Unix(int64(hour)/24*86400, 0).UTC()
	}
	g := CellKey{}
	for _, d := range r.q.GroupBy {
		switch d {
		case ByAgent:
			g.Agent = k.Agent
		case ByModel:
			g.Model = k.Model
		case ByTool:
			g.Tool = k.Tool
		case ByUser:
			g.User = k.User
		case ByKind:
			g.Kind = k.Kind
		}
	}
	rk := rowKey{start: start.Unix(), key: g}
	row := r.m[rk]
	if row == nil {
		row = &StatsRow{Start: start, Key: g}
		r.m[rk] = row
	}
	row.Totals.Add(a)
	var err error
	switch k.Kind {
	case agenttrailv1.EventKind_EVENT_KIND_LLM_CALL:
		row.LLMCalls += a.Events
		err = row.LLMLatency.MergeBinary(sk)
	case agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL:
		row.ToolCalls += a.Events
		err = row.ToolDurations.MergeBinary(sk)
	}
	if err != nil {
		return fmt.Errorf("%w: aggregate cells: a duration sketch does not decode", ErrCorrupt)
	}
	return nil
}

func (r *statsRows) sorted() []StatsRow {
	out := make([]StatsRow, 0, len(r.m))
	for _, row := range r.m {
		out = append(out, *row)
	}
	slices.SortFunc(out, func(a, b StatsRow) int {
		return cmp.Or(a.Start.Compare(b.Start), compareKeys(a.Key, b.Key))
	})
	return out
}
