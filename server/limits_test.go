package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
)

// Calls whose metadata exceeds the bound are refused before any
// interceptor sees them; the server goes on serving.
func TestHeaderListIsBounded(t *testing.T) {
	h := start(t, nil, server.WithMaxHeaderListSize(16<<10))
	health := healthpb.NewHealthClient(h.conn)
	big := metadata.AppendToOutgoingContext(context.Background(), "x-padding", strings.Repeat("a", 64<<10))
	if _, err := health.Check(big, &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("a health check with 64 KiB of metadata was served; want it refused")
	}
	small := metadata.AppendToOutgoingContext(context.Background(), "x-padding", strings.Repeat("a", 4<<10))
	if r, err := health.Check(small, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("a health check with 4 KiB of metadata: %v, %v; want SERVING", r, err)
	}
	if strings.Contains(h.log.String(), "x-padding") {
		t.Error("the log holds the refused metadata")
	}
}

// Health checks do not count against the rate limit: probes keep
// answering while other calls are refused.
func TestHealthChecksBypassTheRateLimit(t *testing.T) {
	h := start(t, nil, server.WithRateLimit(0.001, 1))
	health := healthpb.NewHealthClient(h.conn)
	for i := range 50 {
		if r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health check %d: %v, %v; want SERVING", i, r, err)
		}
	}
	var last error
	for range 3 {
		_, last = h.logs.GetCheckpoint(context.Background(), &agenttrailv1.GetCheckpointRequest{})
	}
	if status.Code(last) != codes.ResourceExhausted {
		t.Fatalf("calls over the rate limit: %v; want ResourceExhausted", last)
	}
}

// At shutdown a stream whose client stopped reading is cut soon, with a log
// line, rather than holding the shutdown for its whole deadline; the
// shutdown is then a clean one.
func TestShutdownCutsStreamsWhoseClientsStopReading(t *testing.T) {
	h := start(t, nil)
	evs := numbered(1000)
	for i := 0; i < len(evs); i += 200 {
		appendAll(t, h.append, requests(evs[i:i+200]))
	}
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A query of every event whose client reads one response and stops:
	// the server's sends fill the windows and block.
	q, err := agenttrailv1.NewQueryServiceClient(conn).Query(context.Background(), &agenttrailv1.QueryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Recv(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v; want a clean shutdown", err)
	}
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("Shutdown took %v: the stalled stream held it", took)
	}
	if !strings.Contains(h.log.String(), "cut a stream whose client stopped reading") {
		t.Errorf("no log line for the stream cut at shutdown:\n%s", h.log.String())
	}
}
