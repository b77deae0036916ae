package verify

import (
	"bytes"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// CheckEntry checks that a log entry is what its commitment says, in this order:
//
//  1. The commitment is there; its content digest and leaf hash are 32
//     bytes; its salt is empty or 32 bytes; content is never shown without
//     its salt; and a view whose content state is CONTENT_STATE_PRESENT
//     carries the salt ([ErrMalformed]).
//  2. The leaf hash is [LeafHash] of the header bytes and the content digest
//     ([ErrLeafMismatch]).
//  3. When the salt is present, the digest is [ContentDigest] of the salt and
//     the content bytes ([ErrDigestMismatch]). Redacted and erased views carry
//     no salt: their content cannot be checked, but their header can.
//  4. The header bytes decode as an EventHeader ([ErrMalformed]), whose
//     received_at and principal equal the entry's stamp, and whose event
//     equals the METADATA half of the entry's event, as split by
//     store/event.Split ([ErrEventMismatch]). The header always holds the
//     event's payload container, so the kind of the event is checked too.
//  5. When the salt is present, the content bytes decode as an Event
//     ([ErrMalformed]) equal to the other half of the entry's event
//     ([ErrEventMismatch]), so a full view shows exactly the committed
//     content.
//
// Unknown fields (from a newer server) are ignored in the comparisons of
// steps 4 and 5; the bytes that hold them are still covered by steps 2 and 3.
// The entry is not modified. Entry does not check that the leaf is in the
// log: pass the leaf hash and Stamp.log_index to [CheckInclusion] for that.
func CheckEntry(e *agenttrailv1.Entry) error {
	if entryMatches(e) {
		return nil
	}
	return checkEntry(e)
}

// checkEntry is CheckEntry by decoding: it compares decoded messages and
// names the first thing that differs. entryMatches passes only entries it
// passes, and so decides the common case without decoding; checkEntry
// decides every other, with the error it reports.
func checkEntry(e *agenttrailv1.Entry) error {
	c := e.GetCommitment()
	if c == nil {
		return fmt.Errorf("%w: entry has no commitment", ErrMalformed)
	}
	if err := hashLength("content digest", c.GetContentDigest()); err != nil {
		return err
	}
	if err := hashLength("leaf hash", c.GetLeafHash()); err != nil {
		return err
	}
	if uint64(len(c.GetHeader())) > math.MaxUint32 {
		return fmt.Errorf("%w: header is %d bytes, more than a leaf's 32-bit length prefix allows", ErrMalformed, len(c.GetHeader()))
	}
	salt, content := c.GetSalt(), c.GetContent()
	switch {
	case len(salt) != 0 && len(salt) != HashSize:
		return fmt.Errorf("%w: salt is %d bytes, want %d", ErrMalformed, len(salt), HashSize)
	case len(salt) == 0 && len(content) != 0:
		return fmt.Errorf("%w: content is shown without its salt, so it cannot be checked", ErrMalformed)
	case len(salt) == 0 && e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_PRESENT:
		return fmt.Errorf("%w: view says the content is present, but the salt is missing", ErrMalformed)
	}

	if leaf := LeafHash(c.GetHeader(), c.GetContentDigest()); !bytes.Equal(leaf[:], c.GetLeafHash()) {
		return fmt.Errorf("%w: leaf hash is %x, but header and content digest hash to %x", ErrLeafMismatch, c.GetLeafHash(), leaf)
	}
	hasContent := len(salt) != 0
	if hasContent {
		if d := ContentDigest(salt, content); !bytes.Equal(d[:], c.GetContentDigest()) {
			return fmt.Errorf("%w: content digest is %x, but salt and content hash to %x", ErrDigestMismatch, c.GetContentDigest(), d)
		}
	}

	var header agenttrailv1.EventHeader
	if err := discardUnknown.Unmarshal(c.GetHeader(), &header); err != nil {
		return fmt.Errorf("%w: header bytes do not decode as agenttrail.v1.EventHeader: %v", ErrMalformed, err)
	}
	stamp := &agenttrailv1.EventHeader{ReceivedAt: e.GetStamp().GetReceivedAt(), Principal: e.GetStamp().GetPrincipal()}
	committed := &agenttrailv1.EventHeader{ReceivedAt: header.GetReceivedAt(), Principal: header.GetPrincipal()}
	if !proto.Equal(stamp, committed) {
		return fmt.Errorf("%w: stamp field %s differs from the committed header", ErrEventMismatch, firstDiff(stamp.ProtoReflect(), committed.ProtoReflect()))
	}

	// A copy of the event without unknown fields, which Split would keep in
	// any message it moves whole.
	wire, err := proto.Marshal(e.GetEvent())
	if err != nil {
		return fmt.Errorf("%w: entry event does not encode: %v", ErrMalformed, err)
	}
	var ev agenttrailv1.Event
	if err := discardUnknown.Unmarshal(wire, &ev); err != nil {
		return fmt.Errorf("%w: entry event does not decode: %v", ErrMalformed, err)
	}
	metadata, rest := event.Split(&ev)
	want := header.GetEvent()
	if want == nil {
		want = new(agenttrailv1.Event)
	}
	if !proto.Equal(metadata, want) {
		return fmt.Errorf("%w: event field %s differs from the committed header", ErrEventMismatch, firstDiff(metadata.ProtoReflect(), want.ProtoReflect()))
	}

	if hasContent {
		var committed agenttrailv1.Event
		if err := discardUnknown.Unmarshal(content, &committed); err != nil {
			return fmt.Errorf("%w: content bytes do not decode as agenttrail.v1.Event: %v", ErrMalformed, err)
		}
		if !proto.Equal(rest, &committed) {
			return fmt.Errorf("%w: event field %s differs from the committed content", ErrEventMismatch, firstDiff(rest.ProtoReflect(), committed.ProtoReflect()))
		}
	}
	return nil
}

// discardUnknown decodes without the fields this client does not know.
var discardUnknown = proto.UnmarshalOptions{DiscardUnknown: true}

// hashLength reports a hash that is not 32 bytes as malformed.
func hashLength(what string, h []byte) error {
	if len(h) != HashSize {
		return fmt.Errorf("%w: %s is %d bytes, want %d", ErrMalformed, what, len(h), HashSize)
	}
	return nil
}

// firstDiff names the first field, in field number order and as a dotted
// path, whose presence or value differs between two messages of one type.
// It is used for error messages only.
func firstDiff(a, b protoreflect.Message) string {
	if d := diffPath(a, b); d != "" {
		return d
	}
	return "(none found)"
}

func diffPath(a, b protoreflect.Message) string {
	fields := a.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := string(fd.Name())
		switch {
		case a.Has(fd) != b.Has(fd):
			return name
		case !a.Has(fd):
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			if d := diffPath(a.Get(fd).Message(), b.Get(fd).Message()); d != "" {
				return name + "." + d
			}
		case !a.Get(fd).Equal(b.Get(fd)):
			return name
		}
	}
	return ""
}

