package store

import (
	"fmt"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// The content record is how the engine hands an event's content to a driver
// to keep, under the event's index. Drivers store it as opaque bytes. Its
// first byte is its version:
//
//	version 1 (plaintext, format agenttrail-store-v1):  1 || salt || content
//	version 2 (encrypted, format agenttrail-store-v2):  2 || nonce || AES-256-GCM(content key, salt || content, aad)
//
// where the content key is the event's own (keyring.go), aad is
// "agenttrail/v2 content" and the index, 8 bytes big-endian. The leaf never
// depends on the record, only on the salted digest of the content, so both
// versions commit identically. An encrypted store never holds a version 1
// record, and a plaintext store never a version 2 one: a mix is refused as
// corrupt.

const (
	contentRecordVersion          = 1
	contentRecordVersionEncrypted = 2
)

// encodeContentRecord encodes the plaintext (version 1) content record of
// one event.
func encodeContentRecord(salt, content []byte) []byte {
	b := make([]byte, 0, 1+len(salt)+len(content))
	b = append(b, contentRecordVersion)
	b = append(b, salt...)
	return append(b, content...)
}

// decodeContentRecord reverses encodeContentRecord. The results alias b.
// Stored bytes are untrusted input to verification: anything malformed is
// ErrCorrupt, never a panic (FuzzDecodeContentRecord).
func decodeContentRecord(b []byte) (salt, content []byte, err error) {
	if len(b) < 1+commitment.SaltSize {
		return nil, nil, fmt.Errorf("%w: content record of %d bytes is shorter than its salt", ErrCorrupt, len(b))
	}
	if b[0] != contentRecordVersion {
		return nil, nil, fmt.Errorf("%w: content record version %d, want %d", ErrCorrupt, b[0], contentRecordVersion)
	}
	return b[1 : 1+commitment.SaltSize], b[1+commitment.SaltSize:], nil
}
