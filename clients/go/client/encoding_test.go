package client_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// rawRequest is an Append request as its bytes.
type rawRequest struct{ b []byte }

// rawRequestCodec is gRPC's proto codec, except that it hands a rawRequest
// the bytes of the request.
type rawRequestCodec struct{}

func (rawRequestCodec) Name() string { return "proto" }
func (rawRequestCodec) Marshal(v any) (mem.BufferSlice, error) {
	return encoding.GetCodecV2("proto").Marshal(v)
}
func (rawRequestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*rawRequest); ok {
		r.b = data.Materialize()
		return nil
	}
	return encoding.GetCodecV2("proto").Unmarshal(data, v)
}

// The Appender sends each event in the encoding the log commits (Go's
// deterministic encoding: map entries in key order), so that the server
// commits the bytes as they came instead of encoding the event again.
func TestAppenderSendsTheCommittedEncoding(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte // each event's bytes as they arrived
	handler := func(_ any, stream grpc.ServerStream) error {
		for index := uint64(0); ; {
			var raw rawRequest
			if err := stream.RecvMsg(&raw); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return err
			}
			var req agenttrailv1.AppendRequest
			if err := proto.Unmarshal(raw.b, &req); err != nil {
				return err
			}
			for b := raw.b; len(b) > 0; {
				num, typ, n := protowire.ConsumeTag(b)
				v, m := protowire.ConsumeBytes(b[n:])
				if typ != protowire.BytesType || m < 0 {
					t.Errorf("request field %d is not an event", num)
					return nil
				}
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
				b = b[n+m:]
			}
			evs := req.GetEvents()
			if ev := req.GetEvent(); ev != nil {
				evs = []*agenttrailv1.Event{ev}
			}
			resp := &agenttrailv1.AppendResponse{}
			for _, ev := range evs {
				r := &agenttrailv1.AppendResponse{EventId: ev.GetEventId(), Result: &agenttrailv1.AppendResponse_Receipt{
					Receipt: &agenttrailv1.Receipt{EventId: ev.GetEventId(), LogIndex: index, LeafHash: make([]byte, 32)}}}
				index++
				if req.GetEvent() != nil {
					resp = r
				} else {
					resp.Results = append(resp.Results, r)
				}
			}
			if err := stream.SendMsg(resp); err != nil {
				return err
			}
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.ForceServerCodecV2(rawRequestCodec{}))
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "agenttrail.v1.AppendService",
		HandlerType: (*any)(nil),
		Streams:     []grpc.StreamDesc{{StreamName: "Append", Handler: handler, ServerStreams: true, ClientStreams: true}},
	}, nil)
	go s.Serve(lis)
	t.Cleanup(s.Stop)

	evs := events("encoded", 10)
	for _, ev := range evs {
		ev.Labels = map[string]string{"env": "prod", "team": "support", "region": "eu-1", "tier": "gold", "app": "shop"}
		ev.Attributes = map[string]string{"b": "2", "a": "1", "d": "4", "c": "3"}
	}
	checkReceipts(t, evs, appendAfterFirst(t, dial(t, lis.Addr().String()), evs))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(evs) {
		t.Fatalf("the server got %d events, want %d", len(got), len(evs))
	}
	for i, b := range got {
		if !event.IsCanonical(b) {
			t.Errorf("event %d: got bytes that are not the committed encoding", i)
		}
	}
}