// entryMatches is CheckEntry's fast path: it reports true only for an entry
// that checkEntry passes, and does so for every entry an honest server
// sends, without decoding messages or comparing them by reflection. Beside
// the length and hash checks of steps 1 to 3 it compares bytes: the
// committed header must be an EventHeader of at most one of each field,
// whose received_at and principal are the stamp's; and the deterministic
// encoding of the event shown, split into METADATA and other fields by
// event.AppendSplit (the deterministic encodings of event.Split's halves),
// must give exactly the committed header event and, when the content is
// shown, exactly the committed content. Equal deterministic encodings of
// messages without unknown fields mean equal messages (proto.Equal), which
// is what checkEntry compares. Anything else (unknown fields anywhere, a
// header this build does not know, a mismatch) returns false, and
// checkEntry decides.
func entryMatches(e *agenttrailv1.Entry) bool {
	c := e.GetCommitment()
	if c == nil || len(c.GetContentDigest()) != HashSize || len(c.GetLeafHash()) != HashSize ||
		uint64(len(c.GetHeader())) > math.MaxUint32 {
		return false
	}
	salt, content := c.GetSalt(), c.GetContent()
	hasContent := len(salt) != 0
	switch {
	case hasContent && len(salt) != HashSize:
		return false
	case !hasContent && (len(content) != 0 || e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_PRESENT):
		return false
	}
	if leaf := LeafHash(c.GetHeader(), c.GetContentDigest()); !bytes.Equal(leaf[:], c.GetLeafHash()) {
		return false
	}
	if hasContent {
		if d := ContentDigest(salt, content); !bytes.Equal(d[:], c.GetContentDigest()) {
			return false
		}
	}
	committed, ok := parseHeader(c.GetHeader())
	if !ok || !stampMatches(e.GetStamp(), committed) {
		return false
	}

	bufs := matchBuffers.Get().(*matchBuffer)
	defer matchBuffers.Put(bufs)
	wire, err := deterministic.MarshalAppend(bufs.wire[:0], e.GetEvent())
	if err != nil {
		return false
	}
	bufs.wire = wire
	header, rest, err := event.AppendSplit(bufs.header[:0], bufs.content[:0], wire)
	bufs.header, bufs.content = header, rest
	if err != nil {
		return false
	}
	return bytes.Equal(header, committed.event) && (!hasContent || bytes.Equal(rest, content))
}

// matchBuffer holds entryMatches' encodings between calls.
type matchBuffer struct{ wire, header, content []byte }

var matchBuffers = sync.Pool{New: func() any { return new(matchBuffer) }}

var deterministic = proto.MarshalOptions{Deterministic: true}

// committedHeader is an EventHeader's fields as encoded: event is the
// encoded Event, empty when absent.
type committedHeader struct {
	event       []byte
	hasReceived bool
	seconds     int64
	nanos       int32
	principal   []byte
}

// parseHeader reads an encoded EventHeader (proto/agenttrail/v1/entry.proto)
// whose fields decode to exactly what parseHeader returns: each known field
// at most once with its wire type, no other field, a received_at of at most
// one seconds and one nanos varint, and a UTF-8 principal. ok is false for
// anything else.
func parseHeader(b []byte) (h committedHeader, ok bool) {
	var seen [4]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num < 1 || num > 3 || seen[num] || typ != protowire.BytesType {
			return h, false
		}
		seen[num] = true
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return h, false
		}
		b = b[n+m:]
		switch num {
		case 1: // event
			h.event = v
		case 2: // received_at
			h.hasReceived = true
			if h.seconds, h.nanos, ok = event.SecondsAndNanos(v); !ok {
				return h, false
			}
		case 3: // principal
			if !utf8.Valid(v) {
				return h, false
			}
			h.principal = v
		}
	}
	return h, true
}

// stampMatches reports whether the stamp's received_at and principal are
// the committed header's, as proto.Equal compares them.
func stampMatches(s *agenttrailv1.Stamp, h committedHeader) bool {
	if s.GetPrincipal() != string(h.principal) {
		return false
	}
	r := s.GetReceivedAt()
	if (r != nil) != h.hasReceived {
		return false
	}
	return r == nil || r.GetSeconds() == h.seconds && r.GetNanos() == h.nanos && len(r.ProtoReflect().GetUnknown()) == 0
}
