// Package metrics is agenttrail's Prometheus instrumentation, served at
// /metrics on the HTTP listener. Every metric name starts with agenttrail_
// (the Go runtime's and the process's too), and every label takes values
// from a small fixed set, except agent, which names at most TopAgents
// agents, the busiest in the last minute, the rest summed as "other".
//
// A nil *Metrics is valid and records nothing, so instrumented code needs
// no checks.
//
// The alert rules that go with these metrics are in docs/alerts.yml,
// explained in docs/metrics.md.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds agenttrail's metrics and the registry they are served from.
type Metrics struct {
	reg       *prometheus.Registry
	topAgents int
	volume    *Volume

	appended   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	failures   *prometheus.CounterVec
	ack        prometheus.Histogram
	reads      *prometheus.CounterVec
	tails      *prometheus.GaugeVec
	redaction  prometheus.Histogram
	otlpSpans  *prometheus.CounterVec
	witnessLag *prometheus.GaugeVec
	witnessSub *prometheus.CounterVec
	commit     prometheus.Histogram
	batch      prometheus.Histogram
}

// Options configure New.
type Options struct {
	// TopAgents is how many agents get series of their own (default 10).
	TopAgents int
	// Volume is the per-agent volume detector (default NewVolume with its
	// defaults).
	Volume *Volume
}

