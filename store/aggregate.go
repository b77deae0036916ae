package store

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/sketch"
)

// The aggregates are statistics of the log kept as it grows, so that Stats
// answers without reading events: for every hour (of occurred_at) and
// every combination of a few metadata dimensions, a cell that sums the
// events: counts, failures, tokens, cost, and a sketch of durations. They
// are derived from headers alone, in the same atomic commit as the events,
// and verification recomputes them. They are conveniences, never
// evidence.
//
// Two cubes partition the same events along different dimensions, so that
// the user dimension (many values) does not multiply the cells of the
// others:
//
//   - CubeOperations: hour × agent × kind × tool × model.
//   - CubeUsers: hour × agent × kind × user.

// Cube names one set of aggregate cells.
type Cube byte

// The cubes.
const (
	CubeOperations Cube = 'o'
	CubeUsers      Cube = 'u'
)

// Cubes lists every cube.
var Cubes = []Cube{CubeOperations, CubeUsers}

// CellKey is the dimensions of one aggregate cell. Tool and Model are set
// in CubeOperations only, User in CubeUsers only.
type CellKey struct {
	Agent string
	Kind  agenttrailv1.EventKind
	Tool  string
	Model string
	User  string
}

func compareKeys(a, b CellKey) int {
	return cmp.Or(cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Tool, b.Tool),
		cmp.Compare(a.Model, b.Model), cmp.Compare(a.User, b.User))
}

// Aggregate is what a cell sums over its events.
type Aggregate struct {
	Events   uint64
	Failures uint64 // events that record a failure (event.IsFailure)
	// Tokens of LLM calls.
	InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens, ReasoningTokens int64
	// Cost of LLM calls, in micros by currency code ("" when none given).
	Cost map[string]int64
	// Durations are the latencies of LLM calls and the durations of tool
	// calls (a cell holds one kind).
	Durations sketch.Sketch
}

// Add adds o to a.
func (a *Aggregate) Add(o *Aggregate) {
	a.Events += o.Events
	a.Failures += o.Failures
	a.InputTokens += o.InputTokens
	a.OutputTokens += o.OutputTokens
	a.CacheReadTokens += o.CacheReadTokens
	a.CacheCreationTokens += o.CacheCreationTokens
	a.ReasoningTokens += o.ReasoningTokens
	for c, v := range o.Cost {
		if a.Cost == nil {
			a.Cost = map[string]int64{}
		}
		a.Cost[c] += v
	}
	a.Durations.Merge(&o.Durations)
}

// HourOf is the aggregates' hour of a time: hours since the Unix epoch.
func HourOf(t time.Time) uint32 {
	h := t.Unix() / 3600
	if t.Unix() < 0 {
		return 0
	}
	return uint32(min(h, 1<<32-1))
}

// ModelOf is the model an event is about: the model that answered an LLM
// call (else the one asked for), else the event's model_id.
func ModelOf(ev *agenttrailv1.Event) string {
	if c := ev.GetLlmCall(); c != nil {
		if m := c.GetResponseModel(); m != "" {
			return m
		}
		if m := c.GetRequestModel(); m != "" {
			return m
		}
	}
	return ev.GetModelId()
}

// aggregateOf is one event's contribution to the aggregates: its hour, its
// cell key in each cube, and what it adds. It reads METADATA fields only,
// so a header gives the same answer as the whole event.
func aggregateOf(ev *agenttrailv1.Event) (hour uint32, ops, users CellKey, a Aggregate) {
	kind := event.KindOf(ev)
	hour = HourOf(ev.GetOccurredAt().AsTime())
	ops = CellKey{Agent: ev.GetAgentId(), Kind: kind, Tool: event.ToolName(ev), Model: ModelOf(ev)}
	users = CellKey{Agent: ev.GetAgentId(), Kind: kind, User: ev.GetUserId()}
	a.Events = 1
	if event.IsFailure(ev) {
		a.Failures = 1
	}
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_LlmCall:
		c := p.LlmCall
		a.InputTokens, a.OutputTokens = c.GetInputTokens(), c.GetOutputTokens()
		a.CacheReadTokens, a.CacheCreationTokens = c.GetCacheReadInputTokens(), c.GetCacheCreationInputTokens()
		a.ReasoningTokens = c.GetReasoningOutputTokens()
		if c.GetCost() != nil {
			a.Cost = map[string]int64{c.GetCost().GetCurrencyCode(): c.GetCost().GetMicros()}
		}
		if c.GetLatency() != nil {
			a.Durations.Add(c.GetLatency().AsDuration())
		}
	case *agenttrailv1.Event_ToolCall:
		if d := p.ToolCall.GetDuration(); d != nil {
			a.Durations.Add(d.AsDuration())
		}
	}
	return hour, ops, users, a
}

// Cells are the aggregate cells of one hour of one cube.
type Cells map[CellKey]*Aggregate

// Add adds a contribution to a cell.
func (c Cells) Add(k CellKey, a *Aggregate) {
	if cur := c[k]; cur != nil {
		cur.Add(a)
		return
	}
	n := &Aggregate{}
	n.Add(a)
	c[k] = n
}

