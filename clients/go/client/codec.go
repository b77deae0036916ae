package client

import (
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec this one wraps
	"google.golang.org/grpc/mem"
)

// frame is a request encoded before it is sent. An Appender encodes each
// event itself, so that one that does not encode (a string that is not
// valid UTF-8) fails alone: gRPC ends the whole stream when it cannot
// encode a message.
type frame struct {
	b []byte
}

// frameCodec is gRPC's proto codec, except that it sends a frame's bytes
// as they are.
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

// Unmarshal implements encoding.CodecV2.
func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error { return protoCodec.Unmarshal(data, v) }