// New returns the metrics, registered in a registry of their own with the
// Go runtime and process collectors.
func New(o Options) (*Metrics, error) {
	if o.TopAgents <= 0 {
		o.TopAgents = 10
	}
	if o.Volume == nil {
		o.Volume = NewVolume(VolumeOptions{})
	}
	m := &Metrics{reg: prometheus.NewRegistry(), topAgents: o.TopAgents, volume: o.Volume}
	reg := prometheus.WrapRegistererWithPrefix("agenttrail_", m.reg)
	m.appended = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "events_appended_total",
		Help: "Events submitted by agents, by kind and outcome: stored (new in the log), duplicate (already stored, receipt repeated) or rejected.",
	}, []string{"kind", "outcome"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "events_rejected_total",
		Help: "Events refused, by gRPC status code of the rejection.",
	}, []string{"code"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "failure_events_total",
		Help: "Stored events that record a failure (errors, failed tool and LLM calls, failed sessions), by kind.",
	}, []string{"kind"})
	m.ack = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "append_ack_seconds",
		Help:    "Time from an event's arrival to its receipt (durable) or rejection.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	m.reads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "reads_total",
		Help: "Read calls (queries, lookups, proofs), by role and RPC.",
	}, []string{"role", "rpc"})
	m.tails = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tails_open",
		Help: "Live tails (following queries) open, by role.",
	}, []string{"role"})
	m.redaction = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "redaction_seconds",
		Help:    "Time to render one entry in the redacted (developer) view.",
		Buckets: prometheus.ExponentialBuckets(0.00001, 2, 16),
	})
	m.otlpSpans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "otlp_spans_total",
		Help: "Spans received over OTLP, by outcome: accepted or rejected (reported in partial_success).",
	}, []string{"outcome"})
	m.witnessLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "witness_lag_seconds",
		Help: "How long since each witness last cosigned a checkpoint the log has moved past.",
	}, []string{"witness"})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "store_commit_seconds",
		Help:    "Time of each batch's atomic commit in the store (for Badger, the write and its fsync).",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
	})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "store_batch_events",
		Help:    "Events in each batch the store commits.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
	m.witnessSub = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "witness_submissions_total",
		Help: "Checkpoints submitted to each witness, by outcome: cosigned, conflict (409: it cosigned a larger tree or a fork), refused (422, 403, 404) or unreachable.",
	}, []string{"witness", "outcome"})
	for _, c := range []prometheus.Collector{
		m.appended, m.rejected, m.failures, m.ack, m.reads, m.tails, m.redaction, m.otlpSpans, m.witnessLag, m.witnessSub, m.commit, m.batch,
		&agentCollector{m: m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves the metrics in the Prometheus text or protobuf formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is where the metrics are registered, for tests and for
// features that add their own (under the agenttrail_ prefix).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Event records the outcome of one event submitted by an agent: outcome is
// "stored", "duplicate" or "rejected" (with the rejection's gRPC code name).
// Stored events feed the failure counter and the volume detector.
func (m *Metrics) Event(agent, kind, outcome, code string, failure bool) {
	if m == nil {
		return
	}
	m.appended.WithLabelValues(kind, outcome).Inc()
	switch outcome {
	case "rejected":
		m.rejected.WithLabelValues(code).Inc()
	case "stored":
		if failure {
			m.failures.WithLabelValues(kind).Inc()
		}
		m.volume.Observe(agent, failure)
	}
}

// Commit records one batch the store committed: its events and how long
// its commit (and fsync) took. It fits store.WithCommitObserver.
func (m *Metrics) Commit(events int, d time.Duration) {
	if m != nil {
		m.commit.Observe(d.Seconds())
		m.batch.Observe(float64(events))
	}
}

// Ack records the time from an event's arrival to its answer.
func (m *Metrics) Ack(d time.Duration) {
	if m != nil {
		m.ack.Observe(d.Seconds())
	}
}

// Read records a read call by a role.
func (m *Metrics) Read(role, rpc string) {
	if m != nil {
		m.reads.WithLabelValues(role, rpc).Inc()
	}
}

// Tail records a live tail opening (+1) or closing (-1).
func (m *Metrics) Tail(role string, delta float64) {
	if m != nil {
		m.tails.WithLabelValues(role).Add(delta)
	}
}

// Redaction records the time to render one entry redacted.
func (m *Metrics) Redaction(d time.Duration) {
	if m != nil {
		m.redaction.Observe(d.Seconds())
	}
}

// OTLPSpans records spans received over OTLP.
func (m *Metrics) OTLPSpans(accepted, rejected int) {
	if m == nil {
		return
	}
	m.otlpSpans.WithLabelValues("accepted").Add(float64(accepted))
	m.otlpSpans.WithLabelValues("rejected").Add(float64(rejected))
}

// WitnessLag records the time since a witness last cosigned a checkpoint
// the log has moved past (witness.Submitter reports it).
func (m *Metrics) WitnessLag(witness string, d time.Duration) {
	if m != nil {
		m.witnessLag.WithLabelValues(witness).Set(d.Seconds())
	}
}

// WitnessSubmission counts one checkpoint submitted to a witness, by
// outcome (witness.Submitter reports it).
func (m *Metrics) WitnessSubmission(witness, outcome string) {
	if m != nil {
		m.witnessSub.WithLabelValues(witness, outcome).Inc()
	}
}

// agentCollector exports the volume detector's readings: the TopAgents
// busiest agents of the last minute by name, the others summed as "other".
type agentCollector struct{ m *Metrics }

var (
	descLastMinute = prometheus.NewDesc("agent_events_last_minute",
		"Events an agent appended in the last complete minute.", []string{"agent"}, nil)
	descFailures = prometheus.NewDesc("agent_failures_last_minute",
		"Events recording a failure an agent appended in the last complete minute.", []string{"agent"}, nil)
	descBaseline = prometheus.NewDesc("agent_events_baseline_per_minute",
		"An agent's mean events per minute over up to the hour before the last minute; NaN while it has under ten minutes of history.", []string{"agent"}, nil)
	descSpike = prometheus.NewDesc("agent_volume_spike",
		"1 when an agent's last minute is at least 60 events and more than 5 times its baseline.", []string{"agent"}, nil)
	descTracked = prometheus.NewDesc("agents_tracked",
		"Agents the volume detector tracks (active in the last hour).", nil, nil)
)

// Describe implements prometheus.Collector. Like every name here, the
// descriptions' names get the agenttrail_ prefix from the registerer.
func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

// Collect implements prometheus.Collector.
func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	readings := c.m.volume.Snapshot()
	ch <- prometheus.MustNewConstMetric(descTracked, prometheus.GaugeValue, float64(len(readings)))
	other := AgentVolume{Agent: "other"}
	others := 0
	otherBaselineKnown := false
	for i, r := range readings {
		if i < c.m.topAgents && r.Agent != "other" {
			emitAgent(ch, r)
			continue
		}
		others++
		other.LastMinute += r.LastMinute
		other.FailuresLastMinute += r.FailuresLastMinute
		if !math.IsNaN(r.Baseline) {
			other.Baseline += r.Baseline
			otherBaselineKnown = true
		}
		other.Spike = other.Spike || r.Spike
	}
	if others > 0 {
		if !otherBaselineKnown {
			other.Baseline = math.NaN()
		}
		emitAgent(ch, other)
	}
}

func emitAgent(ch chan<- prometheus.Metric, r AgentVolume) {
	spike := 0.0
	if r.Spike {
		spike = 1
	}
	ch <- prometheus.MustNewConstMetric(descLastMinute, prometheus.GaugeValue, r.LastMinute, r.Agent)
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.GaugeValue, r.FailuresLastMinute, r.Agent)
	ch <- prometheus.MustNewConstMetric(descBaseline, prometheus.GaugeValue, r.Baseline, r.Agent)
	ch <- prometheus.MustNewConstMetric(descSpike, prometheus.GaugeValue, spike, r.Agent)
}

