package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// benchLog is a benchmark's log in a data directory.
func benchLog(dir string) storetest.Log {
	return storetest.Log{URL: badger.URL(dir) + "?gc_interval=0", KeyFile: filepath.Join(dir, "checkpoint-signing.key")}
}

var dayStore struct {
	once   sync.Once
	dir    string
	remove bool
	err    error
	built  time.Duration
}

// dayOfEvents is the size of the day BenchmarkStatsDay reads.
const dayOfEvents = 1_000_000

// buildDay appends a day of events (StatsCorpus: five agents, twelve
// users, eight tools, models, every kind) in time order, as they would
// arrive, in batches of 1024, once per benchmark process.
//
// With AGENTTRAIL_STATS_BENCH_DIR set, the log is kept in that directory,
// built there when it does not exist, and reused when it does.
func buildDay() (string, error) {
	if keep := os.Getenv("AGENTTRAIL_STATS_BENCH_DIR"); keep != "" {
		if _, err := os.Stat(keep); err == nil {
			return keep, nil
		}
		if err := os.MkdirAll(keep, 0o700); err != nil {
			return "", err
		}
		return buildDayIn(keep)
	}
	dir, err := os.MkdirTemp("", "agenttrail-stats-bench-")
	if err != nil {
		return "", err
	}
	dayStore.remove = true
	return buildDayIn(dir)
}

func buildDayIn(dir string) (string, error) {
	l := benchLog(dir)
	s, err := store.Open(context.Background(), l.URL, l.Options(store.WithCheckpointInterval(time.Minute))...)
	if err != nil {
		return "", err
	}
	defer s.Close()
	start := time.Now()
	evs := inTimeOrder(storetest.StatsCorpus(dayOfEvents, 24, 42))
	for len(evs) > 0 {
		n := min(len(evs), 1024)
		res, err := s.Append(context.Background(), "bench", evs[:n])
		if err != nil {
			return "", err
		}
		for _, r := range res {
			if r.Err != nil {
				return "", r.Err
			}
		}
		evs = evs[n:]
	}
	dayStore.built = time.Since(start)
	return dir, nil
}

// BenchmarkStatsDay answers a day's breakdowns over a log of 1,000,000
// events in that day, from the aggregates, and, for comparison, one from
// the headers (a filter the aggregates cannot answer). Building the log
// takes a minute or two, once per benchmark process:
//
//	go test ./store -run '^$' -bench StatsDay -benchtime 20x
func BenchmarkStatsDay(b *testing.B) {
	dayStore.once.Do(func() { dayStore.dir, dayStore.err = buildDay() })
	if dayStore.err != nil {
		b.Fatal(dayStore.err)
	}
	b.Logf("the log of %d events was built in %v", dayOfEvents, dayStore.built.Round(time.Second))
	l := benchLog(dayStore.dir)
	s, err := store.Open(context.Background(), l.URL, l.Options()...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	day := storetest.Now.Truncate(time.Hour).Add(-24 * time.Hour)
	whole := store.Filter{OccurredAfter: day, OccurredBefore: day.Add(24 * time.Hour)}
	llm := []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_LLM_CALL}
	for _, bc := range []struct {
		name string
		q    store.StatsQuery
		agg  bool
	}{
		{"by-agent-hourly", store.StatsQuery{Filter: whole, GroupBy: []store.Dimension{store.ByAgent}, Interval: time.Hour}, true},
		{"by-tool", store.StatsQuery{Filter: whole, GroupBy: []store.Dimension{store.ByTool}}, true},
		{"by-kind-hourly", store.StatsQuery{Filter: whole, GroupBy: []store.Dimension{store.ByKind}, Interval: time.Hour}, true},
		{"llm-by-model", store.StatsQuery{Filter: store.Filter{OccurredAfter: whole.OccurredAfter, OccurredBefore: whole.OccurredBefore, Kinds: llm}, GroupBy: []store.Dimension{store.ByModel}}, true},
		{"by-user", store.StatsQuery{Filter: whole, GroupBy: []store.Dimension{store.ByUser}}, true},
		{"by-agent-from-headers", store.StatsQuery{Filter: store.Filter{OccurredAfter: day.Add(time.Second), OccurredBefore: whole.OccurredBefore}, GroupBy: []store.Dimension{store.ByAgent}}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if !bc.agg && b.N > 3 {
				b.Skip("reads every header: run alone with -benchtime 1x")
			}
			var events uint64
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				res, err := s.Stats(context.Background(), bc.q)
				if err != nil {
					b.Fatal(err)
				}
				if res.FromAggregates != bc.agg {
					b.Fatalf("from aggregates %v, want %v", res.FromAggregates, bc.agg)
				}
				events = 0
				for _, r := range res.Rows {
					events += r.Totals.Events
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
			// CPU time is what a shared machine's load does not inflate.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/query")
			b.ReportMetric(float64(events), "events")
		})
	}
}

