package server

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

// lifecycleService serves LifecycleService: erasure, legal holds and
// retention policies, each recorded in the trail by the store.
type lifecycleService struct {
	agenttrailv1.UnimplementedLifecycleServiceServer
	s *Server
}

// lifecycleError turns the store's answer to a lifecycle request into a
// status. The store's messages for these requests name the request's own
// fields and never stored content, so they are passed on.
func (l *lifecycleService) lifecycleError(ctx context.Context, err error) error {
	var held *store.HeldError
	switch {
	case errors.As(err, &held):
		return status.Errorf(codes.FailedPrecondition, "erasure refused: legal hold %s (%s) covers event %d, which it would erase; release the hold first", held.Hold.ID, held.Hold.Scope, held.Index)
	case errors.Is(err, store.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, strings.TrimPrefix(err.Error(), store.ErrInvalidArgument.Error()+": "))
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, strings.TrimPrefix(err.Error(), store.ErrNotFound.Error()+": "))
	case errors.Is(err, store.ErrConflict):
		return status.Error(codes.FailedPrecondition, strings.TrimPrefix(err.Error(), store.ErrConflict.Error()+": "))
	}
	return statusError(ctx, l.s.log, err)
}

// Erase implements agenttrailv1.LifecycleServiceServer.
func (l *lifecycleService) Erase(ctx context.Context, req *agenttrailv1.EraseRequest) (*agenttrailv1.EraseResponse, error) {
	r := store.ErasureRequest{Principal: caller(ctx), Reason: req.GetReason()}
	switch t := req.GetTarget().(type) {
	case *agenttrailv1.EraseRequest_UserId:
		r.UserID = t.UserId
		if r.UserID == "" {
			return nil, statusError(ctx, l.s.log, badRequest("user_id", "must not be empty"))
		}
	case *agenttrailv1.EraseRequest_SessionId:
		r.SessionID = t.SessionId
		if r.SessionID == "" {
			return nil, statusError(ctx, l.s.log, badRequest("session_id", "must not be empty"))
		}
	case *agenttrailv1.EraseRequest_EventIds:
		r.EventIDs = t.EventIds.GetEventIds()
		if len(r.EventIDs) == 0 {
			return nil, statusError(ctx, l.s.log, badRequest("event_ids", "must list at least one event id"))
		}
	default:
		return nil, statusError(ctx, l.s.log, badRequest("target", "set user_id, session_id or event_ids"))
	}
	res, err := l.s.st.Erase(ctx, r)
	if err != nil && res.Index == 0 {
		return nil, l.lifecycleError(ctx, err)
	}
	if err != nil {
		// Logged, and finishing on the next start: the caller may retry.
		l.s.log.ErrorContext(ctx, "erasure logged but not finished", slog.Uint64("erasure_index", res.Index), slog.Any("error", err))
		return nil, status.Errorf(codes.Unavailable, "the erasure is logged at index %d but its keys could not all be destroyed yet; it finishes when the server restarts, and retrying is safe", res.Index)
	}
	resp := &agenttrailv1.EraseResponse{Count: res.Count, AlreadyErased: res.AlreadyErased}
	if res.Count > 0 {
		resp.ErasureIndex = &res.Index
	}
	l.s.log.InfoContext(ctx, "erasure", slog.String("by", r.Principal), slog.Uint64("erasure_index", res.Index), slog.Uint64("count", res.Count), slog.Bool("already_erased", res.AlreadyErased))
	return resp, nil
}

func holdMessage(h store.Hold) *agenttrailv1.Hold {
	return &agenttrailv1.Hold{
		HoldId: h.ID, UserId: h.Scope.UserID, SessionId: h.Scope.SessionID, AgentId: h.Scope.AgentID,
		PlacedBy: h.PlacedBy, PlacedAt: timestamppb.New(h.PlacedAt), LogIndex: h.Index, Reason: h.Reason,
	}
}

