package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// BenchmarkQueryView streams 1,000 realistic LLM-call events (about 4 KiB
// of messages each, with an email, a phone number, a card number and an IP
// address to mask) through a real server over loopback, in the full view
// and in the developer's redacted view. The ratio of their ns/event is what
// redaction adds to a Query.
func BenchmarkQueryView(b *testing.B) {
	const n = 1000
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		b.Fatal(err)
	}
	views := []struct {
		name string
		view server.View
	}{
		{"full", server.FullView{}},
		// The developer view's shape without its redaction: the control
		// for what redaction alone adds.
		{"unredacted", server.RedactedView{Redactor: identity{}, Viewer: "dev"}},
		{"redacted", server.RedactedView{Redactor: red, Viewer: "dev"}},
		{"metadata", server.MetadataView{}},
	}
	for _, v := range views {
		b.Run(v.name, func(b *testing.B) {
			h := start(b, []store.Option{store.WithClock(func() time.Time { return eventtest.T0.Add(time.Hour) })}, server.WithViews(func(context.Context) (server.View, error) { return v.view, nil }))
			var evs []*agenttrailv1.Event
			for i := 0; i < n; i++ {
				ev := proto.Clone(eventtest.RealisticLLMCall()).(*agenttrailv1.Event)
				ev.EventId = eventtest.ID(fmt.Sprintf("bench-%06d", i))
				ev.ParentEventId = ""
				evs = append(evs, ev)
			}
			for i := 0; i < n; i += 250 {
				res, err := h.st.Append(context.Background(), "bench", evs[i:i+250])
				if err != nil || res[0].Err != nil {
					b.Fatal(err, res[0].Err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				stream, err := h.query.Query(context.Background(), &agenttrailv1.QueryRequest{})
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for {
					_, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				if got != n {
					b.Fatalf("%d entries, want %d", got, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}

// BenchmarkQueryRedactionCost alternates the same Query of 1,000 realistic
// LLM calls in the developer view and in the developer view's shape without
// redaction (the control), on one server, so that both see the same machine
// from moment to moment; it reports ns/event of each and the redaction's
// share of the control's cost. On a shared machine this is the figure to
// read.
func BenchmarkQueryRedactionCost(b *testing.B) {
	const n = 1000
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		b.Fatal(err)
	}
	views := map[string]server.View{
		"redacted":   server.RedactedView{Redactor: red, Viewer: "dev"},
		"unredacted": server.RedactedView{Redactor: identity{}, Viewer: "dev"},
	}
	h := start(b, []store.Option{store.WithClock(func() time.Time { return eventtest.T0.Add(time.Hour) })},
		server.WithViews(func(ctx context.Context) (server.View, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			return views[md.Get("x-view")[0]], nil
		}))
	var evs []*agenttrailv1.Event
	for i := 0; i < n; i++ {
		ev := proto.Clone(eventtest.RealisticLLMCall()).(*agenttrailv1.Event)
		ev.EventId = eventtest.ID(fmt.Sprintf("bench-%06d", i))
		ev.ParentEventId = ""
		evs = append(evs, ev)
	}
	for i := 0; i < n; i += 250 {
		if _, err := h.st.Append(context.Background(), "bench", evs[i:i+250]); err != nil {
			b.Fatal(err)
		}
	}
	query := func(view string) time.Duration {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-view", view)
		start := time.Now()
		stream, err := h.query.Query(ctx, &agenttrailv1.QueryRequest{})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for {
			_, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got++
		}
		if got != n {
			b.Fatalf("%d entries, want %d", got, n)
		}
		return time.Since(start)
	}
	var redacted, control time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		control += query("unredacted")
		redacted += query("redacted")
	}
	perEvent := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*n) }
	b.ReportMetric(perEvent(control), "control-ns/event")
	b.ReportMetric(perEvent(redacted), "redacted-ns/event")
	b.ReportMetric(100*(perEvent(redacted)/perEvent(control)-1), "redaction-%")
}

// identity is a redactor that masks nothing.
type identity struct{}

func (identity) Mask(*agenttrailv1.Event) {}
func (identity) Version() string          { return "none" }
