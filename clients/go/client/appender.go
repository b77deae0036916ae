package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Result is the outcome of one event sent on an Append stream.
type Result struct {
	// Event is the event sent.
	Event *agenttrailv1.Event
	// Receipt confirms that the event is durably in the log (Duplicate
	// when it was already there); nil when Err is set.
	Receipt *agenttrailv1.Receipt
	// Err is a *RejectionError (matching ErrRejected) when the server
	// refused the event, or wraps ErrUnacknowledged and the stream's error
	// when the stream ended before the event was answered.
	Err error
}

// An AppenderOption configures [Client.NewAppender].
type AppenderOption interface {
	applyToAppender(*appenderConfig) error
}

type appenderOption func(*appenderConfig) error

func (f appenderOption) applyToAppender(c *appenderConfig) error { return f(c) }

type appenderConfig struct {
	maxInFlight int
	maxRequest  int
}

// DefaultMaxRequestSize is the largest request an Appender sends by default:
// the server's default --max-message-size. The server's own limit on one
// event (--max-event-size, 1 MiB by default) is lower; an event between the
// two is sent and refused by the server on its own, naming both sizes.
const DefaultMaxRequestSize = 4 << 20

// WithMaxRequestSize sets the largest encoded request an Appender sends
// (default [DefaultMaxRequestSize]); set it to the server's
// --max-message-size when that differs. A larger event is not sent: Send
// returns an error matching [ErrTooLarge] and the stream goes on.
func WithMaxRequestSize(bytes int) AppenderOption {
	return appenderOption(func(c *appenderConfig) error {
		if bytes < 1024 {
			return fmt.Errorf("%w: max request size %d, want at least 1024", ErrInvalidOption, bytes)
		}
		c.maxRequest = bytes
		return nil
	})
}

// DefaultMaxInFlight is how many events an Appender has sent without their
// results by default. It matches the server's default per-stream bound, so
// the stream stays full without the server holding it back.
const DefaultMaxInFlight = 1024

// WithMaxInFlight bounds the events sent and not yet answered (default
// [DefaultMaxInFlight]): Send waits while n are in flight. More in flight
// hides the latency of each commit; the server holds a stream back past
// its own bound anyway.
func WithMaxInFlight(n int) AppenderOption {
	return appenderOption(func(c *appenderConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: max in flight %d, want at least 1", ErrInvalidOption, n)
		}
		c.maxInFlight = n
		return nil
	})
}

// Appender is one long-lived Append stream: Send events as they happen and
// read their results from Results, in the order sent. At most the
// configured number of events are in flight; Send waits for room. Send and
// CloseSend are safe for concurrent use.
//
// Send queues the event and returns; the appender's writer sends what is
// queued, as one request per event until the server has said that it takes
// batched frames (the "agenttrail-append-batch" response header, with the
// first response), and from then on as batched frames of whatever has
// queued up, up to [MaxFrameEvents] events and a quarter of the in-flight
// bound (so that several frames are in flight, and a stream never waits
// for one whole frame to commit before it sends the next). A lightly loaded
// appender so sends each event at once; a busy one sends fewer, larger
// requests. The first request goes alone, and the writer waits for its
// answer (at most [FirstAnswerWait]) before it sends more, so that a burst
// that queues up meanwhile goes in frames however late the header is read;
// this delays no result, as the server answers in request order.
//
// Results must be read: an appender whose results are not read stops
// sending, and a server ends a stream whose client stops reading (after its
// send timeout). The stream ends when CloseSend has been called and every
// event is answered, when the context given to NewAppender ends, or when
// the connection breaks; Results is then closed, and Err says why it ended.
type Appender struct {
	stream     grpc.BidiStreamingClient[agenttrailv1.AppendRequest, agenttrailv1.AppendResponse]
	cancel     context.CancelFunc
	maxRequest int           // the largest request sent (WithMaxRequestSize)
	slots      chan struct{} // a token per event in flight (queued or sent)
	results    chan Result   // results, in order
	done       chan struct{} // closed when the stream has ended and results is closed

	// mu guards the fields below. It is never held across a call that can
	// block, so the receiver is never kept from reading by a send held back
	// by flow control.
	mu       sync.Mutex
	wake     *sync.Cond // signalled when queue, closed or finished change
	queue    []queued   // events Send accepted, not yet sent
	inFlight []sentFrame
	batchMax int // the most events per request: 1 until the server takes batched frames
	frameCap int // the most events per frame this appender sends: a quarter of its window
	// sendMore is false from the first request until its answer has come
	// (or FirstAnswerWait has passed): the writer waits meanwhile.
	sendMore bool
	firstOut bool // the first request has been taken
	closed   bool // CloseSend was called
	finished bool // the receiver has ended: nothing more may be sent

	err error // why the stream ended; set before done is closed
}

