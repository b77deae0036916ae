package client

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec this one wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// frame is a request encoded before it is sent. An Appender encodes each
// event itself, so that one that does not encode (a string that is not
// valid UTF-8) fails alone: gRPC ends the whole stream when it cannot
// encode a message.
type frame struct {
	b []byte
}

// frameCodec is gRPC's proto codec, except that it sends a frame's bytes
// as they are, and decodes a received message where it lies when it came
// in one piece, or else gathered into a buffer of recvBuffers: gRPC's own
// codec gathers every message into a buffer of its default pool, which
// zeroes each buffer it hands out (a 256 KiB batch of Query entries takes,
// and zeroes, a 1 MiB one).
type frameCodec struct{}

var protoCodec = encoding.GetCodecV2("proto")

// Name implements encoding.CodecV2: the wire format is protobuf.
func (frameCodec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2.
func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(f.b)}, nil
	}
	return protoCodec.Marshal(v)
}

// Unmarshal implements encoding.CodecV2. proto.Unmarshal copies what it
// keeps, so the buffer goes back to the pool at once.
func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return protoCodec.Unmarshal(data, v)
	}
	if len(data) == 1 {
		return proto.Unmarshal(data[0].ReadOnlyData(), m)
	}
	buf := data.MaterializeToBuffer(recvBuffers)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// recvBuffers holds the buffers received messages are read and gathered
// into: the client's connections read frames into them (WithBufferPool)
// and frameCodec gathers messages into them. Unlike gRPC's default pool it
// does not zero a buffer it hands out: every user fills the length it asks
// for before reading it (a frame is read whole into its buffer, a message
// copied whole into its).
var recvBuffers = &bufferPool{}

const (
	minPooled = 8  // 256 bytes: below, gRPC does not pool
	maxPooled = 22 // 4 MiB; larger buffers are not kept
)

// bufferPool is a mem.BufferPool of buffers of a power of two bytes, one
// sync.Pool per size, that hands buffers out as they were left.
type bufferPool struct {
	sizes [maxPooled + 1]sync.Pool
}

// Get implements mem.BufferPool.
func (p *bufferPool) Get(n int) *[]byte {
	k := max(minPooled, bits.Len(uint(max(n, 1)-1))) // 2^k >= n
	if k > maxPooled {
		b := make([]byte, n)
		return &b
	}
	if b, ok := p.sizes[k].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<k)
	return &b
}

// Put implements mem.BufferPool.
func (p *bufferPool) Put(b *[]byte) {
	c := cap(*b)
	k := bits.Len(uint(c)) - 1
	if c != 1<<k || k < minPooled || k > maxPooled {
		return
	}
	p.sizes[k].Put(b)
}
