package authz

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agenttrail/agenttrail/server/auth"
)

var errDenied = status.Error(codes.PermissionDenied, "permission denied: this role may not call this method")

// check allows a call when its method is open or the caller's role may
// call it.
func check(ctx context.Context, method string) error {
	if auth.IsOpen(method) {
		return nil
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "missing credentials")
	}
	if !Allowed(method, p.Role) {
		return errDenied
	}
	return nil
}

// UnaryServerInterceptor refuses unary calls the caller's role may not make.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := check(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor refuses streams the caller's role may not open.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := check(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
