package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// A QueryOption configures [Client.Query] and [Client.Tail].
type QueryOption interface {
	applyToQuery(*queryConfig) error
}

type queryOption func(*queryConfig) error

func (f queryOption) applyToQuery(c *queryConfig) error { return f(c) }

type queryConfig struct {
	resume   bool
	retry    RetryPolicy
	caughtUp func(treeSize uint64)
	withheld func(*agenttrailv1.WithheldEntry)
	proofs   func(*agenttrailv1.GetInclusionProofResponse)
	// eventsInCommitment: entries sent without their event keep it in
	// their commitment (WithEventsInCommitment).
	eventsInCommitment bool
}

// WithResume makes a query go on where it stopped when its stream fails
// with a transient error (UNAVAILABLE, as when the server restarts;
// RESOURCE_EXHAUSTED; ABORTED): after a wait set by p it opens a new
// stream with resume_after set to the last log index received (and the
// limit reduced by the entries already received), so no entry is returned
// twice or skipped. It gives up after p.Attempts attempts in a row that
// receive nothing, or when the context ends.
func WithResume(p RetryPolicy) QueryOption {
	return queryOption(func(c *queryConfig) error {
		p, err := p.withDefaults()
		if err != nil {
			return err
		}
		c.resume, c.retry = true, p
		return nil
	})
}

// WithCaughtUp calls f when a following query (Tail, or Query with follow
// set) has returned every stored match and turns to new entries, with the
// size of the log at that point. It is called once per stream, so again
// after a resume; from the goroutine iterating, before the next entry.
func WithCaughtUp(f func(treeSize uint64)) QueryOption {
	return queryOption(func(c *queryConfig) error {
		if f == nil {
			return fmt.Errorf("%w: nil caught-up function", ErrInvalidOption)
		}
		c.caughtUp = f
		return nil
	})
}

// WithWithheld calls f with each matching entry that the caller's view may
// not show (for a developer, other principals' access records): the server
// sends its log index and leaf hash in its place in log order, so that a
// reader can prove it with [Verifier.VerifyWithheld] and tell it from an
// entry the server failed to send. f is called from the goroutine
// iterating, in log order between the entries yielded. Without this
// option withheld entries are skipped.
func WithWithheld(f func(*agenttrailv1.WithheldEntry)) QueryOption {
	return queryOption(func(c *queryConfig) error {
		if f == nil {
			return fmt.Errorf("%w: nil withheld function", ErrInvalidOption)
		}
		c.withheld = f
		return nil
	})
}

// WithInclusionProofs, for a query with proof_tree_size set, calls f with
// the inclusion proof of each entry and withheld entry against the tree of
// that size, just before the entry is yielded (or passed to
// [WithWithheld]'s function), from the goroutine iterating. The server
// sends the proofs with the entries, so that a whole range is read and
// proved in one call (and one access record); from a server that predates
// proof_tree_size the client fetches each proof with [Client.InclusionProof].
// Check each with [Verifier.VerifyEntry] or [Verifier.VerifyWithheld].
func WithInclusionProofs(f func(*agenttrailv1.GetInclusionProofResponse)) QueryOption {
	return queryOption(func(c *queryConfig) error {
		if f == nil {
			return fmt.Errorf("%w: nil inclusion proof function", ErrInvalidOption)
		}
		c.proofs = f
		return nil
	})
}

// WithEventsInCommitment yields the full view's entries as the server
// sends them: without Entry.event, which is exactly the event of the
// entry's commitment (its header's event with its content merged in).
// Without this option the client decodes and sets each one; a reader that
// does not look at the events, such as a tail that only follows progress
// or a copier that keeps the commitments as they are, spares that work and
// rebuilds an event when it needs it with [EntryEvent]. Entries of the
// other views, and from servers that predate event_from_commitment, still
// carry their event.
func WithEventsInCommitment() QueryOption {
	return queryOption(func(c *queryConfig) error {
		c.eventsInCommitment = true
		return nil
	})
}

// Query streams the entries that match req, in log order, as an iterator:
//
//	for entry, err := range c.Query(ctx, req) {
//		if err != nil {
//			return err
//		}
//		...
//	}
//
// An error is the last thing the iterator yields. Breaking out of the loop
// ends the stream. req is not modified. With req.follow set, the query
// goes on with new entries as they commit until ctx ends (see Tail); it
// then yields ctx's error.
func (c *Client) Query(ctx context.Context, req *agenttrailv1.QueryRequest, opts ...QueryOption) iter.Seq2[*agenttrailv1.Entry, error] {
	return func(yield func(*agenttrailv1.Entry, error) bool) {
		var cfg queryConfig
		for _, o := range opts {
			if err := o.applyToQuery(&cfg); err != nil {
				yield(nil, err)
				return
			}
		}
		if req == nil {
			req = &agenttrailv1.QueryRequest{}
		}
		req = proto.Clone(req).(*agenttrailv1.QueryRequest)
		if cfg.proofs != nil && req.ProofTreeSize == nil {
			yield(nil, fmt.Errorf("%w: WithInclusionProofs needs the request's proof_tree_size", ErrInvalidOption))
			return
		}
		// Items come in batches from servers that send them so (older
		// ones ignore the field and send one per response).
		req.Batch = true
		// The full view's entries come without their event, which is
		// rebuilt from the commitment (entryEvent): each content is
		// received once. Older servers ignore the field and send it.
		req.EventFromCommitment = true
		limit := req.GetLimit()
		var received uint32
		for failures := 0; ; {
			n, err := c.queryOnce(ctx, req, &cfg, yield)
			if err == nil {
				return
			}
			received += n
			if limit > 0 && received >= limit {
				return // everything asked for came before the failure
			}
			if n > 0 {
				failures = 0
			}
			failures++
			if !cfg.resume || !transient(err) || ctx.Err() != nil ||
				cfg.retry.Attempts > 0 && failures >= cfg.retry.Attempts {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(nil, fmt.Errorf("client: query: %w", err))
				return
			}
			if !sleep(ctx, cfg.retry.wait(failures)) {
				yield(nil, fmt.Errorf("client: query: %w", ctx.Err()))
				return
			}
			if limit > 0 {
				req.Limit = limit - received
			}
		}
	}
}

