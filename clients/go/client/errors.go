package client

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors of this package. Functions wrap them with %w and context; test for
// them with errors.Is.
var (
	// ErrInvalidOption: an option or argument was not usable, such as an
	// empty address, an API key with white space, or a negative bound.
	ErrInvalidOption = errors.New("client: invalid option")

	// ErrKeyWithoutTLS: an API key would be sent in plaintext to a
	// non-loopback address. Use TLS ([WithTLS]) or a loopback address.
	ErrKeyWithoutTLS = errors.New("client: refusing to send an API key in plaintext to a non-loopback address")

	// ErrRejected: the server refused an event. The error is a
	// *RejectionError with the server's code, message and field.
	ErrRejected = errors.New("client: event rejected")

	// ErrUnacknowledged: the stream ended before the server answered an
	// event. The event may or may not be stored; resending it with the same
	// id is safe (an identical event gets its original receipt).
	ErrUnacknowledged = errors.New("client: stream ended before the event was acknowledged")

	// ErrClosed: the appender or session was closed (or ended) before the
	// call.
	ErrClosed = errors.New("client: closed")

	// ErrBufferFull: a session whose buffer is full dropped the event, as
	// its FullPolicy DropNewest says. The session counts it (Stats.Dropped).
	ErrBufferFull = errors.New("client: session buffer full, event dropped")

	// ErrInvalidEvent: a Session's event failed the local check before it
	// was buffered. The error also wraps the *event.FieldError of
	// store/event.Validate, which names the field.
	ErrInvalidEvent = errors.New("client: invalid event")

	// ErrProtocol: the server answered in a way the API does not allow,
	// such as a receipt for an event that was not sent.
	ErrProtocol = errors.New("client: protocol violation by the server")
)

// RejectionError is the server's refusal of one event, from
// agenttrail.v1.Rejection. Field names the field at fault. One refusal to
// know: metadata (ids, AgentVersion, ModelId, UserId, tool names, error
// types) is committed in the clear and shown to every reader, so the server
// refuses with INVALID_ARGUMENT an event whose metadata holds an email
// address, a card number, an IBAN, a private key, a password or an API key
// or token. Move such values to content (messages, arguments, results,
// error text), which the developer view masks, and keep UserId
// pseudonymous. It matches [ErrRejected] with errors.Is, and
// status.Code returns its code.
type RejectionError struct {
	// EventID is the id of the event refused (empty when it had none).
	EventID string
	// Code is why, as a gRPC code: InvalidArgument for a malformed event,
	// AlreadyExists for a changed duplicate, PermissionDenied for an event
	// outside the caller's scope, ResourceExhausted for an event over the
	// size limit.
	Code codes.Code
	// Message says what was wrong. The server never repeats the event's
	// content in it.
	Message string
	// Field is the path of the offending field, such as
	// "event.tool_call.tool_name", when one field is at fault.
	Field string
}

// Error implements error.
func (e *RejectionError) Error() string {
	return fmt.Sprintf("client: event %q rejected: %s: %s", e.EventID, e.Code, e.Message)
}

// Is makes every RejectionError match ErrRejected.
func (e *RejectionError) Is(target error) bool { return target == ErrRejected }

// GRPCStatus lets status.Code and status.Convert read the rejection's code
// and message.
func (e *RejectionError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }
