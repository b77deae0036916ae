package server

import (
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec this one wraps
	"google.golang.org/grpc/mem"
)

// rawFrame receives one message's bytes undecoded. Append reads its requests
// as raw frames and decodes each itself, so that a malformed one gets its
// own rejection and the stream goes on; gRPC's own decoding would end the
// stream.
type rawFrame struct {
	b []byte
}

// rawFrameCodec is gRPC's proto codec, except that it hands a rawFrame the
// message bytes as they are, and sends an encodedResponse's bytes as they
// are.
type rawFrameCodec struct{}

var protoCodec = encoding.GetCodecV2("proto")

// Name implements encoding.CodecV2: the server speaks protobuf.
func (rawFrameCodec) Name() string { return "proto" }

// Marshal implements encoding.CodecV2. A response Query encoded itself
// (encodedResponse) goes as it is; a batch buffer goes back to its pool
// when the transport frees it, after writing it.
func (rawFrameCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(*encodedResponse); ok {
		if r.pooled {
			b := r.b
			r.b = nil // the transport's until it puts it back
			if mem.IsBelowBufferPoolingThreshold(len(b)) {
				// The transport would not put so small a buffer back.
				small := append([]byte(nil), b...)
				batchBuffers.Put(&b)
				return mem.BufferSlice{mem.SliceBuffer(small)}, nil
			}
			return mem.BufferSlice{mem.NewBuffer(&b, batchBuffers)}, nil
		}
		return mem.BufferSlice{mem.SliceBuffer(r.b)}, nil
	}
	return protoCodec.Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (rawFrameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*rawFrame); ok {
		f.b = data.Materialize()
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}
