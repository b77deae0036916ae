package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		addr string
		opts []client.Option
		want error
	}{
		{"loopback plaintext", "127.0.0.1:7700", nil, nil},
		{"localhost with key", "localhost:7700", []client.Option{client.WithAPIKey("k-123")}, nil},
		{"ipv6 loopback with key", "[::1]:7700", []client.Option{client.WithAPIKey("k-123")}, nil},
		{"unix socket with key", "unix:///tmp/agenttrail.sock", []client.Option{client.WithAPIKey("k-123")}, nil},
		{"remote defaults to TLS, key allowed", "audit.example.com:443", []client.Option{client.WithAPIKey("k-123")}, nil},
		{"remote TLS with key", "audit.example.com:443", []client.Option{client.WithTLS(&tls.Config{}), client.WithAPIKey("k")}, nil},
		{"remote plaintext without key", "10.0.0.5:7700", []client.Option{client.WithInsecure()}, nil},
		{"remote plaintext with key", "10.0.0.5:7700", []client.Option{client.WithInsecure(), client.WithAPIKey("k-123")}, client.ErrKeyWithoutTLS},
		{"dns target plaintext with key", "dns:///audit.example.com:7700", []client.Option{client.WithInsecure(), client.WithAPIKey("k")}, client.ErrKeyWithoutTLS},
		{"empty address", "", nil, client.ErrInvalidOption},
		{"no port", "audit.example.com", nil, client.ErrInvalidOption},
		{"key with space", "127.0.0.1:7700", []client.Option{client.WithAPIKey("a b")}, client.ErrInvalidOption},
		{"empty key", "127.0.0.1:7700", []client.Option{client.WithAPIKey("")}, client.ErrInvalidOption},
		{"TLS and insecure", "127.0.0.1:7700", []client.Option{client.WithTLS(nil), client.WithInsecure()}, client.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(tt.addr, tt.opts...)
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("New(%q) = %v, want %v", tt.addr, err, tt.want)
			}
		})
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	const secret = "sk-do-not-print"
	_, err := client.New("10.0.0.5:7700", client.WithInsecure(), client.WithAPIKey(secret))
	if err == nil || regexp.MustCompile(secret).MatchString(err.Error()) {
		t.Fatalf("New = %v: want an error without the key", err)
	}
}