// clone returns a deep copy of the cells.
func (c Cells) clone() Cells {
	out := make(Cells, len(c))
	for k, a := range c {
		n := &Aggregate{}
		n.Add(a)
		out[k] = n
	}
	return out
}

// Merge adds every cell of o to c.
func (c Cells) Merge(o Cells) {
	for k, a := range o {
		c.Add(k, a)
	}
}

// aggregateFormat is the version byte of the cells encoding.
const aggregateFormat = 1

// MarshalBinary encodes the cells canonically (cells in key order, costs
// in currency order), so that equal cells encode to equal bytes.
func (c Cells) MarshalBinary() ([]byte, error) {
	keys := slices.SortedFunc(maps.Keys(c), compareKeys)
	b := []byte{aggregateFormat}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	for _, k := range keys {
		a := c[k]
		str(k.Agent)
		b = binary.AppendUvarint(b, uint64(k.Kind))
		str(k.Tool)
		str(k.Model)
		str(k.User)
		b = binary.AppendUvarint(b, a.Events)
		b = binary.AppendUvarint(b, a.Failures)
		for _, v := range []int64{a.InputTokens, a.OutputTokens, a.CacheReadTokens, a.CacheCreationTokens, a.ReasoningTokens} {
			b = binary.AppendVarint(b, v)
		}
		b = binary.AppendUvarint(b, uint64(len(a.Cost)))
		for _, cur := range slices.Sorted(maps.Keys(a.Cost)) {
			str(cur)
			b = binary.AppendVarint(b, a.Cost[cur])
		}
		sk, _ := a.Durations.MarshalBinary()
		b = binary.AppendUvarint(b, uint64(len(sk)))
		b = append(b, sk...)
	}
	return b, nil
}

// UnmarshalCells decodes what Cells.MarshalBinary wrote. Damaged bytes are
// ErrCorrupt.
func UnmarshalCells(b []byte) (Cells, error) {
	c := Cells{}
	err := decodeCells(b, func(k CellKey, a *Aggregate, sketch []byte) error {
		if err := a.Durations.UnmarshalBinary(sketch); err != nil {
			return fmt.Errorf("%w: aggregate cells: a duration sketch does not decode", ErrCorrupt)
		}
		c[k] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// decodeCells decodes encoded cells one by one, giving each cell's key, its
// figures (Durations left empty) and its encoded duration sketch, which the
// caller may merge without decoding it apart (sketch.MergeBinary). The
// Aggregate is the caller's to keep.
func decodeCells(b []byte, fn func(k CellKey, a *Aggregate, sketch []byte) error) error {
	bad := func(what string) error { return fmt.Errorf("%w: aggregate cells: %s", ErrCorrupt, what) }
	if len(b) == 0 || b[0] != aggregateFormat {
		return bad("unknown format")
	}
	r := cellReader{b: b[1:]}
	n := r.uvarint()
	if r.bad || n > uint64(len(b)) {
		return bad("truncated")
	}
	var prev CellKey
	for i := range n {
		k := CellKey{Agent: r.str()}
		k.Kind = agenttrailv1.EventKind(r.uvarint())
		k.Tool, k.Model, k.User = r.str(), r.str(), r.str()
		a := &Aggregate{Events: r.uvarint(), Failures: r.uvarint()}
		a.InputTokens, a.OutputTokens, a.CacheReadTokens, a.CacheCreationTokens, a.ReasoningTokens = r.varint(), r.varint(), r.varint(), r.varint(), r.varint()
		if nc := r.uvarint(); nc > 0 && !r.bad {
			if nc > uint64(len(r.b)) {
				return bad("truncated")
			}
			a.Cost = make(map[string]int64, nc)
			for range nc {
				cur := r.str()
				a.Cost[cur] = r.varint()
			}
		}
		sk := r.bytes()
		if r.bad {
			return bad("truncated")
		}
		if i > 0 && compareKeys(prev, k) >= 0 {
			return bad("cells out of order")
		}
		prev = k
		if err := fn(k, a, sk); err != nil {
			return err
		}
	}
	if len(r.b) != 0 {
		return bad("trailing bytes")
	}
	return nil
}

type cellReader struct {
	b   []byte
	bad bool
}

func (r *cellReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *cellReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *cellReader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *cellReader) str() string { return string(r.bytes()) }

// AggregateRecord is one stored piece of the aggregates of one cube and
// hour. A batch's own addition (a delta) is filed under the batch's First;
// a rollup holds the cube's cells of the hour over every batch whose events
// end at or below Upto, so that readers need only the latest rollup and
// the deltas of later batches.
type AggregateRecord struct {
	Cube Cube
	Hour uint32
	// Upto is set on a rollup, zero on a delta.
	Upto uint64
	// First is the First of the batch that wrote a delta; drivers set it
	// when they return one (in a Batch it is the batch's).
	First uint64
	// Cells are the encoded cells (Cells.MarshalBinary): opaque to drivers.
	Cells []byte
}

// Rollup reports whether the record is a rollup.
func (r AggregateRecord) Rollup() bool { return r.Upto != 0 }
