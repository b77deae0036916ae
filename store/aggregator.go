package store

import (
	"context"
	"fmt"
	"log/slog"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// aggregator computes each batch's additions to the aggregates, in the
// committer, before each attempt to commit the batch. It keeps the full cells of recently touched hours in memory,
// so that a batch can write a rollup of the whole hour instead of its
// delta: it does when the deltas written since the hour's last rollup add
// up to as many bytes as that rollup, or number maxDeltas. Readers then
// read at most one rollup and maxDeltas-1 deltas per hour, and never more
// than about twice the bytes of the hour's cells, however many batches
// wrote to it; rollups cost at most as many bytes as the deltas do. Every
// record is written once (a delta under its batch's First, a rollup under
// its batch's Size), in the batch's own commit. A batch writes at most
// MaxBatchRollups rollups, so that what it adds to a transaction stays
// bounded (BatchBudget): an hour due for one past that takes a delta
// (readers then read a few deltas more than the bounds above), and its
// rollup comes with the next batch that touches it.
type aggregator struct {
	d         Driver
	maxDeltas int
	maxHours  int
	hours     map[cubeHour]*hourCells
}

// MaxBatchRollups is the most statistics rollups one batch writes.
const MaxBatchRollups = 16

type cubeHour struct {
	cube Cube
	hour uint32
}

// hourCells is the state of one cube's hour: its cells over every batch
// prepared so far, and how many deltas were written since its last rollup.
type hourCells struct {
	cells       Cells
	sinceRollup int    // deltas written since the last rollup
	deltaBytes  int    // their bytes
	rollupBytes int    // the bytes of the last rollup (0: none)
	touched     uint64 // Size of the last batch prepared that touched it
}

func newAggregator(d Driver) *aggregator {
	return &aggregator{d: d, maxDeltas: 32, maxHours: 256, hours: map[cubeHour]*hourCells{}}
}

// batch returns the aggregate records of a batch of events that will hold
// the log's indexes [first, size), and apply, to call once the batch is
// committed: the records are computed on every attempt to commit (its
// indexes change when it is prepared again), the state in memory changes
// only with a commit that succeeded. committed is the log's committed
// size: hours touched only by committed batches may be forgotten.
func (g *aggregator) batch(ctx context.Context, events []*agenttrailv1.Event, first, size, committed uint64) ([]AggregateRecord, func(), error) {
	deltas := map[cubeHour]Cells{}
	add := func(ch cubeHour, k CellKey, a *Aggregate) {
		c := deltas[ch]
		if c == nil {
			c = Cells{}
			deltas[ch] = c
		}
		c.Add(k, a)
	}
	for _, ev := range events {
		hour, ops, users, a := aggregateOf(ev)
		add(cubeHour{CubeOperations, hour}, ops, &a)
		add(cubeHour{CubeUsers, hour}, users, &a)
	}
	g.forget(len(deltas), committed)
	var out []AggregateRecord
	rollups := 0
	var updates []func()
	for ch, delta := range deltas {
		h, err := g.load(ctx, ch)
		if err != nil {
			return nil, nil, err
		}
		r := AggregateRecord{Cube: ch.cube, Hour: ch.hour}
		enc, _ := delta.MarshalBinary()
		if rollups < MaxBatchRollups && (h.deltaBytes+len(enc) >= h.rollupBytes || h.sinceRollup+1 >= g.maxDeltas) {
			rollups++
			whole := h.cells.clone()
			whole.Merge(delta)
			r.Upto = size
			enc, _ = whole.MarshalBinary()
			n := len(enc)
			updates = append(updates, func() {
				h.cells, h.sinceRollup, h.deltaBytes, h.rollupBytes, h.touched = whole, 0, 0, n, size
			})
		} else {
			r.First = first
			n := len(enc)
			updates = append(updates, func() {
				h.cells.Merge(delta)
				h.sinceRollup++
				h.deltaBytes += n
				h.touched = size
			})
		}
		r.Cells = enc
		out = append(out, r)
	}
	apply := func() {
		for _, u := range updates {
			u()
		}
	}
	return out, apply, nil
}

// reset forgets every hour: another writer has committed to the log (a
// shared driver), so what is in memory may lack its batches.
func (g *aggregator) reset() { clear(g.hours) }

// load returns the state of an hour, reading it from the driver when it is
// not in memory. Batches still in flight that touched the hour kept it in
// memory (forget never drops them), so what the driver has is all of it.
// (Only the committer uses the aggregator.)
func (g *aggregator) load(ctx context.Context, ch cubeHour) (*hourCells, error) {
	if h := g.hours[ch]; h != nil {
		return h, nil
	}
	h := &hourCells{cells: Cells{}}
	for r, err := range g.d.Aggregates(ctx, ch.cube, ch.hour, ch.hour+1) {
		if err != nil {
			return nil, fmt.Errorf("store: reading the aggregates of hour %d: %w", ch.hour, err)
		}
		c, err := UnmarshalCells(r.Cells)
		if err != nil {
			return nil, err
		}
		h.cells.Merge(c)
		if r.Rollup() {
			h.rollupBytes = len(r.Cells)
		} else {
			h.sinceRollup++
			h.deltaBytes += len(r.Cells)
		}
	}
	g.hours[ch] = h
	return h, nil
}

// forget drops hours from memory, least recently touched first, until
// there is room for n more, keeping every hour a batch in flight touched.
func (g *aggregator) forget(n int, committed uint64) {
	for len(g.hours)+n > g.maxHours {
		var victim *cubeHour
		var oldest uint64
		for ch, h := range g.hours {
			if h.touched <= committed && (victim == nil || h.touched < oldest) {
				c := ch
				victim, oldest = &c, h.touched
			}
		}
		if victim == nil {
			return
		}
		delete(g.hours, *victim)
	}
}

// backfillAggregates computes the aggregates of a log written before they
// existed (events stored, no aggregate record), from the headers, and
// stores them as rollups up to the current size. A log that has any
// aggregate record is left alone.
func (s *Store) backfillAggregates(ctx context.Context, size uint64) error {
	if size == 0 || s.cfg.noAggregates {
		return nil
	}
	for _, err := range s.d.Aggregates(ctx, CubeOperations, 0, ^uint32(0)) {
		return err // one record is enough to know they exist
	}
	cells := map[cubeHour]Cells{}
	for raw, err := range s.d.Scan(ctx, ScanRequest{Filter: &Filter{}, Lo: 0, Hi: size}) {
		if err != nil {
			return fmt.Errorf("store: reading events to compute their statistics: %w", err)
		}
		e, err := decodeHeader(raw)
		if err != nil {
			return fmt.Errorf("store: event %d, computing statistics: %w", raw.Index, err)
		}
		hour, ops, users, a := aggregateOf(e.Header)
		recountAdd(cells, cubeHour{CubeOperations, hour}, ops, &a)
		recountAdd(cells, cubeHour{CubeUsers, hour}, users, &a)
	}
	var recs []AggregateRecord
	for ch, c := range cells {
		enc, _ := c.MarshalBinary()
		recs = append(recs, AggregateRecord{Cube: ch.cube, Hour: ch.hour, Upto: size, Cells: enc})
	}
	if err := s.d.PutAggregates(ctx, size, recs); err != nil {
		return fmt.Errorf("store: storing the statistics of events written by an older build: %w", err)
	}
	s.log.InfoContext(ctx, "statistics computed for events written before they existed", slog.Uint64("events", size), slog.Int("records", len(recs)))
	return nil
}
