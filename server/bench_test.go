package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
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
		{"redacted", server.RedactedView{Redactor: red, Viewer: "dev", Cache: server.NewViewCache(server.DefaultViewCacheBytes)}},
		{"redacted-uncached", server.RedactedView{Redactor: red, Viewer: "dev"}},
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
// LLM calls (about 4 KiB of messages each) in four views on one server, so
// that all see the same machine from moment to moment: the full view
// (compliance), the developer view's shape without redaction (the control),
// the developer view as served (with its cache of rendered views, warm
// after the first round), and the developer view with no cache (every
// event masked anew). It reports ns/event of each and the ratios of the
// developer views to the full view. On a shared machine the ratios are the
// figures to read.
func BenchmarkQueryRedactionCost(b *testing.B) {
	const n = 1000
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		b.Fatal(err)
	}
	views := map[string]server.View{
		"full":       server.FullView{},
		"unredacted": server.RedactedView{Redactor: identity{}, Viewer: "dev"},
		"redacted":   server.RedactedView{Redactor: red, Viewer: "dev", Cache: server.NewViewCache(server.DefaultViewCacheBytes)},
		"uncached":   server.RedactedView{Redactor: red, Viewer: "dev"},
		// The full view rendered as messages, as it was before entries
		// were encoded from stored bytes.
		"rendered": renderedFull{},
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
	cpu := map[string]time.Duration{}
	query := func(view string) time.Duration {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-view", view)
		cpu0 := processCPU()
		defer func() { cpu[view] += processCPU() - cpu0 }()
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
	var full, control, redacted, uncached, rendered time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		full += query("full")
		rendered += query("rendered")
		control += query("unredacted")
		redacted += query("redacted")
		uncached += query("uncached")
	}
	perEvent := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*n) }
	b.ReportMetric(perEvent(full), "full-ns/event")
	b.ReportMetric(perEvent(control), "control-ns/event")
	b.ReportMetric(perEvent(redacted), "redacted-ns/event")
	b.ReportMetric(perEvent(uncached), "uncached-ns/event")
	b.ReportMetric(perEvent(redacted)/perEvent(full), "redacted/full")
	b.ReportMetric(perEvent(uncached)/perEvent(full), "uncached/full")
	// The process's CPU time (client and server are one process) of each
	// view, which waiting for a busy machine does not inflate.
	b.ReportMetric(float64(cpu["redacted"])/float64(cpu["full"]), "redacted/full-cpu")
	b.ReportMetric(float64(cpu["uncached"])/float64(cpu["full"]), "uncached/full-cpu")
	b.ReportMetric(perEvent(full)/perEvent(rendered), "full/rendered")
	b.ReportMetric(float64(cpu["full"])/float64(cpu["rendered"]), "full/rendered-cpu")
}

// processCPU returns the CPU time, user and system, the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// identity is a redactor that masks nothing.
type identity struct{}

func (identity) Mask(*agenttrailv1.Event) {}
func (identity) Version() string          { return "none" }
