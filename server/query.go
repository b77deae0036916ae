package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

type queryService struct {
	agenttrailv1.UnimplementedQueryServiceServer
	s *Server
}

// Query implements agenttrailv1.QueryServiceServer: it streams the matching
// entries in the caller's view, in log order, and with follow goes on with
// new ones as they commit until the caller cancels or the server shuts
// down. A client that stops reading holds no read transaction open for
// longer than the send timeout.
func (q *queryService) Query(req *agenttrailv1.QueryRequest, stream agenttrailv1.QueryService_QueryServer) error {
	s := q.s
	ctx := stream.Context()
	view, err := s.cfg.views(ctx)
	if err != nil {
		return err
	}
	if fv, ok := view.(FullView); ok && req.GetEventFromCommitment() {
		fv.EventFromCommitment = true // the caller rebuilds the event
		view = fv
	}
	sq, err := storeQuery(req)
	if err != nil {
		return statusError(ctx, s.log, err)
	}
	sq.Read = view.Read()
	// A view that encodes entries from their bytes needs no decoded
	// header (entryEncoder); an entry it cannot encode is decoded below.
	_, sq.LeanHeader = view.(entryEncoder)
	proveSize, err := q.proofTreeSize(req)
	if err != nil {
		return statusError(ctx, s.log, err)
	}
	if proveSize > 0 && (sq.Filter.ToIndex == 0 || sq.Filter.ToIndex > proveSize) {
		sq.Filter.ToIndex = proveSize
	}
	var prover *store.Prover
	if proveSize > 0 {
		// One prover for the call: the proofs of a range share their
		// hashes, read once per block of leaves.
		if prover, err = s.st.Prover(proveSize); err != nil {
			return statusError(ctx, s.log, err)
		}
	}
	shutdownCtx, cancel := s.untilShutdown(ctx)
	defer cancel()
	scanCtx, cancelScan := context.WithCancelCause(shutdownCtx)
	defer cancelScan(nil)
	err = s.supervise(ctx, func(w *watchdog) error {
		out := &itemSender{w: w, send: stream.SendMsg, batch: req.GetBatch(), messages: s.cfg.streamMessages}
		enc, _ := view.(entryEncoder)
		var sendErr error
		checked := time.Now()
		if req.GetFollow() {
			sq.CaughtUp = func(size uint64) {
				if sendErr == nil {
					sendErr = out.add(&agenttrailv1.QueryResponse{Item: &agenttrailv1.QueryResponse_CaughtUp{CaughtUp: &agenttrailv1.CaughtUp{TreeSize: size}}})
				}
			}
			// What a following scan has gathered goes out before it
			// waits for the next commit: a tail sees each commit at once.
			sq.Idle = func() {
				if sendErr == nil {
					sendErr = out.flush()
				}
			}
		}
		if req.GetFollow() {
			// A tail can outlive its key: end it when the key is
			// revoked, even while no event arrives.
			go func() {
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for {
					select {
					case <-scanCtx.Done():
						return
					case <-t.C:
						if err := s.stillValid(ctx); err != nil {
							cancelScan(err)
							return
						}
					}
				}
			}()
		}
		for e, err := range s.st.Scan(scanCtx, sq) {
			if sendErr != nil {
				return sendErr
			}
			if err != nil {
				if ferr := out.flush(); ferr != nil {
					return ferr
				}
				return err
			}
			if time.Since(checked) > time.Second {
				if err := s.stillValid(ctx); err != nil {
					return err
				}
				checked = time.Now()
			}
			var proof *agenttrailv1.GetInclusionProofResponse
			if prover != nil {
				if proof, err = inclusionProof(scanCtx, prover, e); err != nil {
					return err
				}
			}
			if enc != nil && view.Shows(e) {
				var ok bool
				if out.entry, ok = enc.appendEntry(out.entry[:0], e); ok {
					if err := out.addEntry(e.Index, out.entry, proof); err != nil {
						return err
					}
					continue
				}
			}
			if err := e.DecodeHeader(); err != nil {
				return err
			}
			resp, err := queryItem(view, e)
			if err != nil {
				return err
			}
			resp.InclusionProof = proof
			if err := out.add(resp); err != nil {
				return err
			}
		}
		if sendErr != nil {
			return sendErr
		}
		return out.flush()
	})
	switch {
	case err == nil:
		return nil
	case status.Code(context.Cause(scanCtx)) == codes.Unauthenticated, status.Code(context.Cause(scanCtx)) == codes.Unavailable:
		return context.Cause(scanCtx)
	case errors.Is(context.Cause(scanCtx), errShuttingDown):
		return status.Error(codes.Unavailable, "the server is shutting down; resume after the last log index received")
	}
	return statusError(ctx, s.log, err)
}

