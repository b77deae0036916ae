package store

import (
	"fmt"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// The content record is how the engine hands an event's content to a driver
// to keep: a version byte, the 32-byte salt and the encoded content,
//
//	version || salt || content
//
// Drivers store it as opaque bytes under the event's index. Its version
// lets a later encoding (encrypted per data subject) live beside this one;
// the leaf never depends on it, only on the salted digest of the content.

// contentRecordVersion starts every content record of this encoding.
const contentRecordVersion = 1

// encodeContentRecord encodes the content record of one event.
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
