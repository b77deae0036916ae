package event

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestPutLength: a length written after its value is the shortest varint,
// with the value moved down when it needs fewer bytes than reserved.
func TestPutLength(t *testing.T) {
	for _, tc := range []struct{ n, bound int }{
		{0, 0}, {0, 300}, {5, 5}, {127, 128}, {128, 128}, {127, 20000}, {16383, 16384}, {16384, 16384}, {300, 1 << 22},
	} {
		value := bytes.Repeat([]byte{0xab}, tc.n)
		dst, reserved := reserveLength([]byte("tag"), tc.bound)
		dst = putLength(append(dst, value...), 3, reserved)
		want := protowire.AppendBytes([]byte("tag"), value)
		if !bytes.Equal(dst, want) {
			t.Errorf("value of %d bytes, bound %d: got %d bytes, want %d", tc.n, tc.bound, len(dst), len(want))
		}
	}
}
