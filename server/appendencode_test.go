package server_test

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// An Append stream encodes a receipt's response itself: byte for byte as
// Go's deterministic encoding of the message.
func TestAppendReceiptResponseIsTheMessage(t *testing.T) {
	id := eventtest.ID("receipt")
	at := time.Date(2026, 12, 2, 16, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		id   string
		r    store.Receipt
	}{
		{"first", id, store.Receipt{EventID: id, Index: 0, LeafHash: [32]byte{1, 2}, ReceivedAt: at}},
		{"large index", id, store.Receipt{EventID: id, Index: 1 << 40, LeafHash: [32]byte{31: 9}, ReceivedAt: at}},
		{"duplicate", id, store.Receipt{EventID: id, Index: 7, ReceivedAt: at, Duplicate: true}},
		{"whole second", id, store.Receipt{EventID: id, Index: 7, ReceivedAt: at.Truncate(time.Second)}},
		{"epoch", id, store.Receipt{EventID: id, Index: 7, ReceivedAt: time.Unix(0, 0)}},
		{"zero time", id, store.Receipt{EventID: id, Index: 7}},
		{"no id", "", store.Receipt{Index: 3, ReceivedAt: at}},
	} {
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(&agenttrailv1.AppendResponse{EventId: tc.id, Result: &agenttrailv1.AppendResponse_Receipt{Receipt: &agenttrailv1.Receipt{
			EventId:    tc.r.EventID,
			LogIndex:   tc.r.Index,
			LeafHash:   tc.r.LeafHash[:],
			ReceivedAt: timestamppb.New(tc.r.ReceivedAt),
			Duplicate:  tc.r.Duplicate,
		}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := server.AppendReceiptResponse(tc.id, tc.r); !bytes.Equal(got, want) {
			t.Errorf("%s: got %x, want %x", tc.name, got, want)
		}
	}
}
