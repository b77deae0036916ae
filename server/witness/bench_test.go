package witness_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/server/witness"
	"github.com/agenttrail/agenttrail/store"
)

// BenchmarkWitnesses measures what two witnesses cost a log, against the
// same log without witnesses, in one run with the rounds interleaved so
// both see the same machine: append throughput (batches of 256 events of
// about 1 KiB, every batch signed), and the extra time from a signed
// checkpoint to one a quorum of two witnesses cosigned (each witness a real
// HTTP server on loopback that syncs its state before it answers).
//
// With checkpoints signed each second (the default) the witnesses see one
// round a second; signed with every batch, one round per batch.
//
//	go test ./server/witness -run '^$' -bench Witnesses -benchtime 40x
func BenchmarkWitnesses(b *testing.B) {
	b.Run("signed-every-batch", func(b *testing.B) { benchWitnesses(b, 0) })
	b.Run("signed-each-second", func(b *testing.B) { benchWitnesses(b, time.Second) })
}

func benchWitnesses(b *testing.B, interval time.Duration) {
	ctx := context.Background()
	open := func() *store.Store {
		ts, err := servertest.Start(ctx, servertest.Config{StoreOptions: []store.Option{store.WithCheckpointInterval(interval), store.WithOrigin(origin)}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ts.Close() })
		return ts.Store
	}
	plain, witnessed := open(), open()
	var clients []*witness.Client
	for i := range 2 {
		l := testLog{vkey: witnessed.VerifierKey().String()}
		w, err := witness.New(b.TempDir(), mustKey(b, fmt.Sprintf("bench.test/w%d", i)), []witness.LogConfig{{Origin: origin, VerifierKey: l.vkey}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(w)
		b.Cleanup(srv.Close)
		c, err := witness.NewClient(fmt.Sprintf("w%d", i), srv.URL, w.Key().String())
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
	}
	sub, err := witness.NewSubmitter(witnessed, clients, 2, nil)
	if err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sub.Run(sctx); close(done) }()
	defer func() { cancel(); <-done }()

	const batch = 256
	payload := make([]byte, 900)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	n := 0
	events := func() []*agenttrailv1.Event {
		var evs []*agenttrailv1.Event
		for range batch {
			evs = append(evs, &agenttrailv1.Event{EventId: fmt.Sprintf("b-%08d", n), SessionId: "s", AgentId: "a", OccurredAt: timestamppb.Now(),
				Payload: &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Text: string(payload)}}})
			n++
		}
		return evs
	}
	appendTo := func(st *store.Store) time.Duration {
		evs := events()
		start := time.Now()
		if _, err := st.Append(ctx, "agent", evs); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var tPlain, tWitnessed time.Duration
	var extra []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tPlain += appendTo(plain)
		tWitnessed += appendTo(witnessed)
		// Once a signed checkpoint covers the append, how much later is
		// it cosigned by both witnesses?
		size, _ := witnessed.Size()
		for witnessed.LatestCheckpoint().Size < size {
			time.Sleep(200 * time.Microsecond)
		}
		signed := time.Now()
		for sub.Cosigned().Size < size {
			time.Sleep(200 * time.Microsecond)
			if time.Since(signed) > 30*time.Second {
				b.Fatalf("not cosigned in 30s: %+v", sub.Counts())
			}
		}
		extra = append(extra, time.Since(signed))
	}
	b.StopTimer()
	total := float64(b.N * batch)
	b.ReportMetric(total/tPlain.Seconds(), "events/s-no-witness")
	b.ReportMetric(total/tWitnessed.Seconds(), "events/s-2-witnesses")
	b.ReportMetric(tWitnessed.Seconds()/tPlain.Seconds(), "append-time-ratio")
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	b.ReportMetric(float64(extra[len(extra)/2].Microseconds())/1000, "ms-cosign-p50")
	b.ReportMetric(float64(extra[len(extra)*9/10].Microseconds())/1000, "ms-cosign-p90")
	b.ReportMetric(0, "ns/op")
}

func mustKey(b *testing.B, name string) string {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		b.Fatal(err)
	}
	return skey
}
