package otlp

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/agenttrail/agenttrail/store/event"
)

// EventID derives the id of one event of a span: a UUIDv8 (RFC 9562,
// section 5.8), whose layout agenttrail defines as
//
//   - bits 0-47: the span's start time in Unix milliseconds, big-endian, so
//     that the events of a trace sort by time as UUIDv7s do;
//   - bits 48-51: version 8; bits 64-65: variant 10;
//   - the other 74 bits: the first bits of
//     SHA-256("agenttrail.otlp.v1" || 0x00 || trace id || span id || part),
//     trace and span id as their raw 16 and 8 bytes.
//
// part names the event among those of the span: "span" for the event the
// span maps to, "end" for a session's end, "output" for an agent's final
// response, "status" for the error of an error status, "exception.N" for
// the Nth exception event. The same span always gives the same ids, so an
// exporter's retry or a re-export appends nothing new.
func EventID(traceID, spanID []byte, startUnixMilli uint64, part string) string {
	h := sha256.New()
	h.Write([]byte("agenttrail.otlp.v1\x00"))
	h.Write(traceID)
	h.Write(spanID)
	h.Write([]byte(part))
	sum := h.Sum(nil)
	var b [16]byte
	ms := startUnixMilli & (1<<48 - 1)
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	copy(b[6:], sum[:10])
	b[6] = 0x80 | b[6]&0x0f // version 8
	b[8] = 0x80 | b[8]&0x3f // variant 10
	return event.FormatUUID(b)
}

// hashedID turns a value that must not appear in an event header as it is
// (a session or user id that is not a well-formed id, such as an email
// address) into a pseudonymous id: "h-" and 32 hex digits of its SHA-256.
// Well-formed ids are kept.
func hashedID(v string) string {
	if v == "" || event.IsID(v) {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "h-" + hex.EncodeToString(sum[:16])
}

// slugID turns a name into an id that keeps it readable: "Math Tutor"
// becomes "Math-Tutor". Runs of characters outside [A-Za-z0-9._:-] become
// one '-'; a result that is empty or too long is hashed instead.
func slugID(v string) string {
	if v == "" || event.IsID(v) {
		return v
	}
	var b strings.Builder
	dash := false
	for _, r := range v {
		ok := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == ':' || r == '-')
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-._:")
	if !event.IsID(s) {
		return hashedID(v)
	}
	return s
}
