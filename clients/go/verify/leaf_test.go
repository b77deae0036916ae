package verify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/agenttrail/agenttrail/clients/go/verify"
)

func TestLeafHash(t *testing.T) {
	digest := bytes.Repeat([]byte{0xd1}, 32)
	tests := []struct {
		name   string
		header []byte
		data   string // hex of the leaf data: length prefix, header, digest
	}{
		{"empty header", nil, "00000000" + hex.EncodeToString(digest)},
		{"one byte", []byte{0x0a}, "00000001" + "0a" + hex.EncodeToString(digest)},
		{"300 bytes", bytes.Repeat([]byte{0x42}, 300), "0000012c" + hex.EncodeToString(bytes.Repeat([]byte{0x42}, 300)) + hex.EncodeToString(digest)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := hex.DecodeString(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			want := sha256.Sum256(append([]byte{0x00}, data...))
			if got := verify.LeafHash(tt.header, digest); got != want {
				t.Errorf("LeafHash = %x, want %x", got, want)
			}
		})
	}
}

func TestLeafHashSeparatesHeaderFromDigest(t *testing.T) {
	// Without the length prefix, moving a byte from the end of the header to
	// the start of the digest would give the same leaf.
	a := verify.LeafHash([]byte("header!"), []byte("digest"))
	b := verify.LeafHash([]byte("header"), []byte("!digest"))
	if a == b {
		t.Errorf("LeafHash gives %x for two different splits of the same bytes", a)
	}
}

func TestContentDigest(t *testing.T) {
	salt := bytes.Repeat([]byte{0x5a}, 32)
	tests := []struct {
		name    string
		content []byte
	}{
		{"no content", nil},
		{"content", []byte("\x0a\x05hello")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := sha256.Sum256(append(append([]byte{}, salt...), tt.content...))
			if got := verify.ContentDigest(salt, tt.content); got != want {
				t.Errorf("ContentDigest = %x, want %x", got, want)
			}
		})
	}
}
