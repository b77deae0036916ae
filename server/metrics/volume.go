package metrics

import (
	"math"
	"sort"
	"sync"
	"time"
)

// Volume watches how many events each agent appends, minute by minute,
// against its own trailing baseline, so that a runaway agent (a loop, a
// retry storm, a compromised key) shows as a spike. Counts are kept in
// ten-second buckets for the last hour of each agent; memory is bounded by
// the number of agents tracked, the least recently active being forgotten
// first.
type Volume struct {
	mu       sync.Mutex
	agents   map[string]*agentVolume
	max      int
	now      func() time.Time
	factor   float64
	minCount float64
	warmup   int // buckets of history an agent needs before its baseline counts
}

// The detector's fixed shape: ten-second buckets, a minute is six of them,
// the baseline the hour before the last minute.
const (
	bucket        = 10 * time.Second
	perMinute     = 6
	baselineSpan  = 60 * perMinute
	ringSize      = baselineSpan + perMinute + 1
	defaultWarmup = 10 * perMinute
)

type agentVolume struct {
	name     string
	first    int64 // bucket number of the first event seen
	last     int64 // bucket number of the latest event seen
	events   [ringSize]uint32
	failures [ringSize]uint32
	stamp    [ringSize]int64 // bucket number each slot holds
}

// VolumeOptions configure a Volume detector.
type VolumeOptions struct {
	// MaxAgents bounds the agents tracked (default 1000).
	MaxAgents int
	// Factor is how many times its baseline an agent's last minute must be
	// to count as a spike (default 5).
	Factor float64
	// MinEvents is the fewest events in a minute that can be a spike
	// (default 60), so that a quiet agent going from 1 to 6 is not one.
	MinEvents float64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// NewVolume returns a detector.
func NewVolume(o VolumeOptions) *Volume {
	v := &Volume{agents: map[string]*agentVolume{}, max: o.MaxAgents, now: o.Now, factor: o.Factor, minCount: o.MinEvents, warmup: defaultWarmup}
	if v.max <= 0 {
		v.max = 1000
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.factor <= 0 {
		v.factor = 5
	}
	if v.minCount <= 0 {
		v.minCount = 60
	}
	return v
}

func bucketOf(t time.Time) int64 { return t.UnixNano() / int64(bucket) }

// Observe counts one event appended by an agent, and whether it recorded
// a failure.
func (v *Volume) Observe(agent string, failure bool) {
	b := bucketOf(v.now())
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.agents[agent]
	if a == nil {
		if len(v.agents) >= v.max {
			v.evict()
		}
		a = &agentVolume{name: agent, first: b}
		v.agents[agent] = a
	}
	a.last = max(a.last, b)
	i := b % ringSize
	if a.stamp[i] != b {
		a.stamp[i], a.events[i], a.failures[i] = b, 0, 0
	}
	a.events[i]++
	if failure {
		a.failures[i]++
	}
}

// evict forgets the least recently active agent.
func (v *Volume) evict() {
	var oldest *agentVolume
	for _, a := range v.agents {
		if oldest == nil || a.last < oldest.last || a.last == oldest.last && a.name < oldest.name {
			oldest = a
		}
	}
	delete(v.agents, oldest.name)
}

// sum adds the slots of buckets [from, to) that still hold those buckets.
func (a *agentVolume) sum(ring *[ringSize]uint32, from, to int64) float64 {
	var n float64
	for b := max(from, to-ringSize+1); b < to; b++ {
		if i := b % ringSize; a.stamp[i] == b {
			n += float64(ring[i])
		}
	}
	return n
}

// AgentVolume is one agent's reading.
type AgentVolume struct {
	Agent string
	// LastMinute is the events of the last complete minute (the six
	// ten-second buckets before the current one).
	LastMinute float64
	// FailuresLastMinute is those of them that recorded a failure.
	FailuresLastMinute float64
	// Baseline is the agent's mean events per minute over up to an hour
	// before the last minute; NaN while it has under ten minutes of
	// history.
	Baseline float64
	// Spike is whether the last minute is at least MinEvents and more
	// than Factor times the baseline.
	Spike bool
}

// Snapshot reads every tracked agent, busiest last minute first (then by
// name), and forgets agents with no event in the last hour.
func (v *Volume) Snapshot() []AgentVolume {
	cur := bucketOf(v.now())
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]AgentVolume, 0, len(v.agents))
	for name, a := range v.agents {
		if cur-a.last > ringSize {
			delete(v.agents, name)
			continue
		}
		r := AgentVolume{Agent: name, Baseline: math.NaN()}
		r.LastMinute = a.sum(&a.events, cur-perMinute, cur)
		r.FailuresLastMinute = a.sum(&a.failures, cur-perMinute, cur)
		start := max(a.first, cur-perMinute-baselineSpan)
		if span := cur - perMinute - start; span >= int64(v.warmup) {
			r.Baseline = a.sum(&a.events, start, cur-perMinute) / (float64(span) / perMinute)
		}
		r.Spike = !math.IsNaN(r.Baseline) && r.LastMinute >= v.minCount && r.LastMinute > v.factor*max(r.Baseline, 1)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].LastMinute != out[j].LastMinute {
			return out[i].LastMinute > out[j].LastMinute
		}
		return out[i].Agent < out[j].Agent
	})
	return out
}
