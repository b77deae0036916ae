package client

import (
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// TestBufferPoolSizes: a buffer has the length asked for and a power of
// two capacity (or exactly the length beyond the largest size kept); only
// buffers of a pooled size are kept.
func TestBufferPoolSizes(t *testing.T) {
	p := &bufferPool{}
	for _, tc := range []struct{ n, cap int }{
		{0, 256}, {1, 256}, {256, 256}, {257, 512}, {16 << 10, 16 << 10}, {300 << 10, 512 << 10}, {4 << 20, 4 << 20}, {4<<20 + 1, 4<<20 + 1},
	} {
		b := p.Get(tc.n)
		if len(*b) != tc.n || cap(*b) != tc.cap {
			t.Errorf("Get(%d): len %d cap %d, want len %d cap %d", tc.n, len(*b), cap(*b), tc.n, tc.cap)
		}
		p.Put(b)
	}
	odd := make([]byte, 1000)
	p.Put(&odd) // not a pooled size: dropped
	if b := p.Get(1000); cap(*b) != 1024 {
		t.Errorf("Get(1000) after Put of a 1000-byte buffer: cap %d, want 1024", cap(*b))
	}
}

// TestFrameCodecDecodesPieces: a message that came in several pieces
// decodes as one that came whole.
func TestFrameCodecDecodesPieces(t *testing.T) {
	want := &agenttrailv1.QueryResponse{Batch: []*agenttrailv1.QueryResponse{
		{Item: &agenttrailv1.QueryResponse_CaughtUp{CaughtUp: &agenttrailv1.CaughtUp{TreeSize: 7}}},
		{Item: &agenttrailv1.QueryResponse_Withheld{Withheld: &agenttrailv1.WithheldEntry{LogIndex: 3, LeafHash: make([]byte, 32)}}},
	}}
	b, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, pieces := range [][]int{{len(b)}, {1, len(b) - 1}, {10, 20, len(b) - 30}} {
		var data mem.BufferSlice
		at := 0
		for _, n := range pieces {
			data = append(data, mem.SliceBuffer(b[at:at+n]))
			at += n
		}
		got := new(agenttrailv1.QueryResponse)
		if err := (frameCodec{}).Unmarshal(data, got); err != nil || !proto.Equal(got, want) {
			t.Errorf("pieces %v: got %v, %v; want %v", pieces, got, err, want)
		}
	}
}
