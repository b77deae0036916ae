package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// logBuffer collects the server's log for checks that nothing sensitive is
// logged.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is a real server on a loopback port over a fresh store, and a
// client connection to it.
type harness struct {
	st   *store.Store
	srv  *server.Server
	conn *grpc.ClientConn
	log  *logBuffer
	addr string
	dir  string // the Badger data directory

	append agenttrailv1.AppendServiceClient
	query  agenttrailv1.QueryServiceClient
	logs   agenttrailv1.LogServiceClient
}

func start(t testing.TB, storeOpts []store.Option, opts ...server.Option) *harness {
	t.Helper()
	h := &harness{log: &logBuffer{}}
	logger := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts := servertest.New(t, servertest.Config{
		StoreOptions:  append([]store.Option{store.WithCheckpointInterval(0)}, storeOpts...),
		ServerOptions: opts,
		Logger:        logger,
	})
	conn, err := grpc.NewClient(ts.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h.st, h.srv, h.conn, h.addr, h.dir = ts.Store, ts.Server, conn, ts.Addr, ts.Dir
	h.append = agenttrailv1.NewAppendServiceClient(conn)
	h.query = agenttrailv1.NewQueryServiceClient(conn)
	h.logs = agenttrailv1.NewLogServiceClient(conn)
	return h
}

// fresh returns the samples with current times, so the server's clock
// accepts them.
func fresh() []*agenttrailv1.Event {
	var out []*agenttrailv1.Event
	for _, s := range eventtest.Samples() {
		ev := proto.Clone(s.Event).(*agenttrailv1.Event)
		ev.OccurredAt = timestamppb.New(time.Now().Add(-time.Minute))
		out = append(out, ev)
	}
	return out
}

func agentEvents() []*agenttrailv1.Event {
	var out []*agenttrailv1.Event
	for _, ev := range fresh() {
		if ev.GetSessionId() != "" {
			out = append(out, ev)
		}
	}
	return out
}

// appendAll sends requests on one stream and returns the responses.
func appendAll(t *testing.T, c agenttrailv1.AppendServiceClient, reqs []*agenttrailv1.AppendRequest) []*agenttrailv1.AppendResponse {
	t.Helper()
	stream, err := c.Append(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var out []*agenttrailv1.AppendResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Recv after %d responses: %v", len(out), err)
		}
		out = append(out, resp)
	}
}

func requests(evs []*agenttrailv1.Event) []*agenttrailv1.AppendRequest {
	var out []*agenttrailv1.AppendRequest
	for _, ev := range evs {
		out = append(out, &agenttrailv1.AppendRequest{Event: ev})
	}
	return out
}

func TestAppendQueryGetProve(t *testing.T) {
	h := start(t, nil)
	evs := agentEvents()
	resps := appendAll(t, h.append, requests(evs))
	if len(resps) != len(evs) {
		t.Fatalf("%d responses for %d requests", len(resps), len(evs))
	}
	for i, r := range resps {
		rc := r.GetReceipt()
		if rc == nil {
			t.Fatalf("response %d: %v, want a receipt", i, r.GetRejection())
		}
		if rc.GetLogIndex() != uint64(i) || r.GetEventId() != evs[i].GetEventId() || len(rc.GetLeafHash()) != 32 {
			t.Errorf("response %d: %v", i, r)
		}
	}
	// Query streams them back in order, whole.
	qs, err := h.query.Query(context.Background(), &agenttrailv1.QueryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		resp, err := qs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		e := resp.GetEntry()
		if !proto.Equal(e.GetEvent(), evs[n]) {
			t.Errorf("entry %d differs from the event appended", n)
		}
		if e.GetView().GetKind() != agenttrailv1.ViewKind_VIEW_KIND_FULL || len(e.GetCommitment().GetSalt()) != 32 {
			t.Errorf("entry %d: view %v", n, e.GetView())
		}
		n++
	}
	if n != len(evs) {
		t.Errorf("query returned %d entries, want %d", n, len(evs))
	}
	got, err := h.query.GetEvent(context.Background(), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_EventId{EventId: evs[3].GetEventId()}})
	if err != nil || got.GetEntry().GetStamp().GetLogIndex() != 3 {
		t.Fatalf("GetEvent(id) = %v, %v", got, err)
	}
	cp, err := h.logs.GetCheckpoint(context.Background(), &agenttrailv1.GetCheckpointRequest{})
	if err != nil || cp.GetCheckpoint().GetTreeSize() != uint64(len(evs)) {
		t.Fatalf("GetCheckpoint = %v, %v", cp, err)
	}
	p, err := h.logs.GetInclusionProof(context.Background(), &agenttrailv1.GetInclusionProofRequest{LogIndex: 3})
	if err != nil || p.GetTreeSize() != uint64(len(evs)) || len(p.GetHashes()) == 0 {
		t.Fatalf("GetInclusionProof = %v, %v", p, err)
	}
	_, err = h.query.GetEvent(context.Background(), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: 999}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetEvent(999) = %v, want NotFound", err)
	}
}