// MaxFrameEvents is the most events an Appender sends in one batched
// frame (fewer when the server takes fewer), and MaxFrameBytes about the
// most bytes: a frame of larger events holds fewer of them.
const (
	MaxFrameEvents = 256
	MaxFrameBytes  = 1 << 20
)

// FirstAnswerWait is the longest an Appender waits, after its first
// request, for the answer (which brings the batch header) before it sends
// more: a bound on the wait for a server that would hold that answer back.
const FirstAnswerWait = 2 * time.Second

// batchHeader is the response header by which a server says that it takes
// batched frames, and how many events one may hold.
const batchHeader = "agenttrail-append-batch"

// queued is an event that Send accepted: the event and its encoding.
type queued struct {
	ev *agenttrailv1.Event
	b  []byte
}

// sentFrame is a request on the stream that awaits its response.
type sentFrame struct {
	events []*agenttrailv1.Event
	batch  bool // sent as a batched frame (events), answered with results
}

// NewAppender opens an Append stream. It ends when ctx ends: cancel ctx to
// abandon it.
func (c *Client) NewAppender(ctx context.Context, opts ...AppenderOption) (*Appender, error) {
	cfg := appenderConfig{maxInFlight: DefaultMaxInFlight, maxRequest: DefaultMaxRequestSize}
	for _, o := range opts {
		if err := o.applyToAppender(&cfg); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.append.Append(ctx, grpc.ForceCodecV2(frameCodec{}))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("client: opening append stream: %w", err)
	}
	a := &Appender{
		stream:     stream,
		cancel:     cancel,
		maxRequest: cfg.maxRequest,
		slots:      make(chan struct{}, cfg.maxInFlight),
		results:    make(chan Result, cfg.maxInFlight),
		done:       make(chan struct{}),
		batchMax:   1,
		sendMore:   true,
		// A quarter of the window per frame keeps several frames in
		// flight: the server answers a frame once all of it is durable,
		// so one frame as large as the window would stall the stream
		// for a whole commit after each.
		frameCap: max(1, cfg.maxInFlight/4),
	}
	a.wake = sync.NewCond(&a.mu)
	go a.receive()
	go a.write()
	return a, nil
}

// Send queues one event for the stream, waiting while the appender has its
// most events in flight, until ctx ends. Its result comes on Results.
// Send returns ErrClosed after CloseSend, and the stream's error once it
// has ended. An event that cannot be encoded (a string field that is not
// valid UTF-8) is not sent: Send returns the error, no Result comes for
// it, and the stream goes on; so does an event larger than the request
// size limit ([WithMaxRequestSize]; the error matches [ErrTooLarge]). Send
// encodes the event before it returns; its Result carries the same pointer.
//
// The event goes in Go's deterministic encoding (map entries in key order),
// which is the encoding the log commits: the server then commits the bytes
// as they arrive instead of encoding the event again.
func (a *Appender) Send(ctx context.Context, ev *agenttrailv1.Event) error {
	b, err := deterministic.Marshal(ev)
	if err != nil {
		return fmt.Errorf("client: event %q does not encode: %w", ev.GetEventId(), err)
	}
	// Alone in a request, the event is its field's tag and length, then
	// its bytes.
	if size := protowire.SizeTag(1) + protowire.SizeBytes(len(b)); size > a.maxRequest {
		return tooLarge(ev.GetEventId(), size, a.maxRequest)
	}
	select {
	case a.slots <- struct{}{}:
	case <-a.done:
		return a.ended()
	case <-ctx.Done():
		return ctx.Err()
	}
	a.mu.Lock()
	switch {
	case a.closed:
		a.mu.Unlock()
		<-a.slots
		return fmt.Errorf("%w: Send after CloseSend", ErrClosed)
	case a.finished:
		a.mu.Unlock()
		<-a.slots
		return a.waitEnd(ctx)
	}
	a.queue = append(a.queue, queued{ev: ev, b: b})
	if len(a.queue) == 1 {
		a.wake.Broadcast()
	}
	a.mu.Unlock()
	return nil
}

