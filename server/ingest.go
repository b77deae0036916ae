package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

// intake is one call's events on their way into the log: those refused at
// once, and the store's ticket for the others.
type intake struct {
	s          *Server
	ids        []string
	events     []*agenttrailv1.Event // nil for a request that did not decode
	start      time.Time
	rejections []*agenttrailv1.Rejection // by event; nil for an event handed to the store
	admitted   []int                     // indexes of the events handed to the store, in order
	tickets    []*store.Ticket           // for admitted, in chunks of submitChunk events
	bytes      int64                     // taken from the server's in-flight budget
	batch      bool                      // the events came in a batched frame: answered by one response
	units      int                       // taken from the Append stream's window
	once       sync.Once
}

// ingest is the one path by which events from callers enter the log: the
// Append stream, OTLP/gRPC and OTLP/HTTP all go through it, so that every
// event meets the same checks in the same order. The caller is already
// authenticated and allowed to append (the interceptors, or the HTTP
// handler, did that). Each event must, in this order:
//
//  1. be there, with the fields every event needs (event.CheckRequired), so
//     that a missing field is reported as missing, not as out of scope;
//  2. be of a kind agents may write (not access, erasure, retention or key
//     change, which only the server writes);
//  3. lie within the caller's scope, checked against a credential that
//     still holds (an agent key bound to one agent id);
//  4. hold no secret or personal datum in its metadata
//     (redact.CheckMetadata), which every reader sees and which can never be
//     masked.
//
// The events that pass are handed to the store together, after their
// bytes (size, over all of them) are taken from the server's in-flight
// budget; the store validates each in full and commits them in order.
// Events that fail are answered by their own rejection and do not affect
// the others.
//
// The returned error ends the caller's call: UNAUTHENTICATED when the
// credential no longer holds (a key revoked mid-stream), or the context's
// or the store's error when nothing could be queued. Otherwise the intake's
// wait gives one response per event, in order, and its release must be
// called once the responses are sent.
func (s *Server) ingest(ctx context.Context, evs []*agenttrailv1.Event, size int64) (*intake, error) {
	in := &intake{s: s, ids: make([]string, len(evs)), events: evs, start: time.Now(), rejections: make([]*agenttrailv1.Rejection, len(evs))}
	var pass []*agenttrailv1.Event
	for i, ev := range evs {
		in.ids[i] = ev.GetEventId()
		rej, err := s.admit(ctx, ev)
		if err != nil {
			return nil, err
		}
		if rej != nil {
			in.rejections[i] = rej
			continue
		}
		in.admitted = append(in.admitted, i)
		pass = append(pass, ev)
	}
	if len(pass) == 0 {
		return in, nil
	}
	if err := s.budget.acquire(ctx, size); err != nil {
		return nil, err
	}
	in.bytes = size
	principal := s.cfg.principal(ctx)
	for len(pass) > 0 {
		n := min(len(pass), submitChunk)
		t, err := s.st.Submit(ctx, principal, pass[:n])
		if err != nil {
			// Chunks already queued may still commit; their ids make
			// sending them again safe.
			in.release()
			return nil, err
		}
		in.tickets = append(in.tickets, t)
		pass = pass[n:]
	}
	return in, nil
}

// submitChunk is the most events ingest hands the store in one Submit,
// well under the store's batch limit.
const submitChunk = 256

// admit makes the checks of ingest on one event. It returns the event's
// rejection (naming the field at fault, never its value), nil when the
// event may go to the store, or the error that ends the call.
func (s *Server) admit(ctx context.Context, ev *agenttrailv1.Event) (*agenttrailv1.Rejection, error) {
	if ev == nil {
		return rejection(codes.InvalidArgument, "event", "event: is required"), nil
	}
	if err := event.CheckRequired(ev); err != nil {
		return fieldRejection(ctx, s, err)
	}
	if event.IsServerKind(event.KindOf(ev)) {
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
		return fieldRejection(ctx, s, err)
	}
	return nil, nil
}

// fieldRejection turns an *event.FieldError into an INVALID_ARGUMENT
// rejection; any other error ends the call.
func fieldRejection(ctx context.Context, s *Server, err error) (*agenttrailv1.Rejection, error) {
	var fe *event.FieldError
	if !errors.As(err, &fe) {
		return nil, statusError(ctx, s.log, err)
	}
	return rejection(codes.InvalidArgument, "event."+fe.Field, "event."+fe.Field+": "+fe.Reason), nil
}

func rejection(code codes.Code, field, msg string) *agenttrailv1.Rejection {
	return &agenttrailv1.Rejection{Code: int32(code), Message: msg, Field: field}
}

// rejectedIntake is an intake of events refused together before ingest
// could read them (a request that does not decode, or a malformed batched
// frame), each with the same rejection.
func rejectedIntake(s *Server, ids []string, batch bool, code codes.Code, field, msg string) *intake {
	in := &intake{s: s, ids: ids, batch: batch, start: time.Now(), rejections: make([]*agenttrailv1.Rejection, len(ids))}
	rej := rejection(code, field, msg)
	for i := range in.rejections {
		in.rejections[i] = rej
	}
	return in
}

// wait returns one response per event of the intake, in order, once the
// events handed to the store are durable or rejected. Its error means the
// store failed or closed: nothing after it can be acknowledged either.
func (in *intake) wait(ctx context.Context) ([]*agenttrailv1.AppendResponse, error) {
	out := make([]*agenttrailv1.AppendResponse, len(in.ids))
	for i, rej := range in.rejections {
		if rej != nil {
			out[i] = &agenttrailv1.AppendResponse{EventId: in.ids[i], Result: &agenttrailv1.AppendResponse_Rejection{Rejection: rej}}
		}
	}
	if len(in.tickets) == 0 {
		in.record(out)
		return out, nil
	}
	k := 0
	for _, t := range in.tickets {
		results, err := t.Wait(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range results {
			i := in.admitted[k]
			out[i] = appendResponse(ctx, in.s, in.ids[i], r)
			k++
		}
	}
	in.record(out)
	return out, nil
}

// release gives the intake's bytes back to the in-flight budget. It is
// safe to call more than once.
func (in *intake) release() {
	in.once.Do(func() {
		if in.bytes > 0 {
			in.s.budget.release(in.bytes)
		}
	})
}

// record counts the intake's outcomes in the server's metrics.
func (in *intake) record(out []*agenttrailv1.AppendResponse) {
	m := in.s.cfg.metrics
	if m == nil {
		return
	}
	d := time.Since(in.start)
	for i, r := range out {
		var ev *agenttrailv1.Event
		if in.events != nil {
			ev = in.events[i]
		}
		kind := "unspecified"
		if ev != nil {
			kind = kindName(event.KindOf(ev))
		}
		switch {
		case r.GetRejection() != nil:
			m.Event(ev.GetAgentId(), kind, "rejected", codes.Code(r.GetRejection().GetCode()).String(), false)
		case r.GetReceipt().GetDuplicate():
			m.Event(ev.GetAgentId(), kind, "duplicate", "", false)
		default:
			m.Event(ev.GetAgentId(), kind, "stored", "", event.IsFailure(ev))
		}
		m.Ack(d)
	}
}

// kindName is the metrics label of an event kind: "llm_call".
func kindName(k agenttrailv1.EventKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "EVENT_KIND_"))
}
