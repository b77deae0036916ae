package client

import (
	"context"
	"fmt"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Append sends events on one Append stream, keeping up to
// [DefaultMaxInFlight] in flight, and returns one [Result] per event, in
// the order given: a receipt, or an error matching [ErrRejected] for an
// event the server refused. A refusal does not stop the others.
//
// The error is non-nil when the stream could not be opened (results is
// then nil) or ended early, such as when ctx ends or the connection breaks:
// the events left unanswered then have a Result whose Err matches
// [ErrUnacknowledged]. Resending them, with the same ids, is safe.
func (c *Client) Append(ctx context.Context, events []*agenttrailv1.Event) ([]Result, error) {
	if len(events) == 0 {
		return nil, nil
	}
	a, err := c.NewAppender(ctx, WithMaxInFlight(min(len(events), DefaultMaxInFlight)))
	if err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(events))
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for r := range a.Results() {
			results = append(results, r)
		}
	}()
	var sendErr error
	for _, ev := range events {
		if sendErr = a.Send(ctx, ev); sendErr != nil {
			break
		}
	}
	if err := a.CloseSend(); err != nil && sendErr == nil {
		sendErr = err
	}
	<-collected
	err = a.Err()
	if err == nil {
		err = sendErr
	}
	for _, ev := range events[len(results):] { // never sent
		results = append(results, Result{Event: ev, Err: fmt.Errorf("%w: %w", ErrUnacknowledged, err)})
	}
	return results, err
}