// deterministic encodes events as the log commits them.
var deterministic = proto.MarshalOptions{Deterministic: true}

// tooLarge is the error of an event over the request size limit.
func tooLarge(id string, size, limit int) error {
	return fmt.Errorf("%w: event %q is %d bytes encoded, over the %d bytes one request may carry (the server's --max-message-size); it was not sent: shorten or split its content", ErrTooLarge, id, size, limit)
}

// write is the appender's writer: it sends what Send queued, as frames,
// until CloseSend (then it half-closes the stream once the queue is sent)
// or the end of the stream.
func (a *Appender) write() {
	for {
		a.mu.Lock()
		for (len(a.queue) == 0 && !a.closed || !a.sendMore) && !a.finished {
			a.wake.Wait()
		}
		if a.finished {
			a.mu.Unlock()
			return
		}
		if len(a.queue) == 0 { // closed, and everything sent
			a.mu.Unlock()
			a.stream.CloseSend()
			return
		}
		n, size := 1, len(a.queue[0].b)
		for n < len(a.queue) && n < a.batchMax && n < a.frameCap && size+len(a.queue[n].b) <= min(MaxFrameBytes, a.maxRequest-64) {
			size += len(a.queue[n].b)
			n++
		}
		f := sentFrame{events: make([]*agenttrailv1.Event, n), batch: a.batchMax > 1}
		buf := make([]byte, 0, size+n*(1+binary.MaxVarintLen32))
		for i, q := range a.queue[:n] {
			f.events[i] = q.ev
			num := protowire.Number(1) // AppendRequest.event
			if f.batch {
				num = 2 // AppendRequest.events
			}
			buf = protowire.AppendTag(buf, num, protowire.BytesType)
			buf = protowire.AppendBytes(buf, q.b)
			a.queue[i] = queued{}
		}
		a.queue = a.queue[n:]
		a.inFlight = append(a.inFlight, f)
		if !a.firstOut {
			a.firstOut, a.sendMore = true, false
			time.AfterFunc(FirstAnswerWait, a.stopWaiting)
		}
		a.mu.Unlock()
		if err := a.stream.SendMsg(&frame{b: buf}); err != nil {
			// The stream has ended; the receiver learns why and answers
			// every event in flight or queued with ErrUnacknowledged.
			return
		}
	}
}

// stopWaiting lets the writer send on after the first request: its answer
// has come, or FirstAnswerWait has passed.
func (a *Appender) stopWaiting() {
	a.mu.Lock()
	if !a.sendMore {
		a.sendMore = true
		a.wake.Broadcast()
	}
	a.mu.Unlock()
}

