package commitment_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// Every decoder of committed bytes either decodes or returns ErrMalformed,
// and what it decodes re-encodes to the same bytes.

func FuzzDecodeLeafData(f *testing.F) {
	f.Add(commitment.LeafData([]byte("header"), [32]byte{1}))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, d, err := commitment.ParseLeafData(b)
		if err != nil {
			if !errors.Is(err, commitment.ErrMalformed) {
				t.Fatalf("error %v does not wrap commitment.ErrMalformed", err)
			}
			return
		}
		if got := commitment.LeafData(h, d); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
		if hb, _, _ := commitment.ParseLeafData(b); hb != nil {
			if _, err := commitment.DecodeHeader(hb); err != nil && !errors.Is(err, commitment.ErrMalformed) {
				t.Fatalf("DecodeHeader error %v does not wrap ErrMalformed", err)
			}
		}
	})
}
