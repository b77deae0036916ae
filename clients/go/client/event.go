package client

import (
	"errors"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// errRebuildEvent is the error of an entry whose event cannot be rebuilt
// from its commitment.
var errRebuildEvent = errors.New("the event does not decode from the commitment's header and content")

// EntryEvent returns the event of e: Entry.event when it has one, or else
// the event rebuilt from its commitment, as the client does for every entry
// of a query without [WithEventsInCommitment] (an erased event's is its
// header's event alone). e is not modified. An entry with neither an event
// nor a commitment header that decodes returns an error.
func EntryEvent(e *agenttrailv1.Entry) (*agenttrailv1.Event, error) {
	if ev := e.GetEvent(); ev != nil {
		return ev, nil
	}
	c := &agenttrailv1.Entry{Commitment: e.GetCommitment()}
	if err := rebuildEvent(c); err != nil {
		return nil, err
	}
	if c.Event == nil {
		return nil, errRebuildEvent
	}
	return c.Event, nil
}

// rebuildEvent fills in the event of an entry sent without it
// (QueryRequest.event_from_commitment): the event of commitment.header, an
// EventHeader, with commitment.content merged into it, which is how the
// server builds the full view's event. An entry that has its event, or no
// header, is left as it is.
func rebuildEvent(e *agenttrailv1.Entry) error {
	c := e.GetCommitment()
	if e.GetEvent() != nil || len(c.GetHeader()) == 0 {
		return nil
	}
	ev := new(agenttrailv1.Event)
	if evb, _, _, ok := commitment.SplitHeader(c.GetHeader()); ok {
		// The header's event, read where it lies.
		if err := proto.Unmarshal(evb, ev); err != nil {
			return errRebuildEvent
		}
	} else {
		// A header of another shape decodes as the server decodes it.
		var h agenttrailv1.EventHeader
		if err := proto.Unmarshal(c.GetHeader(), &h); err != nil || h.GetEvent() == nil {
			return errRebuildEvent
		}
		ev = h.GetEvent()
	}
	if len(c.GetContent()) > 0 {
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(c.GetContent(), ev); err != nil {
			return errRebuildEvent
		}
	}
	e.Event = ev
	return nil
}