// proofTreeSize checks QueryRequest.proof_tree_size: zero when unset.
func (q *queryService) proofTreeSize(req *agenttrailv1.QueryRequest) (uint64, error) {
	if req.ProofTreeSize == nil {
		return 0, nil
	}
	size := req.GetProofTreeSize()
	switch cur, _ := q.s.st.Size(); {
	case req.GetFollow():
		return 0, badRequest("proof_tree_size", "cannot be set with follow: a live tail goes beyond any tree size")
	case size == 0:
		return 0, badRequest("proof_tree_size", "must be at least 1 (the size of a tree that holds the entries)")
	case size > cur:
		return 0, badRequest("proof_tree_size", "is larger than the log")
	}
	return size, nil
}

// inclusionProof proves the entry e is in the prover's tree.
func inclusionProof(ctx context.Context, p *store.Prover, e *store.Entry) (*agenttrailv1.GetInclusionProofResponse, error) {
	path, err := p.InclusionProof(ctx, e.Index)
	if err != nil {
		return nil, err
	}
	return &agenttrailv1.GetInclusionProofResponse{LogIndex: e.Index, TreeSize: p.TreeSize(), LeafHash: e.LeafHash[:], Hashes: hashList(path)}, nil
}

// queryItem is what Query sends for a stored entry: the entry in the view,
// or, when the view may not show it, a withheld leaf (its index and leaf
// hash), so that the caller can still prove the entries around it.
func queryItem(view View, e *store.Entry) (*agenttrailv1.QueryResponse, error) {
	if !view.Shows(e) {
		return &agenttrailv1.QueryResponse{Item: &agenttrailv1.QueryResponse_Withheld{Withheld: &agenttrailv1.WithheldEntry{
			LogIndex: e.Index,
			LeafHash: e.LeafHash[:],
		}}}, nil
	}
	entry, err := view.Render(e)
	if err != nil {
		return nil, err
	}
	return &agenttrailv1.QueryResponse{Item: &agenttrailv1.QueryResponse_Entry{Entry: entry}}, nil
}

// GetEvent implements agenttrailv1.QueryServiceServer. An entry the caller's
// view may not show is not found: GetEvent names one event, and a withheld
// leaf is useful only among its neighbours, which Query returns.
func (q *queryService) GetEvent(ctx context.Context, req *agenttrailv1.GetEventRequest) (*agenttrailv1.GetEventResponse, error) {
	s := q.s
	view, err := s.cfg.views(ctx)
	if err != nil {
		return nil, err
	}
	var e *store.Entry
	switch key := req.GetKey().(type) {
	case *agenttrailv1.GetEventRequest_EventId:
		if !event.IsID(key.EventId) {
			return nil, statusError(ctx, s.log, badRequest("event_id", "must be an event id: 1 to 128 characters from [A-Za-z0-9._:-]"))
		}
		e, err = s.st.GetByID(ctx, key.EventId, view.Read())
	case *agenttrailv1.GetEventRequest_LogIndex:
		e, err = s.st.Get(ctx, key.LogIndex, view.Read())
	default:
		return nil, statusError(ctx, s.log, badRequest("key", "set event_id or log_index"))
	}
	if err != nil {
		return nil, statusError(ctx, s.log, err)
	}
	if !view.Shows(e) {
		return nil, status.Error(codes.NotFound, "not found")
	}
	entry, err := view.Render(e)
	if err != nil {
		return nil, statusError(ctx, s.log, err)
	}
	return &agenttrailv1.GetEventResponse{Entry: entry}, nil
}

