package eventtest

import (
	"crypto/sha256"

	"github.com/agenttrail/agenttrail/store/event"
)

// ID returns the event id that stands for name in a test: a UUIDv8 (RFC
// 9562, section 5.8) made from the SHA-256 of name, so that the same name
// always gives the same valid event id and tests can keep readable names
// ("e0", "ev-dup") for the events they talk about.
func ID(name string) string {
	h := sha256.Sum256([]byte(name))
	var b [16]byte
	copy(b[:], h[:16])
	b[6] = 0x80 | b[6]&0x0f // version 8
	b[8] = 0x80 | b[8]&0x3f // variant 10
	return event.FormatUUID(b)
}
