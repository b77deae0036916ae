package event

import (
	"google.golang.org/protobuf/encoding/protowire"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// IDs are the ids of an event that a scan filters on and keys its content
// by, as they lie in the event's encoding (the slices alias it).
type IDs struct {
	SessionID, AgentID, UserID []byte
}

// Field numbers of the ids in agenttrail.v1.Event.
var (
	eventFields     = (&agenttrailv1.Event{}).ProtoReflect().Descriptor().Fields()
	sessionIDNumber = eventFields.ByName("session_id").Number()
	agentIDNumber   = eventFields.ByName("agent_id").Number()
	userIDNumber    = eventFields.ByName("user_id").Number()
)

// HeaderIDs reads the ids of an encoded event without decoding it, after
// checking the encoding as Encode checks an event's (every field known to
// this server and of its type, strings UTF-8, enum values defined,
// timestamps and durations in range, nested messages alike). What passes
// decodes with proto.Unmarshal, to an event with these ids (a fuzz test
// holds it to that). ok is false for anything else, which may still
// decode: decode it to read it.
func HeaderIDs(b []byte) (ids IDs, ok bool) {
	if walkWire(eventInfo(), b, nil, nil, nil, false, false) != nil {
		return IDs{}, false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		b = b[n:]
		if typ == protowire.BytesType && (num == sessionIDNumber || num == agentIDNumber || num == userIDNumber) {
			v, m := protowire.ConsumeBytes(b)
			b = b[m:]
			switch num { // the last occurrence wins, as in decoding
			case sessionIDNumber:
				ids.SessionID = v
			case agentIDNumber:
				ids.AgentID = v
			case userIDNumber:
				ids.UserID = v
			}
			continue
		}
		b = b[protowire.ConsumeFieldValue(num, typ, b):]
	}
	return ids, true
}
