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
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
	"github.com/agenttrail/agenttrail/store/storetest"
)

var benchTemplate = storetest.Samples()[2]

// benchEvent is an LLM-call event whose encoding is about size bytes.
func benchEvent(i int, size int) *agenttrailv1.Event {
	ev := proto.Clone(benchTemplate).(*agenttrailv1.Event)
	ev.EventId = eventtest.ID(fmt.Sprintf("bench-%012d", i))
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

// BenchmarkEncryptionCost measures what encryption at rest costs, in one
// run, interleaved: two stores in two data directories, one encrypted (the
// format this build writes: content under per-event keys, Badger's own
// encryption) and one in the plaintext format of older builds
// (store.WithPlaintextStorage), take turns, a call each, so that both see
// the same machine and disk from moment to moment. It reports each one's
// rate and the ratio encrypted/plaintext: 0.9 means encryption costs 10%.
//
//	go test ./store/badger -run '^$' -bench EncryptionCost -benchtime 2000x
//
// append/batch=N: one caller, calls of N 1 KiB events (each call one
// durable transaction). append/writers=8: eight callers at once, calls of
// 32 events, as a server with several agent streams sees them. query: a
// scan of 1,000 events with their content (decrypted, for the encrypted
// store) from logs of 20,000.
func BenchmarkEncryptionCost(b *testing.B) {
	open := func(b *testing.B, opts ...store.Option) *store.Store {
		dir := b.TempDir()
		l := storetest.Log{URL: URL(dir) + "?gc_interval=0", KeyFile: filepath.Join(dir, "checkpoint-signing.key"), MasterKeyFile: dir + ".master-key"}
		return l.Open(b, append(opts, store.WithRetentionInterval(0))...)
	}
	report := func(b *testing.B, encRate, plainRate float64) {
		b.ReportMetric(encRate, "encrypted-events/s")
		b.ReportMetric(plainRate, "plaintext-events/s")
		b.ReportMetric(encRate/plainRate, "ratio")
	}
	for _, batch := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("append/batch=%d", batch), func(b *testing.B) {
			enc, plain := open(b), open(b, store.WithPlaintextStorage())
			var tEnc, tPlain time.Duration
			n := 0
			appendTo := func(s *store.Store, first int) time.Duration {
				evs := make([]*agenttrailv1.Event, batch)
				for j := range evs {
					evs[j] = benchEvent(first+j, 1024)
				}
				start := time.Now()
				res, err := s.Append(context.Background(), "bench", evs)
				if err != nil || res[0].Err != nil {
					b.Fatal(err, res[0].Err)
				}
				return time.Since(start)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%2 == 0 {
					tEnc += appendTo(enc, n)
					tPlain += appendTo(plain, n)
				} else {
					tPlain += appendTo(plain, n)
					tEnc += appendTo(enc, n)
				}
				n += batch
			}
			report(b, float64(n)/tEnc.Seconds(), float64(n)/tPlain.Seconds())
		})
	}
	b.Run("append/writers=8", func(b *testing.B) {
		enc, plain := open(b), open(b, store.WithPlaintextStorage())
		const writers, per, round = 8, 32, 8 * 32 * 8
		var tEnc, tPlain time.Duration
		n := 0
		burst := func(s *store.Store, first int) time.Duration {
			var next atomic.Int64
			var wg sync.WaitGroup
			start := time.Now()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						k := int(next.Add(per)) - per
						if k >= round {
							return
						}
						evs := make([]*agenttrailv1.Event, per)
						for j := range evs {
							evs[j] = benchEvent(first+k+j, 1024)
						}
						if res, err := s.Append(context.Background(), "bench", evs); err != nil || res[0].Err != nil {
							b.Error(err, res[0].Err)
							return
						}
					}
				}()
			}
			wg.Wait()
			return time.Since(start)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if i%2 == 0 {
				tEnc += burst(enc, n)
				tPlain += burst(plain, n)
			} else {
				tPlain += burst(plain, n)
				tEnc += burst(enc, n)
			}
			n += round
		}
		report(b, float64(n)/tEnc.Seconds(), float64(n)/tPlain.Seconds())
	})
	b.Run("query", func(b *testing.B) {
		const total, session = 20_000, 1_000
		fill := func(s *store.Store) {
			for i := 0; i < total; i += 256 {
				evs := make([]*agenttrailv1.Event, 0, 256)
				for j := i; j < i+256 && j < total; j++ {
					ev := benchEvent(j, 1024)
					if j%(total/session) == 0 {
						ev.SessionId = "needle"
					}
					evs = append(evs, ev)
				}
				if res, err := s.Append(context.Background(), "bench", evs); err != nil || res[0].Err != nil {
					b.Fatal(err, res[0].Err)
				}
			}
		}
		enc, plain := open(b), open(b, store.WithPlaintextStorage())
		fill(enc)
		fill(plain)
		scan := func(s *store.Store) time.Duration {
			start := time.Now()
			n := 0
			for e, err := range s.Scan(context.Background(), store.Query{Filter: store.Filter{SessionID: "needle"}, Read: store.HeaderAndContent}) {
				if err != nil || e.ContentState != store.ContentPresent {
					b.Fatal(err, e.ContentState)
				}
				n++
			}
			if n != session {
				b.Fatalf("scanned %d events, want %d", n, session)
			}
			return time.Since(start)
		}
		scan(enc) // warm both caches alike
		scan(plain)
		var tEnc, tPlain time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if i%2 == 0 {
				tEnc += scan(enc)
				tPlain += scan(plain)
			} else {
				tPlain += scan(plain)
				tEnc += scan(enc)
			}
		}
		report(b, float64(b.N*session)/tEnc.Seconds(), float64(b.N*session)/tPlain.Seconds())
	})
}