// waitEnd waits for the receiver to finish (it delivers the last results
// first, so Results must be read) and returns why the stream ended.
func (a *Appender) waitEnd(ctx context.Context) error {
	select {
	case <-a.done:
		return a.ended()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ended is the error of a Send after the stream has ended.
func (a *Appender) ended() error {
	if a.err != nil {
		return a.err
	}
	return fmt.Errorf("%w: the append stream has ended", ErrClosed)
}

// CloseSend says that no more events will be sent: the stream is
// half-closed once every event queued is sent. Results is closed once
// every event sent is answered.
func (a *Appender) CloseSend() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	a.wake.Broadcast()
	return nil
}

// Results returns the channel of results, one per event sent, in the order
// sent. It is closed when the stream ends.
func (a *Appender) Results() <-chan Result { return a.results }

// Err returns why the stream ended once Results is closed: nil when
// CloseSend was called and every event was answered, the stream's error
// otherwise. Before the end it returns nil.
func (a *Appender) Err() error {
	select {
	case <-a.done:
		return a.err
	default:
		return nil
	}
}

// receive reads responses, pairs each with the events it answers, and
// delivers the results; when the stream ends it answers every event still
// in flight or queued with ErrUnacknowledged.
func (a *Appender) receive() {
	err := a.receiveAll()
	a.mu.Lock()
	a.finished = true
	closed := a.closed
	var left []*agenttrailv1.Event
	for _, f := range a.inFlight {
		left = append(left, f.events...)
	}
	for _, q := range a.queue {
		left = append(left, q.ev)
	}
	a.inFlight, a.queue = nil, nil
	a.wake.Broadcast()
	a.mu.Unlock()
	// Nothing is sent from here on.
	if errors.Is(err, io.EOF) {
		err = nil
		if !closed || len(left) > 0 {
			err = fmt.Errorf("%w: the server ended the append stream with events unanswered", ErrProtocol)
		}
	}
	if err != nil {
		err = fmt.Errorf("client: append stream: %w", err)
	}
	for _, ev := range left {
		a.results <- Result{Event: ev, Err: fmt.Errorf("%w: %w", ErrUnacknowledged, err)}
	}
	a.err = err
	a.cancel()
	// done before results: whoever sees Results closed finds Err set.
	close(a.done)
	close(a.results)
}

// receiveAll delivers results until the stream ends, and returns the
// stream's error (io.EOF when it ended normally).
func (a *Appender) receiveAll() error {
	headers := false
	var rs []Result
	for {
		resp, err := a.stream.Recv()
		if err != nil {
			return err
		}
		if !headers {
			// They came with the first response.
			headers = true
			if md, err := a.stream.Header(); err == nil {
				if vs := md.Get(batchHeader); len(vs) > 0 {
					if n, err := strconv.Atoi(vs[0]); err == nil && n > 1 {
						a.mu.Lock()
						a.batchMax = min(n, MaxFrameEvents)
						a.mu.Unlock()
					}
				}
			}
			a.stopWaiting()
		}
		a.mu.Lock()
		if len(a.inFlight) == 0 {
			a.mu.Unlock()
			return fmt.Errorf("%w: a response came for no request in flight", ErrProtocol)
		}
		f := a.inFlight[0]
		rs, err = results(f, resp, rs[:0])
		if err == nil {
			a.inFlight[0] = sentFrame{}
			a.inFlight = a.inFlight[1:]
		}
		a.mu.Unlock()
		if err != nil {
			return err
		}
		for _, r := range rs {
			<-a.slots
			a.results <- r
		}
	}
}

// results pairs the response to a frame with its events.
func results(f sentFrame, resp *agenttrailv1.AppendResponse, out []Result) ([]Result, error) {
	if !f.batch {
		r, err := result(f.events[0], resp)
		return append(out, r), err
	}
	rs := resp.GetResults()
	switch {
	case len(rs) == len(f.events):
		for i, ev := range f.events {
			r, err := result(ev, rs[i])
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		return out, nil
	case len(rs) == 0 && resp.GetRejection() != nil && resp.GetEventId() == "":
		// The server could not read the frame at all: every event of it
		// is refused alike.
		for _, ev := range f.events {
			r, err := result(ev, &agenttrailv1.AppendResponse{EventId: ev.GetEventId(), Result: resp.GetResult()})
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	return out, fmt.Errorf("%w: a response to a request of %d events holds %d results", ErrProtocol, len(f.events), len(rs))
}

// result pairs a response with the event it answers.
func result(ev *agenttrailv1.Event, resp *agenttrailv1.AppendResponse) (Result, error) {
	if resp.GetEventId() != ev.GetEventId() {
		return Result{}, fmt.Errorf("%w: a response for event %q came where event %q was expected", ErrProtocol, resp.GetEventId(), ev.GetEventId())
	}
	switch r := resp.GetResult().(type) {
	case *agenttrailv1.AppendResponse_Receipt:
		if r.Receipt.GetEventId() != ev.GetEventId() {
			return Result{}, fmt.Errorf("%w: the receipt for event %q names event %q", ErrProtocol, ev.GetEventId(), r.Receipt.GetEventId())
		}
		return Result{Event: ev, Receipt: r.Receipt}, nil
	case *agenttrailv1.AppendResponse_Rejection:
		return Result{Event: ev, Err: &RejectionError{
			EventID: ev.GetEventId(),
			Code:    codes.Code(r.Rejection.GetCode()),
			Message: r.Rejection.GetMessage(),
			Field:   r.Rejection.GetField(),
		}}, nil
	}
	return Result{}, fmt.Errorf("%w: a response for event %q has neither receipt nor rejection", ErrProtocol, ev.GetEventId())
}
