package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// fakeAppend is an AppendService that acknowledges every event and records
// how many events each request carried (0 for a single-event request).
// With batch 0 it is a server that predates batched frames: it sends no
// batch header.
type fakeAppend struct {
	agenttrailv1.UnimplementedAppendServiceServer
	batch int
	// pause is how long it stops reading after its first response, so
	// that the client's requests queue up behind flow control.
	pause time.Duration
	// hold is how long it holds back its first response, so that the
	// client's events queue up before it sees the batch header.
	hold time.Duration

	mu     sync.Mutex
	frames []int
}

func (f *fakeAppend) Append(stream agenttrailv1.AppendService_AppendServer) error {
	if f.batch > 0 {
		stream.SetHeader(metadata.Pairs("agenttrail-append-batch", strconv.Itoa(f.batch)))
	}
	index := uint64(0)
	receipt := func(ev *agenttrailv1.Event) *agenttrailv1.AppendResponse {
		index++
		return &agenttrailv1.AppendResponse{EventId: ev.GetEventId(), Result: &agenttrailv1.AppendResponse_Receipt{
			Receipt: &agenttrailv1.Receipt{EventId: ev.GetEventId(), LogIndex: index - 1, LeafHash: make([]byte, 32)}}}
	}
	for n := 0; ; n++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.frames = append(f.frames, len(req.GetEvents()))
		f.mu.Unlock()
		if n == 0 {
			time.Sleep(f.hold)
		}
		resp := &agenttrailv1.AppendResponse{}
		if len(req.GetEvents()) > 0 {
			for _, ev := range req.GetEvents() {
				resp.Results = append(resp.Results, receipt(ev))
			}
		} else {
			resp = receipt(req.GetEvent())
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		if n == 0 {
			time.Sleep(f.pause)
		}
	}
}

func serveFake(t *testing.T, f *fakeAppend) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	agenttrailv1.RegisterAppendServiceServer(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// bigEvents returns n events of about 20 KiB each.
func bigEvents(n int) []*agenttrailv1.Event {
	evs := events("batched", n)
	for _, ev := range evs {
		ev.GetToolCall().Result = strings.Repeat("r", 20<<10)
	}
	return evs
}

// appendAll sends events on an Appender after a first one has been
// answered (so that the server's headers are known), and returns the
// results in order.
func appendAfterFirst(t *testing.T, c *client.Client, evs []*agenttrailv1.Event) []client.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := c.NewAppender(ctx, client.WithMaxInFlight(len(evs)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, evs[0]); err != nil {
		t.Fatal(err)
	}
	results := []client.Result{<-a.Results()}
	for _, ev := range evs[1:] {
		if err := a.Send(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	a.CloseSend()
	for r := range a.Results() {
		results = append(results, r)
	}
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	return results
}

func checkReceipts(t *testing.T, evs []*agenttrailv1.Event, results []client.Result) {
	t.Helper()
	if len(results) != len(evs) {
		t.Fatalf("%d results for %d events", len(results), len(evs))
	}
	for i, r := range results {
		if r.Err != nil || r.Event != evs[i] || r.Receipt.GetEventId() != evs[i].GetEventId() || r.Receipt.GetLogIndex() != uint64(i) {
			t.Errorf("result %d: %v %v, want the receipt of %s at %d", i, r.Receipt, r.Err, evs[i].GetEventId(), i)
		}
	}
}

// Once the server's headers say that it takes batched frames, an Appender
// sends what has queued up in one request; results still come one per
// event, in order.
func TestAppenderBatchesWhatQueuesUp(t *testing.T) {
	f := &fakeAppend{batch: 1024, pause: 300 * time.Millisecond}
	c := dial(t, serveFake(t, f))
	evs := bigEvents(60)
	checkReceipts(t, evs, appendAfterFirst(t, c, evs))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frames[0] != 0 {
		t.Errorf("the first request carried %d events in a batch, want a single event (the server's headers are not known yet)", f.frames[0])
	}
	most := 0
	for _, n := range f.frames {
		most = max(most, n)
	}
	if most < 2 || len(f.frames) >= len(evs) {
		t.Errorf("requests carried %v events: want batched frames once events queue up", f.frames)
	}
}

// A burst sent at once, before the first answer (and with it the batch
// header) has come, still goes in frames: the appender sends its first
// request alone and waits for that answer before it sends more.
func TestAppenderBurstBeforeTheHeaderGoesInFrames(t *testing.T) {
	f := &fakeAppend{batch: 1024, hold: 200 * time.Millisecond}
	c := dial(t, serveFake(t, f))
	evs := events("burst", 200)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := c.NewAppender(ctx, client.WithMaxInFlight(len(evs)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := a.Send(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	a.CloseSend()
	var results []client.Result
	for r := range a.Results() {
		results = append(results, r)
	}
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	checkReceipts(t, evs, results)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frames[0] != 0 {
		t.Errorf("the first request carried %d events in a batch, want a single event (the server's headers are not known yet)", f.frames[0])
	}
	if len(f.frames) > len(evs)/4 {
		t.Errorf("got %d requests for %d events (%v), want at most %d: batched frames", len(f.frames), len(evs), f.frames, len(evs)/4)
	}
}

// A server that predates batched frames (no batch header) gets one event
// per request.
func TestAppenderSingleEventsToAnOlderServer(t *testing.T) {
	f := &fakeAppend{pause: 300 * time.Millisecond}
	c := dial(t, serveFake(t, f))
	evs := bigEvents(30)
	checkReceipts(t, evs, appendAfterFirst(t, c, evs))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, n := range f.frames {
		if n != 0 {
			t.Fatalf("request %d carried %d events in a batched frame; the server does not take them", i, n)
		}
	}
	if len(f.frames) != len(evs) {
		t.Errorf("%d requests for %d events", len(f.frames), len(evs))
	}
}

// A frame holds at most a quarter of the appender's in-flight bound, so
// that several frames are in flight and the stream never waits for one
// whole frame to commit before sending more.
func TestAppenderKeepsSeveralFramesInFlight(t *testing.T) {
	f := &fakeAppend{batch: 1024, pause: 300 * time.Millisecond}
	c := dial(t, serveFake(t, f))
	evs := bigEvents(40)
	checkReceipts(t, evs, appendAfterFirst(t, c, evs)) // in flight: 40
	f.mu.Lock()
	defer f.mu.Unlock()
	most := 0
	for _, n := range f.frames {
		most = max(most, n)
	}
	if most < 2 || most > 10 {
		t.Errorf("requests carried %v events: want batched frames of at most 10 (a quarter of 40 in flight)", f.frames)
	}
}
