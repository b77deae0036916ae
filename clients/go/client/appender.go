package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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
// Results must be read: an appender whose results are not read stops
// sending, and a server ends a stream whose client stops reading (after its
// send timeout). The stream ends when CloseSend has been called and every
// event is answered, when the context given to NewAppender ends, or when
// the connection breaks; Results is then closed, and Err says why it ended.
type Appender struct {
	stream     grpc.BidiStreamingClient[agenttrailv1.AppendRequest, agenttrailv1.AppendResponse]
	cancel     context.CancelFunc
	maxRequest int
	slots      chan struct{} // a token per event in flight
	results    chan Result   // results, in order
	done       chan struct{} // closed when the stream has ended and results is closed

	sendMu   sync.Mutex // serializes sends, held across stream.Send; guards the fields below
	closed   bool       // CloseSend was called
	finished bool       // the receiver has ended: nothing more may be sent

	// inFlight holds the events sent and not yet answered, in order. Its
	// own lock is never held across a call that can block, so the receiver
	// is never kept from reading by a send held back by flow control.
	mu       sync.Mutex
	inFlight []*agenttrailv1.Event

	err error // why the stream ended; set before done is closed
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
		maxRequest: cfg.maxRequest,
		cancel:     cancel,
		slots:      make(chan struct{}, cfg.maxInFlight),
		results:    make(chan Result, cfg.maxInFlight),
		done:       make(chan struct{}),
		inFlight:   make([]*agenttrailv1.Event, 0, cfg.maxInFlight),
	}
	go a.receive()
	return a, nil
}

// Send sends one event, waiting while the appender has its most events in
// flight, until ctx ends. Its result comes on Results. Send returns
// ErrClosed after CloseSend, and the stream's error once it has ended. An
// event that cannot be encoded (a string field that is not valid UTF-8)
// is not sent: Send returns the error, no Result comes for it, and the
// stream goes on; so does an event larger than the request size limit
// ([WithMaxRequestSize]; the error matches [ErrTooLarge]). Send encodes the
// event before it returns; its Result carries the same pointer.
func (a *Appender) Send(ctx context.Context, ev *agenttrailv1.Event) error {
	b, err := proto.Marshal(&agenttrailv1.AppendRequest{Event: ev})
	if err != nil {
		return fmt.Errorf("client: event %q does not encode: %w", ev.GetEventId(), err)
	}
	if len(b) > a.maxRequest {
		return tooLarge(ev.GetEventId(), len(b), a.maxRequest)
	}
	select {
	case a.slots <- struct{}{}:
	case <-a.done:
		return a.ended()
	case <-ctx.Done():
		return ctx.Err()
	}
	a.sendMu.Lock()
	switch {
	case a.closed:
		a.sendMu.Unlock()
		<-a.slots
		return fmt.Errorf("%w: Send after CloseSend", ErrClosed)
	case a.finished:
		a.sendMu.Unlock()
		<-a.slots
		return a.waitEnd(ctx)
	}
	a.mu.Lock()
	a.inFlight = append(a.inFlight, ev)
	a.mu.Unlock()
	err = a.stream.SendMsg(&frame{b: b})
	a.sendMu.Unlock()
	if err != nil {
		// The stream has ended; its status comes from the receiver, which
		// also answers this event with ErrUnacknowledged.
		return a.waitEnd(ctx)
	}
	return nil
}

// tooLarge is the error of an event over the request size limit.
func tooLarge(id string, size, limit int) error {
	return fmt.Errorf("%w: event %q is %d bytes encoded, over the %d bytes one request may carry (the server's --max-message-size); it was not sent: shorten or split its content", ErrTooLarge, id, size, limit)
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

// CloseSend says that no more events will be sent. Results is closed once
// every event sent is answered.
func (a *Appender) CloseSend() error {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	if a.closed || a.finished {
		a.closed = true
		return nil
	}
	a.closed = true
	return a.stream.CloseSend()
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

// receive reads responses, pairs each with the event it answers, and
// delivers the results; when the stream ends it answers every event still
// in flight with ErrUnacknowledged.
func (a *Appender) receive() {
	err := a.receiveAll()
	a.sendMu.Lock()
	a.finished = true
	closed := a.closed
	a.sendMu.Unlock()
	// Nothing is sent from here on.
	a.mu.Lock()
	left := a.inFlight
	a.inFlight = nil
	a.mu.Unlock()
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
	close(a.results)
	close(a.done)
}

// receiveAll delivers results until the stream ends, and returns the
// stream's error (io.EOF when it ended normally).
func (a *Appender) receiveAll() error {
	for {
		resp, err := a.stream.Recv()
		if err != nil {
			return err
		}
		a.mu.Lock()
		if len(a.inFlight) == 0 {
			a.mu.Unlock()
			return fmt.Errorf("%w: a response came for no event in flight", ErrProtocol)
		}
		ev := a.inFlight[0]
		r, err := result(ev, resp)
		if err == nil {
			a.inFlight[0] = nil
			a.inFlight = a.inFlight[1:]
		}
		a.mu.Unlock()
		if err != nil {
			return err
		}
		<-a.slots
		a.results <- r
	}
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