// queryOnce runs one Query stream, yielding its entries and recording the
// last index in req.resume_after. It returns the entries yielded (withheld
// ones included) and nil
// when the stream ended normally or the caller stopped, or the stream's
// error.
func (c *Client) queryOnce(ctx context.Context, req *agenttrailv1.QueryRequest, cfg *queryConfig, yield func(*agenttrailv1.Entry, error) bool) (uint32, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.query.Query(ctx, req, grpc.ForceCodecV2(frameCodec{}))
	if err != nil {
		return 0, err
	}
	var n uint32
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if resp.GetItem() != nil {
			if more, err := c.queryItem(ctx, req, cfg, resp, &n, yield); !more || err != nil {
				return n, err
			}
		}
		for _, item := range resp.GetBatch() {
			if more, err := c.queryItem(ctx, req, cfg, item, &n, yield); !more || err != nil {
				return n, err
			}
		}
	}
}

// queryItem handles one item of a Query stream (a response's own, or one
// of its batch), counting it in n and recording its index in
// req.resume_after. It reports false when the caller stopped.
func (c *Client) queryItem(ctx context.Context, req *agenttrailv1.QueryRequest, cfg *queryConfig, resp *agenttrailv1.QueryResponse, n *uint32, yield func(*agenttrailv1.Entry, error) bool) (bool, error) {
	switch item := resp.GetItem().(type) {
	case *agenttrailv1.QueryResponse_Entry:
		idx := item.Entry.GetStamp().GetLogIndex()
		if !cfg.eventsInCommitment {
			if err := rebuildEvent(item.Entry); err != nil {
				return false, fmt.Errorf("entry %d: %w", idx, err)
			}
		}
		if err := c.passProof(ctx, req, cfg, resp, idx); err != nil {
			return false, err
		}
		setResumeAfter(req, idx)
		*n++
		if !yield(item.Entry, nil) {
			return false, nil
		}
	case *agenttrailv1.QueryResponse_CaughtUp:
		if cfg.caughtUp != nil {
			cfg.caughtUp(item.CaughtUp.GetTreeSize())
		}
	case *agenttrailv1.QueryResponse_Withheld:
		// A withheld entry is a place in the log the stream has
		// passed: a resumed stream goes on after it.
		// It counts towards the limit, as the server counts it.
		idx := item.Withheld.GetLogIndex()
		if err := c.passProof(ctx, req, cfg, resp, idx); err != nil {
			return false, err
		}
		setResumeAfter(req, idx)
		*n++
		if cfg.withheld != nil {
			cfg.withheld(item.Withheld)
		}
	}
	return true, nil
}

// setResumeAfter records index in req.resume_after, in place once it is
// set: one allocation per stream, not one per entry.
func setResumeAfter(req *agenttrailv1.QueryRequest, index uint64) {
	if req.ResumeAfter == nil {
		req.ResumeAfter = new(uint64)
	}
	*req.ResumeAfter = index
}

// passProof hands the inclusion proof of the item at index to
// WithInclusionProofs' function, fetching it when the server sent none.
func (c *Client) passProof(ctx context.Context, req *agenttrailv1.QueryRequest, cfg *queryConfig, resp *agenttrailv1.QueryResponse, index uint64) error {
	if cfg.proofs == nil {
		return nil
	}
	proof := resp.GetInclusionProof()
	if proof == nil {
		var err error
		if proof, err = c.InclusionProof(ctx, index, req.GetProofTreeSize()); err != nil {
			return err
		}
	}
	cfg.proofs(proof)
	return nil
}

// Tail follows the log: it streams the stored entries that match filter,
// then new ones as they commit, until ctx ends, when it yields ctx's error
// (context.Canceled after a cancel). resumeAfter, when not nil, starts
// after that log index. Use [WithResume] to ride out server restarts and
// [WithCaughtUp] to learn when the stream turns live.
func (c *Client) Tail(ctx context.Context, filter *agenttrailv1.Filter, resumeAfter *uint64, opts ...QueryOption) iter.Seq2[*agenttrailv1.Entry, error] {
	req := &agenttrailv1.QueryRequest{Filter: filter, Follow: true, ResumeAfter: resumeAfter}
	return c.Query(ctx, req, opts...)
}

// GetEvent returns the entry of the event with the given id, in the
// caller's view. A missing event is a NotFound status.
func (c *Client) GetEvent(ctx context.Context, eventID string) (*agenttrailv1.Entry, error) {
	if eventID == "" {
		return nil, fmt.Errorf("%w: empty event id", ErrInvalidOption)
	}
	resp, err := c.query.GetEvent(ctx, &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_EventId{EventId: eventID}})
	if err != nil {
		return nil, fmt.Errorf("client: get event %q: %w", eventID, err)
	}
	return resp.GetEntry(), nil
}

// GetEventByIndex returns the entry at a log index, in the caller's view.
// An index beyond the log is a NotFound status.
func (c *Client) GetEventByIndex(ctx context.Context, index uint64) (*agenttrailv1.Entry, error) {
	resp, err := c.query.GetEvent(ctx, &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_LogIndex{LogIndex: index}})
	if err != nil {
		return nil, fmt.Errorf("client: get event at %d: %w", index, err)
	}
	return resp.GetEntry(), nil
}
