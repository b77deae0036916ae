package client

import "github.com/agenttrail/agenttrail/store/event"

// NewEventID returns a new UUIDv7 (RFC 9562) in its canonical lower-case
// form, such as "01963a4e-7c1b-7000-8000-0123456789ab": 48 bits of Unix
// time in milliseconds, a 12-bit counter, and 62 random bits. Ids from one
// process sort in the order they were made, which is what the log's event
// id index likes best. It is what a [Session] uses for every event.
func NewEventID() string { return event.NewID() }
