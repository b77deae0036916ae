package event

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

// uuidState makes the ids of one process strictly increasing: within one
// millisecond the 12-bit rand_a field counts up (RFC 9562, section 6.2,
// method 1), and a counter that runs out borrows the next millisecond.
var uuidState struct {
	sync.Mutex
	ms  int64
	seq uint16
}

// NewID returns a new UUIDv7 (RFC 9562) in its canonical lower-case
// form, such as "01963a4e-7c1b-7000-8000-0123456789ab": 48 bits of Unix
// time in milliseconds, a 12-bit counter, and 62 random bits. Ids from one
// process sort in the order they were made, which is what the log's event
// id index likes best. The server uses it for the events it writes itself, and the Go client for
// every event of a session.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic("event: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	now := time.Now().UnixMilli()
	uuidState.Lock()
	switch {
	case now > uuidState.ms:
		uuidState.ms = now
		// Start the counter in its lower half, so that many ids fit in
		// the millisecond before it borrows the next one.
		uuidState.seq = binary.BigEndian.Uint16(b[6:8]) & 0x7ff
	case uuidState.seq < 0xfff:
		uuidState.seq++
	default:
		uuidState.ms++
		uuidState.seq = 0
	}
	ms, seq := uuidState.ms, uuidState.seq
	uuidState.Unlock()

	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(seq>>8) // version 7
	b[7] = byte(seq)
	b[8] = 0x80 | b[8]&0x3f // variant 10
	return FormatUUID(b)
}

// FormatUUID writes a UUID in its canonical lower-case form,
// "01963a4e-7c1b-7000-8000-0123456789ab".
func FormatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