// storeQuery checks a QueryRequest and turns it into a store query.
// StoreQuery is the store query a QueryRequest asks for, checked as Query
// checks it, for tools that read a store directly (export from storage).
// Its errors name the field and what was expected.
func StoreQuery(req *agenttrailv1.QueryRequest) (store.Query, error) { return storeQuery(req) }

func storeQuery(req *agenttrailv1.QueryRequest) (store.Query, error) {
	f := req.GetFilter()
	q := store.Query{
		Limit:  int(req.GetLimit()),
		Follow: req.GetFollow(),
		Filter: store.Filter{
			SessionID:  f.GetSessionId(),
			AgentID:    f.GetAgentId(),
			UserID:     f.GetUserId(),
			ToolName:   f.GetToolName(),
			ErrorsOnly: f.GetErrorsOnly(),
			FromIndex:  f.GetFromIndex(),
		},
	}
	for _, id := range []struct{ field, v string }{
		{"filter.session_id", f.GetSessionId()},
		{"filter.agent_id", f.GetAgentId()},
		{"filter.user_id", f.GetUserId()},
	} {
		if id.v != "" && !event.IsID(id.v) {
			return q, badRequest(id.field, "must be an id: 1 to 128 characters from [A-Za-z0-9._:-]")
		}
	}
	if len(f.GetToolName()) > 256 {
		return q, badRequest("filter.tool_name", "must be at most 256 bytes")
	}
	if len(f.GetKinds()) > 32 {
		return q, badRequest("filter.kinds", "at most 32 kinds")
	}
	for _, k := range f.GetKinds() {
		if _, ok := agenttrailv1.EventKind_name[int32(k)]; !ok || k == agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED {
			return q, badRequest("filter.kinds", "each kind must be a defined EventKind other than EVENT_KIND_UNSPECIFIED")
		}
		q.Filter.Kinds = append(q.Filter.Kinds, k)
	}
	if t := f.GetOccurredAfter(); t != nil {
		if t.CheckValid() != nil {
			return q, badRequest("filter.occurred_after", "must be a valid timestamp")
		}
		q.Filter.OccurredAfter = t.AsTime()
	}
	if t := f.GetOccurredBefore(); t != nil {
		if t.CheckValid() != nil {
			return q, badRequest("filter.occurred_before", "must be a valid timestamp")
		}
		q.Filter.OccurredBefore = t.AsTime()
	}
	if !q.Filter.OccurredAfter.IsZero() && !q.Filter.OccurredBefore.IsZero() && !q.Filter.OccurredBefore.After(q.Filter.OccurredAfter) {
		return q, badRequest("filter.occurred_before", "must be after filter.occurred_after")
	}
	if f != nil && f.ToIndex != nil {
		if f.GetToIndex() <= f.GetFromIndex() {
			return q, badRequest("filter.to_index", "must be greater than filter.from_index")
		}
		q.Filter.ToIndex = f.GetToIndex()
	}
	switch req.GetOrder() {
	case agenttrailv1.Order_ORDER_UNSPECIFIED, agenttrailv1.Order_ORDER_ASCENDING:
	case agenttrailv1.Order_ORDER_DESCENDING:
		q.Descending = true
	default:
		return q, badRequest("order", "must be ORDER_ASCENDING or ORDER_DESCENDING")
	}
	if q.Follow && q.Descending {
		return q, badRequest("follow", "needs ascending order")
	}
	if req.ResumeAfter != nil {
		after := req.GetResumeAfter()
		q.After = &after
	}
	return q, nil
}
