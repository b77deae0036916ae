package badger

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/storetest"
)

var benchTemplate = storetest.Samples()[2]

// benchEvent is an LLM-call event whose encoding is about size bytes.
func benchEvent(i int, size int) *agenttrailv1.Event {
	ev := proto.Clone(benchTemplate).(*agenttrailv1.Event)
	ev.EventId = fmt.Sprintf("bench-%012d", i)
	ev.SessionId = fmt.Sprintf("session-%d", i%100)
	ev.ParentEventId = ""
	ev.OccurredAt = timestamppb.New(storetest.Now)
	llm := ev.GetLlmCall()
	llm.InputMessages = llm.InputMessages[:2]
	llm.OutputText = ""
	if pad := size - proto.Size(ev) - 3; pad > 0 {
		llm.OutputText = strings.Repeat("x", pad)
	}
	return ev
}

// benchLog is a benchmark's log in a data directory, with its key inside.
func benchLog(dir string) storetest.Log {
	return storetest.Log{URL: URL(dir) + "?gc_interval=0", KeyFile: filepath.Join(dir, "checkpoint-signing.key")}
}

// openBench opens a benchmark's store in a data directory.
func openBench(b *testing.B, dir string) *store.Store { return benchLog(dir).Open(b) }

func reportEventsPerSecond(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend appends 1 KiB events in calls of batch events from one
// goroutine: each call is one durable transaction.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openBench(b, b.TempDir())
			evs := make([]*agenttrailv1.Event, batch)
			n := 0
			b.SetBytes(int64(1024 * batch))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range evs {
					evs[j] = benchEvent(n, 1024)
					n++
				}
				res, err := s.Append(context.Background(), "bench", evs)
				if err != nil || res[0].Err != nil {
					b.Fatal(err, res[0].Err)
				}
			}
			reportEventsPerSecond(b, n)
		})
	}
}

// BenchmarkAppendConcurrent appends 1 KiB events from many goroutines at
// once, calls of per events each, as a server with many agent streams does:
// the sequencer forms the batches, and prepares each while the previous one
// commits.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, c := range []struct{ writers, per int }{{8, 1}, {64, 1}, {8, 32}} {
		writers, per := c.writers, c.per
		b.Run(fmt.Sprintf("writers=%d/per=%d", writers, per), func(b *testing.B) {
			s := openBench(b, b.TempDir())
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(1024)
			b.ResetTimer()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					evs := make([]*agenttrailv1.Event, 0, per)
					for {
						first := next.Add(int64(per)) - int64(per)
						if first >= int64(b.N) {
							return
						}
						evs = evs[:0]
						for i := first; i < first+int64(per) && i < int64(b.N); i++ {
							evs = append(evs, benchEvent(int(i), 1024))
						}
						res, err := s.Append(context.Background(), "bench", evs)
						if err != nil || res[0].Err != nil {
							b.Error(err, res[0].Err)
							return
						}
					}
				}()
			}
			wg.Wait()
			reportEventsPerSecond(b, b.N)
		})
	}
}

// baseline writes events with plain Badger transactions, SyncWrites on,
// under the store's Badger options: one key per event (the whole encoded
// event) and one key per index entry (event id, session, agent, kind,
// occurred_at), no hashing, no signing.
type baseline struct {
	db *badgerdb.DB
	n  int
}

func newBaseline(b *testing.B) *baseline {
	db, err := badgerdb.Open(badgerdb.DefaultOptions(filepath.Join(b.TempDir(), "events")).
		WithSyncWrites(true).WithDetectConflicts(false).WithLogger(nil).WithMetricsEnabled(false).
		WithMemTableSize(memTableSize).WithNumMemtables(numMemtables).WithNumLevelZeroTables(4).WithNumLevelZeroTablesStall(12).
		WithNumCompactors(2).WithValueThreshold(valueThreshold).WithValueLogFileSize(256 << 20).
		WithBlockCacheSize(48 << 20).WithIndexCacheSize(16 << 20).WithCompression(options.None))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return &baseline{db: db}
}

// write commits one transaction of batch new events.
func (bl *baseline) write(b *testing.B, batch int) {
	txn := bl.db.NewTransaction(true)
	defer txn.Discard()
	for j := 0; j < batch; j++ {
		ev := benchEvent(bl.n, 1024)
		val, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		idx := binary.BigEndian.AppendUint64(nil, uint64(bl.n))
		keys := [][]byte{
			append([]byte("e"), idx...),
			append([]byte("i"+ev.GetEventId()), idx...),
			append([]byte("s"+ev.GetSessionId()), idx...),
			append([]byte("a"+ev.GetAgentId()), idx...),
			append([]byte("k\x00\x02"), idx...),
			append(binary.BigEndian.AppendUint64([]byte("t"), uint64(ev.GetOccurredAt().GetSeconds())), idx...),
		}
		if err := txn.Set(keys[0], val); err != nil {
			b.Fatal(err)
		}
		for _, k := range keys[1:] {
			if err := txn.Set(k, idx); err != nil {
				b.Fatal(err)
			}
		}
		bl.n++
	}
	if err := txn.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBaselineBadger writes the same 1 KiB events as BenchmarkAppend
// with plain Badger transactions (see baseline).
func BenchmarkBaselineBadger(b *testing.B) {
	for _, batch := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			bl := newBaseline(b)
			b.SetBytes(int64(1024 * batch))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bl.write(b, batch)
			}
			reportEventsPerSecond(b, bl.n)
		})
	}
}

