package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

// statusError is the one place where errors become gRPC statuses. Store
// sentinels map to codes with errors.Is; messages are fixed per code, except
// for validation errors, whose messages name a field and what was expected
// and never repeat its value (event.FieldError, requestError). The full
// error is logged with the method, never returned.
func statusError(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status, made by this package
	}
	var fe *event.FieldError
	var re *requestError
	var se *store.SpaceError
	switch {
	case errors.As(err, &fe):
		return status.Error(codes.InvalidArgument, "event."+fe.Field+": "+fe.Reason)
	case errors.As(err, &re):
		return status.Error(codes.InvalidArgument, re.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the call's deadline passed")
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, "not found")
	case errors.Is(err, store.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, "an event with this event_id exists with different content")
	case errors.Is(err, store.ErrTooLarge):
		return status.Error(codes.ResourceExhausted, "the event is larger than the server accepts")
	case errors.As(err, &se):
		// Figures only: how much is free and how much must be.
		return status.Error(codes.ResourceExhausted, se.Error()+"; reads go on, and appends resume once space is freed: retry later")
	case errors.Is(err, store.ErrNoSpace):
		return status.Error(codes.ResourceExhausted, "disk almost full; reads go on, and appends resume once space is freed: retry later")
	case errors.Is(err, store.ErrInvalidArgument):
		log.DebugContext(ctx, "invalid argument reached the store", slog.Any("error", err))
		return status.Error(codes.InvalidArgument, "the request is outside what the log holds")
	case errors.Is(err, store.ErrClosed), errors.Is(err, errShuttingDown):
		return status.Error(codes.Unavailable, "the server is shutting down; retry on another connection")
	case errors.Is(err, store.ErrUnavailable):
		log.WarnContext(ctx, "storage unavailable", slog.Any("error", err))
		return status.Error(codes.Unavailable, "the storage is unreachable; the events may not be stored: append them again with the same event ids")
	case errors.Is(err, store.ErrFailed):
		log.ErrorContext(ctx, "store failed", slog.Any("error", err))
		return status.Error(codes.Unavailable, "the server cannot write; events not acknowledged were not stored")
	case errors.Is(err, store.ErrCorrupt):
		log.ErrorContext(ctx, "stored data is corrupt", slog.Any("error", err))
		return status.Error(codes.DataLoss, "stored data failed an integrity check; an operator has been alerted")
	}
	log.ErrorContext(ctx, "internal error", slog.Any("error", err))
	return status.Error(codes.Internal, "internal error")
}

// errShuttingDown ends calls when the server shuts down.
var errShuttingDown = errors.New("server: shutting down")

// requestError is a malformed request: its message names the field and
// says what was expected.
type requestError struct {
	field, reason string
}

func (e *requestError) Error() string { return e.field + ": " + e.reason }

func badRequest(field, reason string) error { return &requestError{field: field, reason: reason} }
