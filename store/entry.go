package store

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// Receipt confirms that an event is durably in the log.
type Receipt struct {
	// EventID is the event's id.
	EventID string
	// Index is the event's position in the log.
	Index uint64
	// LeafHash is the event's RFC 6962 leaf hash.
	LeafHash [HashSize]byte
	// ReceivedAt is when the server accepted the event.
	ReceivedAt time.Time
	// Duplicate is true when the event had been appended before and this
	// is its original receipt.
	Duplicate bool
}

// Result is the outcome of appending one event: a receipt, or an error
// wrapping ErrInvalidEvent, ErrTooLarge or ErrAlreadyExists.
type Result struct {
	Receipt Receipt
	Err     error
}

// ContentState says what a read found of an event's content.
type ContentState int

const (
	// ContentNotRead: the read did not ask for content.
	ContentNotRead ContentState = iota
	// ContentPresent: content and salt were read.
	ContentPresent
	// ContentErased: content was destroyed by erasure or retention; the
	// header and digest remain.
	ContentErased
)

// String implements fmt.Stringer.
func (s ContentState) String() string {
	switch s {
	case ContentNotRead:
		return "not read"
	case ContentPresent:
		return "present"
	case ContentErased:
		return "erased"
	}
	return fmt.Sprintf("ContentState(%d)", int(s))
}

// Entry is one event as it stands in the log.
type Entry struct {
	// Index is the event's position in the log.
	Index uint64
	// ReceivedAt and Principal are what the server recorded when it
	// accepted the event; both are committed in the header.
	ReceivedAt time.Time
	Principal  string
	// Header is the event with only its METADATA fields, decoded from
	// HeaderBytes; nil from a scan that left it out (Query.LeanHeader)
	// until DecodeHeader.
	Header *agenttrailv1.Event
	// HeaderBytes is the encoded agenttrail.v1.EventHeader, exactly as
	// committed.
	HeaderBytes []byte
	// ContentDigest is SHA-256(Salt || Content).
	ContentDigest [HashSize]byte
	// LeafHash is the RFC 6962 leaf hash of HeaderBytes and ContentDigest.
	LeafHash [HashSize]byte
	// Content is the encoded content (the event with only its non-METADATA
	// fields) and Salt its 32-byte salt, when ContentState is
	// ContentPresent.
	Content []byte
	Salt    []byte
	// ContentState says whether Content and Salt were read. A read of the
	// header alone still says ContentErased for content this store erased.
	ContentState ContentState
	// ErasedBy, when ContentState is ContentErased, is the log index of the
	// Erasure or Retention event that names this event.
	ErasedBy uint64
}

// DecodeHeader fills in Header when a scan left it out (Query.LeanHeader).
func (e *Entry) DecodeHeader() error {
	if e.Header != nil {
		return nil
	}
	h, err := commitment.DecodeHeader(e.HeaderBytes)
	if err != nil {
		return fmt.Errorf("%w: event %d: %w", ErrCorrupt, e.Index, err)
	}
	e.Header = h.GetEvent()
	return nil
}

// EventID returns the event's id.
func (e *Entry) EventID() string { return e.Header.GetEventId() }

// Event returns the whole event, header and content joined, when the content
// was read; otherwise the header alone.
func (e *Entry) Event() (*agenttrailv1.Event, error) {
	// Decoding the header again and merging the content bytes into it is
	// the same as event.Join, and much cheaper than copying e.Header.
	var h agenttrailv1.EventHeader
	if err := proto.Unmarshal(e.HeaderBytes, &h); err != nil || h.GetEvent() == nil {
		return nil, fmt.Errorf("%w: header of event %d", ErrCorrupt, e.Index)
	}
	ev := h.GetEvent()
	if e.ContentState == ContentPresent {
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(e.Content, ev); err != nil {
			return nil, fmt.Errorf("%w: content of event %d: %v", ErrCorrupt, e.Index, err)
		}
	}
	return ev, nil
}

// Receipt returns the event's receipt.
func (e *Entry) Receipt() Receipt {
	return Receipt{EventID: e.EventID(), Index: e.Index, LeafHash: e.LeafHash, ReceivedAt: e.ReceivedAt}
}
