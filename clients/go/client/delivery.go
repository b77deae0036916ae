package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// delivery is a Session's background sender. Its queue holds every event
// not yet answered, in the order recorded; the first sent of them are on
// the current stream. One goroutine (run) opens a stream when there is
// something to send, pumps the queue into it, and pops the head of the
// queue as each answer comes, in order. When the stream fails with a
// transient error, run waits a backoff and opens a new stream, which sends
// the whole queue again from its head: events whose receipts were lost get
// their original receipts, as duplicates.
type delivery struct {
	c           *Client
	bufSize     int
	maxInFlight int
	maxRequest  int
	policy      FullPolicy
	retry       RetryPolicy
	onRejected  func(*agenttrailv1.Event, *RejectionError)

	ctx    context.Context // ends when delivery is abandoned
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change below
	queue   []*agenttrailv1.Event
	sent    int // queue[:sent] are sent on the current stream
	step    uint32
	tally   tally
	ended   bool  // the session's end was recorded
	closing bool  // Close was called
	failed  error // delivery gave up
	lastErr error // why the last stream failed, until an event is answered
	// The rejections Flush or Close have not reported yet: how many, and
	// the first of them.
	unreported      uint64
	firstUnreported *RejectionError
	counts          SessionStats
}

func newDelivery(c *Client, bufSize, maxInFlight, maxRequest int, policy FullPolicy, retry RetryPolicy, onRejected func(*agenttrailv1.Event, *RejectionError)) *delivery {
	ctx, cancel := context.WithCancel(context.Background())
	d := &delivery{
		c: c, bufSize: bufSize, maxInFlight: min(maxInFlight, bufSize), maxRequest: maxRequest, policy: policy, retry: retry, onRejected: onRejected,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{}),
	}
	go d.run()
	return d
}

// notify wakes everyone waiting for a change. d.mu must be held.
func (d *delivery) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// wait releases d.mu until the next change or until ctx ends, and reports
// whether a change came. d.mu must be held; it is held again on return.
func (d *delivery) wait(ctx context.Context) bool {
	ch := d.changed
	d.mu.Unlock()
	defer d.mu.Lock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// enqueue buffers the event that build makes for the next step, waiting
// for room (Block) or dropping it (DropNewest) when the buffer is full.
// build runs with d.mu held, so that steps follow the queue's order.
func (d *delivery) enqueue(ctx context.Context, build func(step uint32, t *tally) (*agenttrailv1.Event, error)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		switch {
		case d.failed != nil:
			return d.failed
		case d.ended:
			return fmt.Errorf("%w: the session has ended", ErrClosed)
		case d.closing:
			return fmt.Errorf("%w: the session is closed", ErrClosed)
		case len(d.queue) < d.bufSize:
			ev, err := build(d.step+1, &d.tally)
			if err != nil {
				return err
			}
			d.step++
			d.tally.add(ev)
			d.queue = append(d.queue, ev)
			d.counts.Recorded++
			d.ended = ev.GetSessionEnd() != nil
			d.notify()
			return nil
		case d.policy == DropNewest:
			d.counts.Dropped++
			d.tally.dropped++
			return fmt.Errorf("%w (%d buffered)", ErrBufferFull, len(d.queue))
		}
		if !d.wait(ctx) {
			return fmt.Errorf("client: waiting for room in the session buffer: %w", ctx.Err())
		}
	}
}

// run delivers until the session is closed and every event answered, or
// delivery is abandoned or gives up.
func (d *delivery) run() {
	defer close(d.done)
	for failures := 0; d.ctx.Err() == nil; {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closing {
			if !d.wait(d.ctx) {
				d.mu.Unlock()
				return
			}
		}
		idle := len(d.queue) == 0
		d.mu.Unlock()
		if idle { // closing, nothing left
			return
		}
		progress, err := d.attempt()
		if err == nil || d.ctx.Err() != nil {
			continue // everything answered, or abandoned: the loop's first wait decides
		}
		d.mu.Lock()
		d.lastErr = err
		d.mu.Unlock()
		if progress {
			failures = 0
		}
		failures++
		if !transient(err) || d.retry.Attempts > 0 && failures >= d.retry.Attempts {
			d.mu.Lock()
			d.failed = fmt.Errorf("client: session delivery failed (attempt %d): %w", failures, err)
			d.notify()
			d.mu.Unlock()
			return
		}
		if !sleep(d.ctx, d.retry.wait(failures)) {
			return
		}
	}
}

