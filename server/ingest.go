package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store/event"
)

// admit decides whether an event may enter the log, for every way events
// enter (the Append stream; OTLP ingest is to call it too): the event is
// there, is not of a kind only the server writes, is within the caller's
// scope, and holds no secret or personal datum in its metadata
// (redact.CheckMetadata), which every reader sees and which can never be
// masked. The store then validates the rest when the event is submitted.
//
// It returns nil and nil when the event may be submitted; a rejection
// naming the field at fault; or, when the caller's credential no longer
// holds (a key revoked or expired while a stream was open), the status that
// ends the call.
func (s *Server) admit(ctx context.Context, ev *agenttrailv1.Event) (*agenttrailv1.Rejection, error) {
	switch {
	case ev == nil:
		return rejection(codes.InvalidArgument, "event", "event: is required"), nil
	case event.IsServerKind(event.KindOf(ev)):
		return rejection(codes.PermissionDenied, "event.payload", "event.payload: access, erasure, retention and key change events are written only by the server"), nil
	}
	for _, check := range s.cfg.appendChecks {
		if err := check(ctx, ev); err != nil {
			if status.Code(err) == codes.Unauthenticated {
				return nil, err
			}
			return rejection(status.Code(err), "event.agent_id", status.Convert(err).Message()), nil
		}
	}
	if err := redact.CheckMetadata(ev); err != nil {
		var fe *event.FieldError
		if !errors.As(err, &fe) {
			return nil, statusError(ctx, s.log, err)
		}
		return rejection(codes.InvalidArgument, "event."+fe.Field, "event."+fe.Field+": "+fe.Reason), nil
	}
	return nil, nil
}

func rejection(code codes.Code, field, msg string) *agenttrailv1.Rejection {
	return &agenttrailv1.Rejection{Code: int32(code), Message: msg, Field: field}
}