// BenchmarkEncryptionParts breaks the cost of encryption at rest down, in
// one interleaved run of calls of 256 events: plaintext (the format of
// older builds), engine (content encrypted per event, keyring records, but
// Badger's files in the clear, which only tests can ask for) and full (what
// this build does). badger-alone compares plain Badger transactions (see
// baseline) with and without Badger's own encryption: the part of the cost
// that is Badger's.
//
//	go test ./store/badger -run '^$' -bench EncryptionParts -benchtime 300x
func BenchmarkEncryptionParts(b *testing.B) {
	b.Run("store", func(b *testing.B) {
		mk := func(plainBadger, plaintext bool) *store.Store {
			dir := b.TempDir()
			l := storetest.Log{URL: URL(dir), KeyFile: filepath.Join(dir, "k"), MasterKeyFile: dir + ".mk"}
			opts := []Option{WithConfig(l.DriverConfig(b)), WithGCInterval(0)}
			if plainBadger || plaintext {
				opts = append(opts, withoutBadgerEncryption())
			}
			d, err := Open(dir, opts...)
			if err != nil {
				b.Fatal(err)
			}
			so := []store.Option{store.WithRetentionInterval(0)}
			if plaintext {
				so = append(so, store.WithPlaintextStorage())
			}
			s, err := store.New(context.Background(), d, l.Options(so...)...)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}
		ss := []*store.Store{mk(false, true), mk(true, false), mk(false, false)}
		names := []string{"plaintext", "engine", "full"}
		t := make([]time.Duration, 3)
		n := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for k := range ss {
				k := (k + i) % 3
				evs := make([]*agenttrailv1.Event, 256)
				for j := range evs {
					evs[j] = benchEvent(n+j, 1024)
				}
				start := time.Now()
				if res, err := ss[k].Append(context.Background(), "bench", evs); err != nil || res[0].Err != nil {
					b.Fatal(err)
				}
				t[k] += time.Since(start)
			}
			n += 256
		}
		for k := range ss {
			b.ReportMetric(float64(n)/t[k].Seconds(), names[k]+"-events/s")
		}
		b.ReportMetric(t[0].Seconds()/t[1].Seconds(), "engine/plaintext")
		b.ReportMetric(t[0].Seconds()/t[2].Seconds(), "full/plaintext")
	})
	b.Run("badger-alone", func(b *testing.B) {
		mk := func(key []byte) *baseline {
			db, err := badgerdb.Open(badgerdb.DefaultOptions(filepath.Join(b.TempDir(), "events")).
				WithSyncWrites(true).WithDetectConflicts(false).WithLogger(nil).WithMetricsEnabled(false).
				WithMemTableSize(32 << 20).WithNumMemtables(3).WithNumLevelZeroTables(4).WithNumLevelZeroTablesStall(12).
				WithNumCompactors(2).WithValueThreshold(1 << 10).WithValueLogFileSize(256 << 20).
				WithBlockCacheSize(48 << 20).WithIndexCacheSize(16 << 20).WithCompression(options.None).WithEncryptionKey(key))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return &baseline{db: db}
		}
		plain, enc := mk(nil), mk(make([]byte, 32))
		var tp, te time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s := time.Now()
			plain.write(b, 256)
			m := time.Now()
			enc.write(b, 256)
			tp += m.Sub(s)
			te += time.Since(m)
		}
		b.ReportMetric(float64(plain.n)/tp.Seconds(), "plain-events/s")
		b.ReportMetric(float64(enc.n)/te.Seconds(), "encrypted-events/s")
		b.ReportMetric(tp.Seconds()/te.Seconds(), "ratio")
	})
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

// BenchmarkLookupIDs looks up the ids of new events (none stored) against
// a log of 64k events. UUIDv7 ids, as clients make them, sort by time, so
// that a new one sorts after every stored id and needs no read; where the
// stored ids are random (UUIDv4, or ids a client makes its own way), a new
// random id sorts among them and takes a read.
func BenchmarkLookupIDs(b *testing.B) {
	v7 := func(int) string { return event.NewID() }
	random := func(i int) string { return eventtest.ID(fmt.Sprintf("lookup-%d", i)) }
	for _, tc := range []struct {
		name string
		id   func(i int) string
	}{
		{"ids=uuidv7", v7},
		{"ids=random", random},
	} {
		b.Run(tc.name, func(b *testing.B) {
			d, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			ctx := context.Background()
			const stored, batch = 1 << 16, 256
			n := 0
			for first := 0; first < stored; first += batch {
				bt := &store.Batch{First: uint64(first), Size: uint64(first + batch), IDsLookedUpAt: uint64(first)}
				for i := range batch {
					bt.Events = append(bt.Events, store.BatchEvent{EventID: tc.id(n), LeafData: []byte("leaf"), Content: []byte("content")})
					bt.Hashes = append(bt.Hashes, [store.HashSize]byte{byte(i), byte(first >> 8)})
					n++
				}
				if err := d.Commit(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			ids := make([]string, batch)
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				for i := range ids {
					ids[i] = tc.id(n)
					n++
				}
				b.StartTimer()
				found, err := d.LookupIDs(ctx, ids)
				if err != nil || len(found) != 0 {
					b.Fatalf("LookupIDs of new ids = %v, %v; want none", found, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/id")
		})
	}
}
