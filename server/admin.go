package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/store"
)

type adminService struct {
	agenttrailv1.UnimplementedAdminServiceServer
	s *Server
}

func caller(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.Name
	}
	return "anonymous"
}

// CreateKey implements agenttrailv1.AdminServiceServer.
func (a *adminService) CreateKey(ctx context.Context, req *agenttrailv1.CreateKeyRequest) (*agenttrailv1.CreateKeyResponse, error) {
	spec := auth.KeySpec{Principal: req.GetPrincipal(), Role: auth.RoleFromMessage(req.GetRole()), AgentID: req.GetAgentId()}
	if req.GetExpiresAt() != nil {
		if req.GetExpiresAt().CheckValid() != nil {
			return nil, statusError(ctx, a.s.log, badRequest("expires_at", "must be a valid timestamp"))
		}
		spec.ExpiresAt = req.GetExpiresAt().AsTime()
	}
	c, secret, err := auth.CreateKey(ctx, a.s.st, spec, caller(ctx), a.s.now())
	if errors.Is(err, auth.ErrInvalidKeySpec) {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err != nil {
		return nil, statusError(ctx, a.s.log, err)
	}
	a.s.log.InfoContext(ctx, "API key created", slog.String("key_id", c.ID), slog.String("principal", c.Principal), slog.String("role", c.Role), slog.String("by", caller(ctx)))
	return &agenttrailv1.CreateKeyResponse{Key: auth.KeyMessage(c), Secret: secret}, nil
}

// ListKeys implements agenttrailv1.AdminServiceServer.
func (a *adminService) ListKeys(ctx context.Context, _ *agenttrailv1.ListKeysRequest) (*agenttrailv1.ListKeysResponse, error) {
	cs, err := a.s.st.Credentials(ctx)
	if err != nil {
		return nil, statusError(ctx, a.s.log, err)
	}
	resp := &agenttrailv1.ListKeysResponse{}
	for _, c := range cs {
		resp.Keys = append(resp.Keys, auth.KeyMessage(c))
	}
	return resp, nil
}

// RevokeKey implements agenttrailv1.AdminServiceServer.
func (a *adminService) RevokeKey(ctx context.Context, req *agenttrailv1.RevokeKeyRequest) (*agenttrailv1.RevokeKeyResponse, error) {
	if len(req.GetKeyId()) != 16 {
		return nil, statusError(ctx, a.s.log, badRequest("key_id", "must be a key id: 16 hex digits"))
	}
	c, err := auth.RevokeKey(ctx, a.s.st, req.GetKeyId(), caller(ctx), a.s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, status.Error(codes.NotFound, "no key with this key_id")
	}
	if err != nil {
		return nil, statusError(ctx, a.s.log, err)
	}
	a.s.log.InfoContext(ctx, "API key revoked", slog.String("key_id", c.ID), slog.String("by", caller(ctx)))
	return &agenttrailv1.RevokeKeyResponse{Key: auth.KeyMessage(c)}, nil
}