// PlaceHold implements agenttrailv1.LifecycleServiceServer.
func (l *lifecycleService) PlaceHold(ctx context.Context, req *agenttrailv1.PlaceHoldRequest) (*agenttrailv1.PlaceHoldResponse, error) {
	var scope store.HoldScope
	switch s := req.GetScope().(type) {
	case *agenttrailv1.PlaceHoldRequest_UserId:
		scope.UserID = s.UserId
	case *agenttrailv1.PlaceHoldRequest_SessionId:
		scope.SessionID = s.SessionId
	case *agenttrailv1.PlaceHoldRequest_AgentId:
		scope.AgentID = s.AgentId
	default:
		return nil, statusError(ctx, l.s.log, badRequest("scope", "set user_id, session_id or agent_id"))
	}
	h, err := l.s.st.PlaceHold(ctx, caller(ctx), scope, req.GetReason())
	if err != nil {
		return nil, l.lifecycleError(ctx, err)
	}
	l.s.log.InfoContext(ctx, "legal hold placed", slog.String("hold_id", h.ID), slog.String("by", h.PlacedBy))
	return &agenttrailv1.PlaceHoldResponse{Hold: holdMessage(h)}, nil
}

// ReleaseHold implements agenttrailv1.LifecycleServiceServer.
func (l *lifecycleService) ReleaseHold(ctx context.Context, req *agenttrailv1.ReleaseHoldRequest) (*agenttrailv1.ReleaseHoldResponse, error) {
	if req.GetHoldId() == "" || len(req.GetHoldId()) > 64 {
		return nil, statusError(ctx, l.s.log, badRequest("hold_id", "must be a hold id, such as hold-1"))
	}
	h, index, err := l.s.st.ReleaseHold(ctx, caller(ctx), req.GetHoldId(), req.GetReason())
	if err != nil {
		return nil, l.lifecycleError(ctx, err)
	}
	l.s.log.InfoContext(ctx, "legal hold released", slog.String("hold_id", h.ID), slog.String("by", caller(ctx)))
	return &agenttrailv1.ReleaseHoldResponse{Hold: holdMessage(h), LogIndex: index}, nil
}

// ListHolds implements agenttrailv1.LifecycleServiceServer.
func (l *lifecycleService) ListHolds(ctx context.Context, _ *agenttrailv1.ListHoldsRequest) (*agenttrailv1.ListHoldsResponse, error) {
	resp := &agenttrailv1.ListHoldsResponse{}
	for _, h := range l.s.st.Holds() {
		resp.Holds = append(resp.Holds, holdMessage(h))
	}
	return resp, nil
}

// GetRetention implements agenttrailv1.LifecycleServiceServer.
func (l *lifecycleService) GetRetention(ctx context.Context, _ *agenttrailv1.GetRetentionRequest) (*agenttrailv1.GetRetentionResponse, error) {
	ps := l.s.st.Retention()
	resp := &agenttrailv1.GetRetentionResponse{Version: ps.Version, LogIndex: ps.Index}
	for _, p := range ps.Policies {
		resp.Policies = append(resp.Policies, store.PolicyMessage(p))
	}
	return resp, nil
}

// SetRetention implements agenttrailv1.LifecycleServiceServer.
func (l *lifecycleService) SetRetention(ctx context.Context, req *agenttrailv1.SetRetentionRequest) (*agenttrailv1.SetRetentionResponse, error) {
	var ps []store.RetentionPolicy
	for i, m := range req.GetPolicies() {
		if m.GetKeepFor() == nil || m.GetKeepFor().CheckValid() != nil {
			return nil, statusError(ctx, l.s.log, badRequest("policies["+strconv.Itoa(i)+"].keep_for", "must be a valid duration of at least a day"))
		}
		ps = append(ps, store.PolicyFromMessage(m))
	}
	got, err := l.s.st.SetRetention(ctx, caller(ctx), ps, req.IfVersion)
	if err != nil {
		return nil, l.lifecycleError(ctx, err)
	}
	l.s.log.InfoContext(ctx, "retention policies set", slog.Uint64("version", got.Version), slog.Int("policies", len(got.Policies)), slog.String("by", caller(ctx)))
	return &agenttrailv1.SetRetentionResponse{Version: got.Version, LogIndex: got.Index}, nil
}

// ApplyRetention implements agenttrailv1.LifecycleServiceServer.
func (l *lifecycleService) ApplyRetention(ctx context.Context, _ *agenttrailv1.ApplyRetentionRequest) (*agenttrailv1.ApplyRetentionResponse, error) {
	runs, err := l.s.st.ApplyRetention(ctx)
	resp := &agenttrailv1.ApplyRetentionResponse{}
	for _, r := range runs {
		resp.Runs = append(resp.Runs, &agenttrailv1.RetentionRun{Policy: r.Policy, Cutoff: timestamppb.New(r.Cutoff), Count: r.Count, LogIndex: r.Index})
	}
	if err != nil {
		return nil, l.lifecycleError(ctx, err)
	}
	return resp, nil
}