// inTimeOrder sorts events by occurred_at, as live traffic arrives.
func inTimeOrder(evs []*agenttrailv1.Event) []*agenttrailv1.Event {
	slices.SortStableFunc(evs, func(a, b *agenttrailv1.Event) int {
		return a.GetOccurredAt().AsTime().Compare(b.GetOccurredAt().AsTime())
	})
	return evs
}

// BenchmarkAppendAggregatesOverhead appends the same events to two stores,
// one maintaining aggregates and one not, alternating batch by batch (and
// which store goes first) so that both see the same disk from moment to
// moment, and reports the ratio of their append times: what maintaining
// the aggregates costs. Events come in time order, as live traffic does,
// or scattered over a whole day in every batch (the worst case: each batch
// touches every hour).
//
//	go test ./store -run '^$' -bench AggregatesOverhead -benchtime 2000x
func BenchmarkAppendAggregatesOverhead(b *testing.B) {
	for _, bc := range []struct {
		batch     int
		scattered bool
	}{{1, false}, {256, false}, {256, true}} {
		name := fmt.Sprintf("batch=%d/in-order", bc.batch)
		if bc.scattered {
			name = fmt.Sprintf("batch=%d/scattered-over-a-day", bc.batch)
		}
		batch := bc.batch
		b.Run(name, func(b *testing.B) {
			with, without := benchLog(b.TempDir()), benchLog(b.TempDir())
			sw, err := store.Open(context.Background(), with.URL, with.Options()...)
			if err != nil {
				b.Fatal(err)
			}
			defer sw.Close()
			so, err := store.Open(context.Background(), without.URL, without.Options(store.WithoutAggregatesForTest())...)
			if err != nil {
				b.Fatal(err)
			}
			defer so.Close()
			evs := storetest.StatsCorpus(b.N*batch, 24, 9)
			if !bc.scattered {
				evs = inTimeOrder(evs)
			}
			var tWith, tWithout time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				part := evs[i*batch : (i+1)*batch]
				for k, s := range []*store.Store{sw, so} {
					if i%2 == 1 {
						s = []*store.Store{so, sw}[k] // alternate which goes first
					}
					start := time.Now()
					res, err := s.Append(context.Background(), "bench", part)
					if err != nil || res[0].Err != nil {
						b.Fatal(err, res[0].Err)
					}
					if s == sw {
						tWith += time.Since(start)
					} else {
						tWithout += time.Since(start)
					}
				}
			}
			n := float64(b.N * batch)
			b.ReportMetric(n/tWith.Seconds(), "with-events/s")
			b.ReportMetric(n/tWithout.Seconds(), "without-events/s")
			b.ReportMetric(tWith.Seconds()/tWithout.Seconds(), "time-ratio")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dayStore.remove {
		os.RemoveAll(dayStore.dir)
	}
	os.Exit(code)
}
