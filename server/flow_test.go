package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
)

func numbered(n int) []*agenttrailv1.Event {
	base := agentEvents()[2] // an LLM call
	var out []*agenttrailv1.Event
	for i := 0; i < n; i++ {
		ev := proto.Clone(base).(*agenttrailv1.Event)
		ev.EventId = fmt.Sprintf("flow-%06d", i)
		ev.ParentEventId = ""
		out = append(out, ev)
	}
	return out
}

// Clients that open many streams, send, and never read are held back by
// the in-flight window and ended by the send timeout; the server stays up
// and keeps serving others.
func TestClientsThatNeverReadAreCutOff(t *testing.T) {
	h := start(t, nil, server.WithInFlight(16, 1<<20), server.WithSendTimeout(300*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Fixed, small flow-control windows (which turn off gRPC's window
	// growth), so that a client that does not read fills them.
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stalled := agenttrailv1.NewAppendServiceClient(conn)
	goroutines := runtime.NumGoroutine()
	const streams = 8
	var opened []agenttrailv1.AppendService_AppendClient
	for st := 0; st < streams; st++ {
		stream, err := stalled.Append(ctx)
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, stream)
		// Send far more than fits in the windows and never read: the
		// server's sends block, and its watchdog ends the stream.
		go func(st int) {
			for i, ev := range numbered(4000) {
				ev.EventId = fmt.Sprintf("s%02d-%06d", st, i)
				if err := stream.Send(&agenttrailv1.AppendRequest{Event: ev}); err != nil {
					return
				}
			}
		}(st)
	}
	// How soon the windows fill depends on how fast the store commits,
	// which on a loaded machine under the race detector can be slow: the
	// deadline is patience, not a speed target.
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(h.log.String(), "ending a stream whose client stopped reading") < streams {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not end the stalled streams: %d of %d", strings.Count(h.log.String(), "ending a stream whose client stopped reading"), streams)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// When the clients do read, they find the stream ended with
	// RESOURCE_EXHAUSTED after the responses that were sent.
	for _, stream := range opened {
		var err error
		for err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("stalled stream ended with %v, want ResourceExhausted", err)
		}
	}
	// The server still answers health checks and appends.
	hc, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after stalled clients: %v, %v", hc, err)
	}
	resps := appendAll(t, h.append, requests(numbered(3)))
	for _, r := range resps {
		if r.GetReceipt() == nil {
			t.Errorf("append after stalled clients: %v", r)
		}
	}
	// The stalled streams' goroutines are gone.
	time.Sleep(200 * time.Millisecond)
	if now := runtime.NumGoroutine(); now > goroutines+50 {
		t.Errorf("%d goroutines now, %d before: stalled streams leak", now, goroutines)
	}
}

// A live tail streams events as they commit, says when it caught up, and
// ends with UNAVAILABLE when the server shuts down.
func TestTailFollowsAndEndsOnShutdown(t *testing.T) {
	h := start(t, nil)
	appendAll(t, h.append, requests(numbered(5)))
	tail, err := h.query.Query(context.Background(), &agenttrailv1.QueryRequest{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < 5 {
		r, err := tail.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetEntry() != nil {
			got++
		}
	}
	r, err := tail.Recv()
	if err != nil || r.GetCaughtUp().GetTreeSize() != 5 {
		t.Fatalf("after the stored entries: %v, %v; want caught_up at 5", r, err)
	}
	more := numbered(8)[5:]
	appendAll(t, h.append, requests(more))
	for i := 0; i < 3; i++ {
		r, err := tail.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetEntry().GetEvent().GetEventId() != more[i].GetEventId() {
			t.Errorf("live entry %d: %v, want %s", i, r.GetEntry().GetEvent().GetEventId(), more[i].GetEventId())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go h.srv.Shutdown(ctx)
	_, err = tail.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Errorf("tail at shutdown: %v, want Unavailable", err)
	}
}

// At shutdown an Append stream stops reading, still answers every event it
// handed to the store, and ends with UNAVAILABLE; everything answered is
// stored.
func TestShutdownAnswersInFlightAppends(t *testing.T) {
	h := start(t, nil)
	stream, err := h.append.Append(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	evs := numbered(200)
	for _, ev := range evs[:100] {
		if err := stream.Send(&agenttrailv1.AppendRequest{Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := stream.Recv()
	if err != nil || first.GetReceipt() == nil {
		t.Fatalf("first response: %v, %v", first, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- h.srv.Shutdown(ctx) }()
	acked := map[string]bool{first.GetEventId(): true}
	for {
		r, err := stream.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable && !errors.Is(err, io.EOF) {
				t.Errorf("stream ended with %v, want Unavailable", err)
			}
			break
		}
		if r.GetReceipt() == nil {
			t.Errorf("rejection during shutdown: %v", r)
		}
		acked[r.GetEventId()] = true
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for id := range acked {
		if _, err := h.st.GetByID(context.Background(), id, 0); err != nil {
			t.Errorf("acknowledged %s is not stored: %v", id, err)
		}
	}
	if size, _ := h.st.Size(); size < uint64(len(acked)) {
		t.Errorf("size %d < %d acknowledged", size, len(acked))
	}
}
