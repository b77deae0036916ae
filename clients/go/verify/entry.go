package verify

import (
	"bytes"
	"fmt"
	"math"

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
