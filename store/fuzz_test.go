package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// Every decoder of stored bytes either decodes or returns ErrCorrupt, and
// what it decodes re-encodes to the same bytes.

func FuzzDecodeContentRecord(f *testing.F) {
	f.Add(encodeContentRecord(make([]byte, commitment.SaltSize), []byte("content")))
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		salt, content, err := decodeContentRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := encodeContentRecord(salt, content); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}