// BenchmarkAppendVsBaseline alternates one durable batch of the store with
// one plain-Badger transaction of the same events (see baseline), so that
// both see the same machine and disk from moment to moment, and reports
// their rates and the ratio store/baseline. On a shared machine this is the
// figure to read; separate runs of BenchmarkAppend and BenchmarkBaselineBadger
// can differ by half between minutes.
func BenchmarkAppendVsBaseline(b *testing.B) {
	for _, batch := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openBench(b, b.TempDir())
			bl := newBaseline(b)
			evs := make([]*agenttrailv1.Event, batch)
			n := 0
			var inStore, inBaseline time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range evs {
					evs[j] = benchEvent(n, 1024)
					n++
				}
				start := time.Now()
				res, err := s.Append(context.Background(), "bench", evs)
				if err != nil || res[0].Err != nil {
					b.Fatal(err, res[0].Err)
				}
				mid := time.Now()
				bl.write(b, batch)
				inStore += mid.Sub(start)
				inBaseline += time.Since(mid)
			}
			storeRate := float64(n) / inStore.Seconds()
			baseRate := float64(bl.n) / inBaseline.Seconds()
			b.ReportMetric(storeRate, "store-events/s")
			b.ReportMetric(baseRate, "baseline-events/s")
			b.ReportMetric(storeRate/baseRate, "ratio")
		})
	}
}

var scanStore struct {
	once sync.Once
	dir  string
	err  error
}

// BenchmarkScanSession scans one session of 1,000 events among 1,000,000.
// Building the store takes a while (about a minute here) and happens once
// per benchmark process, in a temporary directory.
func BenchmarkScanSession(b *testing.B) {
	const total, session = 1_000_000, 1_000
	scanStore.once.Do(func() {
		scanStore.dir, scanStore.err = buildScanStore(total, session)
	})
	if scanStore.err != nil {
		b.Fatal(scanStore.err)
	}
	b.Cleanup(func() {})
	s := openBench(b, scanStore.dir)
	for _, read := range []store.ReadMode{store.HeaderOnly, store.HeaderAndContent} {
		name := map[store.ReadMode]string{store.HeaderOnly: "header", store.HeaderAndContent: "content"}[read]
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				n := 0
				for _, err := range s.Scan(context.Background(), store.Query{Filter: store.Filter{SessionID: "needle"}, Read: read}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != session {
					b.Fatalf("scanned %d events, want %d", n, session)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*session), "ns/event")
		})
	}
}

func buildScanStore(total, session int) (string, error) {
	every := total / session
	return buildStore(total, func(j int, ev *agenttrailv1.Event) {
		if j%every == every/2 {
			ev.SessionId = "needle"
		}
	})
}

// buildStore appends total 1 KiB events, in calls of 256, to a new store in
// a temporary directory; edit adjusts event j.
func buildStore(total int, edit func(j int, ev *agenttrailv1.Event)) (string, error) {
	dir, err := os.MkdirTemp("", "agenttrail-scan-bench-")
	if err != nil {
		return "", err
	}
	s, err := store.Open(context.Background(), URL(dir)+"?gc_interval=0", benchLog(dir).Options()...)
	if err != nil {
		return "", err
	}
	defer s.Close()
	start := time.Now()
	for i := 0; i < total; i += 256 {
		evs := make([]*agenttrailv1.Event, 0, 256)
		for j := i; j < i+256 && j < total; j++ {
			ev := benchEvent(j, 1024)
			edit(j, ev)
			evs = append(evs, ev)
		}
		res, err := s.Append(context.Background(), "bench", evs)
		if err != nil {
			return "", err
		}
		for _, r := range res {
			if r.Err != nil {
				return "", r.Err
			}
		}
	}
	fmt.Printf("built a store of %d events in %v\n", total, time.Since(start).Round(time.Second))
	return dir, nil
}

var sessionStore struct {
	once sync.Once
	dir  string
	err  error
}

// BenchmarkScanInterleavedSession scans one session of 12,500 events
// among 100,000, of 8 sessions appended interleaved, as 8 agents streaming
// at once leave them (the session of one `agenttrail bench` stream): the
// read path of a session query, below the server.
func BenchmarkScanInterleavedSession(b *testing.B) {
	const total, sessions = 100_000, 8
	sessionStore.once.Do(func() {
		sessionStore.dir, sessionStore.err = buildInterleavedStore(total, sessions)
	})
	if sessionStore.err != nil {
		b.Fatal(sessionStore.err)
	}
	s := openBench(b, sessionStore.dir)
	for _, read := range []store.ReadMode{store.HeaderOnly, store.HeaderAndContent} {
		name := map[store.ReadMode]string{store.HeaderOnly: "header", store.HeaderAndContent: "content"}[read]
		b.Run(name, func(b *testing.B) {
			n := 0
			for i := 0; i < b.N; i++ {
				for _, err := range s.Scan(context.Background(), store.Query{Filter: store.Filter{SessionID: "session-3"}, Read: read}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			if n != b.N*total/sessions {
				b.Fatalf("scanned %d events, want %d", n, b.N*total/sessions)
			}
			reportEventsPerSecond(b, n)
		})
	}
}

func buildInterleavedStore(total, sessions int) (string, error) {
	return buildStore(total, func(j int, ev *agenttrailv1.Event) { ev.SessionId = fmt.Sprintf("session-%d", j%sessions) })
}
