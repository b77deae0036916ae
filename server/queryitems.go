package server

import (
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Query responses in batches (QueryRequest.batch): each response carries a
// run of items instead of one. A gRPC message costs a frame, a header and a
// flow-control round of its own; at a few hundred items per message a
// session read or a catching-up tail costs the server and the client a
// fraction of what one message per entry does.
const (
	// maxBatchBytes bounds the encoded items of one batched response,
	// well under the 4 MiB gRPC clients accept by default. An item larger
	// than this goes alone.
	maxBatchBytes = 256 << 10
	// maxBatchItems bounds the items of one batched response.
	maxBatchItems = 1024
)

// itemSender sends the items of one Query: one per response, or, with
// batch, gathered into batched responses, sent when one is full, when a
// following scan waits for the next commit (flush), and at the end.
type itemSender struct {
	w       *watchdog
	send    func(*agenttrailv1.QueryResponse) error
	batch   bool
	pending []*agenttrailv1.QueryResponse
	bytes   int
}

// add sends item, or queues it in the current batch.
func (b *itemSender) add(item *agenttrailv1.QueryResponse) error {
	if !b.batch {
		return b.w.send(func() error { return b.send(item) })
	}
	n := proto.Size(item)
	if len(b.pending) > 0 && (b.bytes+n > maxBatchBytes || len(b.pending) >= maxBatchItems) {
		if err := b.flush(); err != nil {
			return err
		}
	}
	b.pending = append(b.pending, item)
	b.bytes += n
	return nil
}

// flush sends the items queued, if any, as one batched response.
func (b *itemSender) flush() error {
	if len(b.pending) == 0 {
		return nil
	}
	resp := &agenttrailv1.QueryResponse{Batch: b.pending}
	b.pending, b.bytes = nil, 0
	return b.w.send(func() error { return b.send(resp) })
}

// queryItems calls f with each item of a Query response: the item of a
// single response, or each of a batch, in order.
func queryItems(resp *agenttrailv1.QueryResponse, f func(*agenttrailv1.QueryResponse)) {
	if resp.GetItem() != nil {
		f(resp)
	}
	for _, item := range resp.GetBatch() {
		f(item)
	}
}