// attempt runs one Append stream: it sends the queue from its head and
// pops events as they are answered, until the stream ends. It returns
// whether any event was answered, and why the stream ended (nil when it
// was closed with everything answered).
func (d *delivery) attempt() (progress bool, err error) {
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	d.mu.Lock()
	d.counts.Streams++
	d.sent = 0
	d.mu.Unlock()
	a, err := d.c.NewAppender(ctx, WithMaxInFlight(d.maxInFlight), WithMaxRequestSize(d.maxRequest))
	if err != nil {
		return false, err
	}
	var pumpErr error
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		if pumpErr = d.pump(ctx, a); pumpErr != nil {
			cancel()
		}
	}()
	var streamErr error // a reason to end the stream seen in a result
	for r := range a.Results() {
		if streamErr != nil || errors.Is(r.Err, ErrUnacknowledged) {
			continue // still queued: the next stream resends it
		}
		var rej *RejectionError
		if errors.As(r.Err, &rej) && rej.Code == codes.Unavailable {
			// Not appended: the server is going away. It and everything
			// after it go again on the next stream.
			streamErr = rej
			cancel()
			continue
		}
		d.mu.Lock()
		if len(d.queue) == 0 || d.queue[0] != r.Event {
			d.mu.Unlock()
			streamErr = fmt.Errorf("%w: an answer came out of order", ErrProtocol)
			cancel()
			continue
		}
		d.queue[0] = nil
		d.queue = d.queue[1:]
		d.sent--
		d.lastErr = nil
		if rej != nil {
			d.counts.Rejected++
			d.unreported++
			if d.firstUnreported == nil {
				d.firstUnreported = rej
			}
		} else {
			d.counts.Acknowledged++
			if r.Receipt.GetDuplicate() {
				d.counts.Duplicates++
			}
		}
		d.notify()
		d.mu.Unlock()
		progress = true
		if rej != nil && d.onRejected != nil {
			d.onRejected(r.Event, rej)
		}
	}
	cancel()
	<-pumped
	switch {
	case streamErr != nil:
		return progress, streamErr
	case pumpErr != nil:
		return progress, pumpErr
	}
	return progress, a.Err()
}

// pump sends queued events on a as they come, and closes its sending side
// once the session is closing and everything is sent. It returns an error
// only for an event a refused while the stream went on.
func (d *delivery) pump(ctx context.Context, a *Appender) error {
	for {
		d.mu.Lock()
		for d.sent >= len(d.queue) {
			if d.closing {
				d.mu.Unlock()
				return a.CloseSend()
			}
			if !d.wait(ctx) {
				d.mu.Unlock()
				return nil
			}
		}
		ev := d.queue[d.sent]
		d.sent++
		d.mu.Unlock()
		if err := a.Send(ctx, ev); err != nil {
			select {
			case <-a.done:
				return nil // the stream has ended; attempt reports why
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: %w", ErrInvalidEvent, err) // not sent, though it passed the local check
		}
	}
}

// flush waits until the queue is empty, and reports the rejections not yet
// reported.
func (d *delivery) flush(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.queue) > 0 {
		if d.failed != nil {
			return errors.Join(fmt.Errorf("client: flush: %d events unacknowledged: %w", len(d.queue), d.failed), d.takeRejections())
		}
		if !d.wait(ctx) {
			return errors.Join(fmt.Errorf("client: flush: %d events unacknowledged (delivery goes on): %w%s", len(d.queue), ctx.Err(), d.lastFailure()), d.takeRejections())
		}
	}
	return d.takeRejections()
}

// takeRejections returns the error of the rejections not yet reported, if
// any, and counts them reported. d.mu must be held.
func (d *delivery) takeRejections() error {
	if d.unreported == 0 {
		return nil
	}
	err := fmt.Errorf("client: the server refused %d events of the session (not in the log), the first: %w", d.unreported, d.firstUnreported)
	d.unreported, d.firstUnreported = 0, nil
	return err
}

// lastFailure says why the last stream failed, if one did since an event
// was last answered. d.mu must be held.
func (d *delivery) lastFailure() string {
	if d.lastErr == nil {
		return ""
	}
	return fmt.Sprintf("; the last attempt failed: %v", d.lastErr)
}

// DefaultCloseTimeout is how long [Session.Close] waits for the server's
// answers when its context has no deadline.
const DefaultCloseTimeout = 10 * time.Second

// close stops recording, waits for delivery to finish until ctx ends (or
// DefaultCloseTimeout, when ctx has no deadline), and reports what was not
// delivered and the rejections not yet reported.
func (d *delivery) close(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCloseTimeout)
		defer cancel()
	}
	d.mu.Lock()
	d.closing = true
	d.notify()
	d.mu.Unlock()
	select {
	case <-d.done:
	case <-ctx.Done():
		d.cancel()
		<-d.done
	}
	d.cancel()
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	if n := len(d.queue); n > 0 {
		cause := d.failed
		if cause == nil {
			cause = ctx.Err()
			d.failed = fmt.Errorf("%w: delivery stopped by Close: %w", ErrClosed, cause)
			d.notify()
		}
		errs = append(errs, fmt.Errorf("client: session closed with %d events unacknowledged (they are not in the log): %w%s", n, cause, d.lastFailure()))
	}
	errs = append(errs, d.takeRejections())
	return errors.Join(errs...)
}

// abort abandons delivery at once.
func (d *delivery) abort() {
	d.mu.Lock()
	d.closing = true
	d.notify()
	d.mu.Unlock()
	d.cancel()
	<-d.done
}

func (d *delivery) stats() SessionStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.counts
	s.Pending = len(d.queue)
	return s
}
