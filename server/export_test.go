package server

import "github.com/agenttrail/agenttrail/store"

// EncodeFullEntry is what Query sends of an entry in the full view: its
// agenttrail.v1.Entry encoded from the stored bytes, or false when it must
// be rendered instead.
func EncodeFullEntry(v FullView, e *store.Entry) ([]byte, bool) { return v.appendEntry(nil, e) }

// AppendReceiptResponse is how an Append stream encodes an AppendResponse
// holding a receipt.
func AppendReceiptResponse(id string, r store.Receipt) []byte {
	return appendReceiptResponse(nil, id, &r)
}
