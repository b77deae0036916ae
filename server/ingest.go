package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
	tickets    []*store.Ticket           // for the events handed to the store, in order, in chunks of submitChunk events
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
//     masked;
//  5. be no larger than the store accepts, refused with a message that names
//     the event's size and the limit (the store would refuse it too, but
//     could not say so to the caller).
//
// The events that pass are handed to the store together, after their
// bytes (size, over all of them) are taken from the server's in-flight
// budget; the store validates each in full and commits them in order.
// received, when not nil, holds the bytes each event arrived in (nil for
// one without), which the store commits as they are when they are already
// the canonical encoding (store.SubmitReceived). Events that fail are
// answered by their own rejection and do not affect the others.
//
// The returned error ends the caller's call: UNAUTHENTICATED when the
// credential no longer holds (a key revoked mid-stream), or the context's
// or the store's error when nothing could be queued. Otherwise the intake's
// wait gives one response per event, in order, and its release must be
// called once the responses are sent.
func (s *Server) ingest(ctx context.Context, evs []*agenttrailv1.Event, received [][]byte, size int64) (*intake, error) {
	in := &intake{s: s, ids: make([]string, len(evs)), events: evs, start: time.Now(), rejections: make([]*agenttrailv1.Rejection, len(evs))}
	var pass []*agenttrailv1.Event
	var passReceived [][]byte // the bytes each event of pass arrived in, when known
	for i, ev := range evs {
		in.ids[i] = ev.GetEventId()
		var raw []byte
		if received != nil {
			raw = received[i]
		}
		rej, err := s.admit(ctx, ev, raw, size)
		if err != nil {
			return nil, err
		}
		if rej != nil {
			in.rejections[i] = rej
			continue
		}
		pass = append(pass, ev)
		if received != nil {
			passReceived = append(passReceived, raw)
		}
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
		var rcv [][]byte
		if passReceived != nil {
			rcv, passReceived = passReceived[:n], passReceived[n:]
		}
		t, err := s.st.SubmitReceived(ctx, principal, pass[:n], rcv)
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

// admit makes the checks of ingest on one event, which arrived in size
// bytes (with the call's other events), its own being raw when known. It
// returns the event's rejection (naming the field at fault, never its
// value), nil when the event may go to the store, or the error that ends
// the call.
func (s *Server) admit(ctx context.Context, ev *agenttrailv1.Event, raw []byte, size int64) (*agenttrailv1.Rejection, error) {
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
	if err := redact.CheckMetadataReceived(ev, raw); err != nil {
		return fieldRejection(ctx, s, err)
	}
	// Only an event that arrived in more bytes than the limit can be over
	// it: the others are not measured.
	if limit := s.st.MaxEventSize(); size > int64(limit) {
		if n := proto.Size(ev); n > limit {
			return rejection(codes.ResourceExhausted, "event", tooLarge(n, limit)), nil
		}
	}
	return nil, nil
}

// tooLarge is the message of an event over the size limit. Sending it again
// cannot succeed, and the message does not suggest it.
func tooLarge(size, limit int) string {
	return fmt.Sprintf("event: %d bytes encoded, over this server's limit of %d bytes (%s) per event (serve --max-event-size); it was not stored: shorten or split its content", size, limit, mib(limit))
}

// mib writes a byte count in MiB or KiB for people.
func mib(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
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
	results, err := in.results(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*agenttrailv1.AppendResponse, len(in.ids))
	verdicts := make([]verdict, len(in.ids))
	k := 0
	for i, rej := range in.rejections {
		if rej == nil {
			verdicts[i].duplicate = results[k].Err == nil && results[k].Receipt.Duplicate
			out[i] = appendResponse(ctx, in.s, in.ids[i], results[k])
			k++
		} else {
			out[i] = &agenttrailv1.AppendResponse{EventId: in.ids[i], Result: &agenttrailv1.AppendResponse_Rejection{Rejection: rej}}
		}
		verdicts[i].rejection = out[i].GetRejection()
	}
	in.record(verdicts)
	return out, nil
}

// encoded is wait for an Append stream: it returns the response to the
// intake's request, encoded (a batched frame's one response, or a single
// event's). A receipt is encoded straight from the store's result, as Go's
// deterministic encoding of the response would encode it, without building
// the messages.
func (in *intake) encoded(ctx context.Context) ([]byte, error) {
	results, err := in.results(ctx)
	if err != nil {
		return nil, err
	}
	verdicts := make([]verdict, len(in.ids))
	var b, one []byte
	if in.batch {
		b = make([]byte, 0, len(in.ids)*(receiptBytes+len(in.ids[0])+8))
	}
	k := 0
	for i, rej := range in.rejections {
		var resp *agenttrailv1.AppendResponse
		switch {
		case rej != nil:
			resp = &agenttrailv1.AppendResponse{EventId: in.ids[i], Result: &agenttrailv1.AppendResponse_Rejection{Rejection: rej}}
		case results[k].Err != nil:
			resp = appendResponse(ctx, in.s, in.ids[i], results[k])
		}
		if resp == nil {
			one = appendReceiptResponse(one[:0], in.ids[i], &results[k].Receipt)
			verdicts[i].duplicate = results[k].Receipt.Duplicate
		} else {
			if one, err = (proto.MarshalOptions{Deterministic: true}).MarshalAppend(one[:0], resp); err != nil {
				return nil, err
			}
			verdicts[i].rejection = resp.GetRejection()
		}
		if rej == nil {
			k++
		}
		if !in.batch {
			b = one
			break
		}
		b = protowire.AppendTag(b, appendResponseResults, protowire.BytesType)
		b = protowire.AppendBytes(b, one)
	}
	in.record(verdicts)
	return b, nil
}

// results waits for the store's results of the events the intake handed
// it, in order.
func (in *intake) results(ctx context.Context) ([]store.Result, error) {
	var all []store.Result
	for _, t := range in.tickets {
		rs, err := t.Wait(ctx)
		if err != nil {
			return nil, err
		}
		if len(in.tickets) == 1 {
			return rs, nil
		}
		all = append(all, rs...)
	}
	return all, nil
}

// The field numbers appendReceiptResponse writes (agenttrail.v1
// AppendResponse, Receipt, and google.protobuf.Timestamp), and the most a
// receipt takes beside its event id.
const (
	appendResponseEventID = 1
	appendResponseReceipt = 2
	appendResponseResults = 4
	receiptEventID        = 1
	receiptLogIndex       = 2
	receiptLeafHash       = 3
	receiptReceivedAt     = 4
	receiptDuplicate      = 5
	timestampSeconds      = 1
	timestampNanos        = 2
	receiptBytes          = 96
)

// appendReceiptResponse appends the encoding of an AppendResponse holding
// a receipt, for the event id the request gave, to b.
func appendReceiptResponse(b []byte, id string, r *store.Receipt) []byte {
	var tsBuf [24]byte
	ts := tsBuf[:0]
	if sec := r.ReceivedAt.Unix(); sec != 0 {
		ts = protowire.AppendTag(ts, timestampSeconds, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(sec))
	}
	if nanos := r.ReceivedAt.Nanosecond(); nanos != 0 {
		ts = protowire.AppendTag(ts, timestampNanos, protowire.VarintType)
		ts = protowire.AppendVarint(ts, uint64(nanos))
	}
	var rcBuf [receiptBytes + 64]byte
	rc := rcBuf[:0]
	if r.EventID != "" {
		rc = protowire.AppendTag(rc, receiptEventID, protowire.BytesType)
		rc = protowire.AppendString(rc, r.EventID)
	}
	if r.Index != 0 {
		rc = protowire.AppendTag(rc, receiptLogIndex, protowire.VarintType)
		rc = protowire.AppendVarint(rc, r.Index)
	}
	rc = protowire.AppendTag(rc, receiptLeafHash, protowire.BytesType)
	rc = protowire.AppendBytes(rc, r.LeafHash[:])
	rc = protowire.AppendTag(rc, receiptReceivedAt, protowire.BytesType)
	rc = protowire.AppendBytes(rc, ts)
	if r.Duplicate {
		rc = protowire.AppendTag(rc, receiptDuplicate, protowire.VarintType)
		rc = protowire.AppendVarint(rc, 1)
	}
	if id != "" {
		b = protowire.AppendTag(b, appendResponseEventID, protowire.BytesType)
		b = protowire.AppendString(b, id)
	}
	b = protowire.AppendTag(b, appendResponseReceipt, protowire.BytesType)
	return protowire.AppendBytes(b, rc)
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

// verdict is what the metrics count of one event's outcome: its
// rejection, or whether its receipt is a duplicate's.
type verdict struct {
	rejection *agenttrailv1.Rejection
	duplicate bool
}

// record counts the intake's outcomes in the server's metrics.
func (in *intake) record(verdicts []verdict) {
	m := in.s.cfg.metrics
	if m == nil {
		return
	}
	d := time.Since(in.start)
	for i, v := range verdicts {
		var ev *agenttrailv1.Event
		if in.events != nil {
			ev = in.events[i]
		}
		kind := "unspecified"
		if ev != nil {
			kind = kindName(event.KindOf(ev))
		}
		switch {
		case v.rejection != nil:
			m.Event(ev.GetAgentId(), kind, "rejected", codes.Code(v.rejection.GetCode()).String(), false)
		case v.duplicate:
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
