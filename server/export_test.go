package server

import "github.com/agenttrail/agenttrail/store"

// EncodeFullEntry is what Query sends of an entry in the full view: its
// agenttrail.v1.Entry encoded from the stored bytes, or false when it must
// be rendered instead.
func EncodeFullEntry(v FullView, e *store.Entry) ([]byte, bool) { return v.appendEntry(nil, e) }