// LogState is what WatchStore reads from the log.
type LogState interface {
	// Size is the number of events in the log.
	Size() uint64
	// CheckpointSize is the size of the latest signed checkpoint.
	CheckpointSize() uint64
	// Watch returns a channel closed when the log or its checkpoint moves.
	Watch() <-chan struct{}
}

// WatchStore exports the state of the log and its data directory: size,
// events not yet covered by a checkpoint and how long since the last
// checkpoint, and, when dataDir is given, its bytes on disk and the free
// and total space of the disk. It follows the log until ctx ends.
func (m *Metrics) WatchStore(ctx context.Context, st LogState, dataDir string, log *slog.Logger) error {
	if m == nil {
		return nil
	}
	var mu sync.Mutex
	ckSize, ckAt := st.CheckpointSize(), time.Now()
	go func() {
		for {
			ch := st.Watch()
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			if n := st.CheckpointSize(); n != 0 {
				mu.Lock()
				if n != ckSize {
					ckSize, ckAt = n, time.Now()
				}
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(50 * time.Millisecond): // at most 20 reads a second
			}
		}
	}()
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	du := &dirSize{dir: dataDir, log: log}
	reg := prometheus.WrapRegistererWithPrefix("agenttrail_", m.reg)
	cs := []prometheus.Collector{
		gauge("log_size", "Events in the log (its Merkle tree size).", func() float64 { return float64(st.Size()) }),
		gauge("checkpoint_size", "Tree size of the latest signed checkpoint.", func() float64 { return float64(st.CheckpointSize()) }),
		gauge("checkpoint_lag_events", "Events in the log not yet covered by a signed checkpoint.", func() float64 {
			return float64(st.Size() - min(st.Size(), st.CheckpointSize()))
		}),
		gauge("checkpoint_age_seconds", "Seconds since the latest checkpoint was signed (since start, when none was signed since).", func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return time.Since(ckAt).Seconds()
		}),
	}
	if dataDir != "" { // a store in a directory (not one on a database server)
		cs = append(cs,
			gauge("store_bytes", "Bytes of the data directory on disk (recomputed at most every 15 seconds).", du.bytes),
			gauge("disk_free_bytes", "Bytes free for agenttrail on the data directory's file system.", func() float64 { f, _ := diskSpace(dataDir); return f }),
			gauge("disk_size_bytes", "Size of the data directory's file system.", func() float64 { _, s := diskSpace(dataDir); return s }),
		)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// diskSpace returns the bytes available to unprivileged users and the
// total size of the file system holding dir, or NaN when unknown.
func diskSpace(dir string) (free, size float64) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return math.NaN(), math.NaN()
	}
	return float64(s.Bavail) * float64(s.Bsize), float64(s.Blocks) * float64(s.Bsize)
}

// dirSize walks a directory for its size, at most every 15 seconds.
type dirSize struct {
	dir  string
	log  *slog.Logger
	mu   sync.Mutex
	at   time.Time
	last float64
}

func (d *dirSize) bytes() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) < 15*time.Second && !d.at.IsZero() {
		return d.last
	}
	var n int64
	err := filepath.WalkDir(d.dir, func(_ string, e os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed while walking (compaction)
			}
			return err
		}
		if e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	if err != nil && d.log != nil {
		d.log.Warn("measuring the data directory failed", slog.Any("error", err))
	}
	d.at, d.last = time.Now(), float64(n)
	return d.last
}
