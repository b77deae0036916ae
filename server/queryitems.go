package server

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
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

// Field numbers of agenttrail.v1.QueryResponse that itemSender writes
// itself.
const (
	queryResponseEntry          protowire.Number = 1
	queryResponseInclusionProof protowire.Number = 4
	queryResponseBatch          protowire.Number = 5
)

// encodedResponse is a QueryResponse already encoded, which the server's
// codec sends as it is (see rawFrameCodec). entries are the log indexes of
// the entries it holds, in order, for the call's access record. pooled: b
// is a batch buffer of batchBuffers, which the transport puts back once it
// has written it.
type encodedResponse struct {
	b       []byte
	entries []uint64
	pooled  bool
}

// batchCap is the capacity of a pooled batch buffer: a full batch and its
// last item's framing.
const batchCap = maxBatchBytes + maxBatchBytes/8

// batchBuffers are the buffers batched responses are encoded into. The
// codec hands each to the transport as a pooled buffer (mem.NewBuffer),
// which puts it back here once the bytes are written, so that a long read
// encodes batch after batch into the same few buffers instead of
// allocating (and zeroing) a fresh one per response. Nothing is read from
// a buffer after it is put back: the sender drops it when it hands the
// response to the stream, and the transport frees it after its write.
var batchBuffers = &bufferPool{}

// bufferPool is a mem.BufferPool of batch buffers of batchCap bytes.
// Buffers of other capacities (an item larger than a batch goes alone)
// are not kept.
type bufferPool struct{ p sync.Pool }

// Get implements mem.BufferPool.
func (p *bufferPool) Get(n int) *[]byte {
	if n <= batchCap {
		if b, ok := p.p.Get().(*[]byte); ok {
			*b = (*b)[:n]
			return b
		}
	}
	b := make([]byte, n, max(n, batchCap))
	return &b
}

// Put implements mem.BufferPool.
func (p *bufferPool) Put(b *[]byte) {
	if cap(*b) == batchCap {
		p.p.Put(b)
	}
}

// itemSender sends the items of one Query: one per response, or, with
// batch, gathered into batched responses, sent when one is full, when a
// following scan waits for the next commit (flush), and at the end. Items
// are encoded as they are added: an entry of a view that can encode it
// from the stored bytes (FullView) is never built as a message at all.
type itemSender struct {
	w       *watchdog
	send    func(any) error // the stream's SendMsg
	batch   bool
	buf     []byte   // the batch gathered: QueryResponse.batch fields
	items   int      // items in buf
	entries []uint64 // log indexes of the entries in buf
	// messages sends each response decoded, as a QueryResponse, for
	// interceptors that look at responses (WithInterceptors).
	messages bool
	scratch  []byte // one item being encoded
	entry    []byte // one entry being encoded, for addEntry
}

// add sends item, or queues it in the current batch.
func (b *itemSender) add(item *agenttrailv1.QueryResponse) error {
	var err error
	if b.scratch, err = (proto.MarshalOptions{}).MarshalAppend(b.scratch[:0], item); err != nil {
		return err
	}
	if e := item.GetEntry(); e != nil {
		return b.addEncoded(b.scratch, e.GetStamp().GetLogIndex(), true)
	}
	return b.addEncoded(b.scratch, 0, false)
}

// addEntry sends, or queues, the item of an entry whose agenttrail.v1.Entry
// encoding is entry, with its inclusion proof when proof is not nil.
func (b *itemSender) addEntry(index uint64, entry []byte, proof *agenttrailv1.GetInclusionProofResponse) error {
	if b.batch && proof == nil {
		// The item goes straight into the batch, not through scratch:
		// one copy of the entry fewer.
		n := protowire.SizeTag(queryResponseEntry) + protowire.SizeBytes(len(entry))
		if err := b.makeRoom(n); err != nil {
			return err
		}
		b.buf = protowire.AppendTag(b.buf, queryResponseBatch, protowire.BytesType)
		b.buf = protowire.AppendVarint(b.buf, uint64(n))
		b.buf = protowire.AppendTag(b.buf, queryResponseEntry, protowire.BytesType)
		b.buf = protowire.AppendBytes(b.buf, entry)
		b.items++
		b.entries = append(b.entries, index)
		return nil
	}
	item := protowire.AppendTag(b.scratch[:0], queryResponseEntry, protowire.BytesType)
	item = protowire.AppendVarint(item, uint64(len(entry)))
	item = append(item, entry...)
	if proof != nil {
		var err error
		if item, err = (proto.MarshalOptions{}).MarshalAppend(item, &agenttrailv1.QueryResponse{InclusionProof: proof}); err != nil {
			return err
		}
	}
	b.scratch = item
	return b.addEncoded(item, index, true)
}

// addEncoded sends, or queues, one encoded QueryResponse item: an entry
// (at index) or not.
func (b *itemSender) addEncoded(item []byte, index uint64, isEntry bool) error {
	if !b.batch {
		resp := &encodedResponse{b: append([]byte(nil), item...)}
		if isEntry {
			resp.entries = []uint64{index}
		}
		return b.sendResponse(resp)
	}
	if err := b.makeRoom(len(item)); err != nil {
		return err
	}
	b.buf = protowire.AppendTag(b.buf, queryResponseBatch, protowire.BytesType)
	b.buf = protowire.AppendVarint(b.buf, uint64(len(item)))
	b.buf = append(b.buf, item...)
	b.items++
	if isEntry {
		b.entries = append(b.entries, index)
	}
	return nil
}

// makeRoom makes room in the batch for an item of n bytes: it sends the
// batch first when the item would make it too large or too long, and
// starts a batch buffer when there is none.
func (b *itemSender) makeRoom(n int) error {
	n += protowire.SizeTag(queryResponseBatch) + protowire.SizeVarint(uint64(n))
	if b.items > 0 && (len(b.buf)+n > maxBatchBytes || b.items >= maxBatchItems) {
		if err := b.flush(); err != nil {
			return err
		}
	}
	if b.buf == nil {
		// A batch is not copied as it grows: a buffer holds a full
		// one. An item larger than a batch has a buffer of its own.
		b.buf = (*batchBuffers.Get(max(n, batchCap)))[:0]
	}
	return nil
}

// flush sends the items queued, if any, as one batched response. The
// response's buffer is the transport's from then on: the next batch
// starts a new one.
func (b *itemSender) flush() error {
	if b.items == 0 {
		return nil
	}
	resp := &encodedResponse{b: b.buf, entries: b.entries, pooled: true}
	b.buf, b.items, b.entries = nil, 0, nil
	return b.sendResponse(resp)
}

// sendResponse sends one encoded response, decoded first when interceptors
// want messages.
func (b *itemSender) sendResponse(resp *encodedResponse) error {
	var m any = resp
	if b.messages {
		msg := new(agenttrailv1.QueryResponse)
		if err := proto.Unmarshal(resp.b, msg); err != nil {
			return err
		}
		if resp.pooled {
			batchBuffers.Put(&resp.b)
		}
		m = msg
	}
	return b.w.send(func() error { return b.send(m) })
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