// TestAPIKeyHeader checks the auth contract: every call carries
// "authorization: Bearer <key>".
func TestAPIKeyHeader(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	record := func(ctx context.Context) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		seen = append(seen, md.Get("authorization")...)
		mu.Unlock()
	}
	ts := start(t, server.WithInterceptors(
		[]grpc.UnaryServerInterceptor{func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(ctx)
			return h(ctx, req)
		}},
		[]grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			record(ss.Context())
			return h(srv, ss)
		}},
	))
	c := dial(t, ts.addr, client.WithAPIKey("k-abc.123"))
	ctx := context.Background()
	if _, err := c.Append(ctx, events("key", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifierKey(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "Bearer k-abc.123" || seen[1] != "Bearer k-abc.123" {
		t.Fatalf("authorization metadata = %q, want two of %q", seen, "Bearer k-abc.123")
	}
}

func TestAppendResultsInOrder(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	evs := events("mixed", 3)
	changed := proto.Clone(evs[0]).(*agenttrailv1.Event)
	changed.GetToolCall().ToolName = "other"
	noPayload := proto.Clone(evs[1]).(*agenttrailv1.Event)
	noPayload.EventId, noPayload.Payload = eventtest.ID("mixed-nopayload"), nil
	batch := []*agenttrailv1.Event{evs[0], noPayload, evs[1], changed, evs[0], evs[2]}

	results, err := c.Append(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(batch) {
		t.Fatalf("got %d results, want %d", len(results), len(batch))
	}
	want := []struct {
		code      codes.Code // OK for a receipt
		index     uint64
		duplicate bool
		field     string
	}{
		{codes.OK, 0, false, ""},
		{codes.InvalidArgument, 0, false, "event.payload"},
		{codes.OK, 1, false, ""},
		{codes.AlreadyExists, 0, false, ""},
		{codes.OK, 0, true, ""},
		{codes.OK, 2, false, ""},
	}
	for i, r := range results {
		w := want[i]
		if r.Event != batch[i] {
			t.Errorf("result %d: event %q, want %q", i, r.Event.GetEventId(), batch[i].GetEventId())
		}
		if got := status.Code(r.Err); got != w.code {
			t.Errorf("result %d: code %v (%v), want %v", i, got, r.Err, w.code)
			continue
		}
		if w.code != codes.OK {
			var rej *client.RejectionError
			if !errors.As(r.Err, &rej) || !errors.Is(r.Err, client.ErrRejected) || rej.Field != w.field {
				t.Errorf("result %d: %#v, want a RejectionError with field %q", i, r.Err, w.field)
			}
			continue
		}
		if r.Receipt.GetLogIndex() != w.index || r.Receipt.GetDuplicate() != w.duplicate || len(r.Receipt.GetLeafHash()) != 32 {
			t.Errorf("result %d: receipt %v, want index %d duplicate %v", i, r.Receipt, w.index, w.duplicate)
		}
	}
}

func TestAppenderManyInFlight(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	a, err := c.NewAppender(ctx, client.WithMaxInFlight(7))
	if err != nil {
		t.Fatal(err)
	}
	evs := events("many", 300)
	sendErr := make(chan error, 1)
	go func() {
		for _, ev := range evs {
			if err := a.Send(ctx, ev); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- a.CloseSend()
	}()
	n := 0
	for r := range a.Results() {
		if r.Err != nil || r.Event != evs[n] || r.Receipt.GetLogIndex() != uint64(n) {
			t.Fatalf("result %d: %v %v, want the receipt of %q at %d", n, r.Receipt, r.Err, evs[n].GetEventId(), n)
		}
		n++
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	if err := a.Err(); err != nil || n != len(evs) {
		t.Fatalf("after %d results: Err = %v, want %d results and nil", n, err, len(evs))
	}
	if err := a.Send(ctx, evs[0]); !errors.Is(err, client.ErrClosed) && err == nil {
		t.Errorf("Send after the end = %v, want an error", err)
	}
}

func TestAppenderUnencodableEventIsNotSent(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	a, err := c.NewAppender(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bad := events("enc", 1)[0]
	bad.GetToolCall().Result = "\xff\xfe not UTF-8"
	if err := a.Send(ctx, bad); err == nil {
		t.Fatal("Send of an event with invalid UTF-8 succeeded")
	}
	good := events("enc2", 1)[0]
	if err := a.Send(ctx, good); err != nil {
		t.Fatalf("Send after a refused encoding: %v", err)
	}
	a.CloseSend()
	var got []client.Result
	for r := range a.Results() {
		got = append(got, r)
	}
	if len(got) != 1 || got[0].Event != good || got[0].Err != nil || a.Err() != nil {
		t.Fatalf("results %v, Err %v: want one receipt for the good event", got, a.Err())
	}
}

// Events are refused one by one for their size, and the stream goes on: an
// event over the request limit is not sent (the server's transport would
// end the stream), and one between the server's event limit and the
// request limit is sent and refused by the server. Both messages name the
// event's size and the limit.
func TestOversizedEventsAreRefusedOneByOne(t *testing.T) {
	ts := start(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	a, err := c.NewAppender(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs := events("size", 3)
	huge := proto.Clone(evs[0]).(*agenttrailv1.Event)
	huge.GetToolCall().Result = strings.Repeat("x", 5<<20)
	err = a.Send(ctx, huge)
	if !errors.Is(err, client.ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(proto.Size(&agenttrailv1.AppendRequest{Event: huge}))) || !strings.Contains(err.Error(), "4194304 bytes") {
		t.Fatalf("Send of a 5 MiB event = %v, want ErrTooLarge naming its size and the 4 MiB limit", err)
	}
	big := evs[1]
	big.GetToolCall().Result = strings.Repeat("y", 2<<20)
	for _, ev := range []*agenttrailv1.Event{evs[0], big, evs[2]} {
		if err := a.Send(ctx, ev); err != nil {
			t.Fatalf("Send after a refused event: %v", err)
		}
	}
	a.CloseSend()
	var got []client.Result
	for r := range a.Results() {
		got = append(got, r)
	}
	var rej *client.RejectionError
	switch {
	case len(got) != 3 || a.Err() != nil:
		t.Fatalf("results %v, Err %v: want three results on one stream", got, a.Err())
	case got[0].Err != nil || got[2].Err != nil:
		t.Errorf("the events around the big one: %v, %v, want receipts", got[0].Err, got[2].Err)
	case !errors.As(got[1].Err, &rej) || rej.Code != codes.ResourceExhausted || !strings.Contains(rej.Message, "1048576 bytes"):
		t.Errorf("2 MiB event: %v, want RESOURCE_EXHAUSTED naming the 1 MiB limit", got[1].Err)
	}

	s, err := c.StartSession(ctx, client.SessionOptions{AgentID: "agent-size"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Output(ctx, &agenttrailv1.Output{Text: strings.Repeat("z", 5<<20)}); !errors.Is(err, client.ErrTooLarge) {
		t.Errorf("recording a 5 MiB event = %v, want ErrTooLarge at once", err)
	}
	s.End(ctx, agenttrailv1.EndReason_END_REASON_COMPLETED)
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close after a refused recording: %v", err)
	}
}

func TestAppendUnacknowledgedWhenStreamBreaks(t *testing.T) {
	ts := start(t, server.WithInterceptors(nil, []grpc.StreamServerInterceptor{breakAfter("/agenttrail.v1.AppendService/Append", 2, 1)}))
	c := dial(t, ts.addr)
	evs := events("broken", 5)
	results, err := c.Append(context.Background(), evs)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Append error %v, want UNAVAILABLE", err)
	}
	if len(results) != len(evs) {
		t.Fatalf("got %d results, want %d", len(results), len(evs))
	}
	for i, r := range results {
		acked := i < 2
		if acked != (r.Err == nil) || !acked && !errors.Is(r.Err, client.ErrUnacknowledged) {
			t.Errorf("result %d: %v, want acknowledged %v", i, r.Err, acked)
		}
	}
	// Resending everything is safe: the first ones come back as duplicates.
	results, err = c.Append(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil || r.Receipt.GetLogIndex() != uint64(i) {
			t.Errorf("resend %d: %v %v", i, r.Receipt, r.Err)
		}
	}
}

// breakAfter returns a stream interceptor that ends the first `times`
// calls of a method with UNAVAILABLE after n responses, as a server going
// away would. The response that fails was not sent, though its event is
// committed.
func breakAfter(method string, n, times int) grpc.StreamServerInterceptor {
	return failAfter(method, n, times, codes.Unavailable)
}

// failAfter is breakAfter with another status code.
func failAfter(method string, n, times int, code codes.Code) grpc.StreamServerInterceptor {
	var mu sync.Mutex
	calls := 0
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if info.FullMethod != method {
			return h(srv, ss)
		}
		mu.Lock()
		calls++
		breaking := calls <= times
		mu.Unlock()
		if !breaking {
			return h(srv, ss)
		}
		return h(srv, &breakingStream{ServerStream: ss, left: n, code: code})
	}
}

type breakingStream struct {
	grpc.ServerStream
	left int
	code codes.Code
}

// SendMsg sends n messages, counting each item of a batched Query
// response and each result of a batched Append response as one (a batch
// is cut to the items left), then fails. Counting results, not frames,
// keeps the break at the same event whatever frames the client sent.
func (s *breakingStream) SendMsg(m any) error {
	if s.left == 0 {
		return status.Error(s.code, "test: connection lost")
	}
	items, cut := 1, func(int) any { return m }
	switch r := m.(type) {
	case *agenttrailv1.QueryResponse:
		if n := len(r.GetBatch()); n > 0 {
			items, cut = n, func(k int) any { return &agenttrailv1.QueryResponse{Batch: r.GetBatch()[:k]} }
		}
	case *agenttrailv1.AppendResponse:
		if n := len(r.GetResults()); n > 0 {
			items, cut = n, func(k int) any { return &agenttrailv1.AppendResponse{Results: r.GetResults()[:k]} }
		}
	}
	if items > s.left {
		k := s.left
		s.left = 0
		if err := s.ServerStream.SendMsg(cut(k)); err != nil {
			return err
		}
		return status.Error(s.code, "test: connection lost")
	}
	s.left -= items
	return s.ServerStream.SendMsg(m)
}
