package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/semaphore"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

type appendService struct {
	agenttrailv1.UnimplementedAppendServiceServer
	s *Server
}

// Append implements agenttrailv1.AppendServiceServer. A reader goroutine
// receives requests, checks them and hands them to the store; a sender
// goroutine waits for each in order and sends its response; the handler
// supervises both (see watchdog). At most inFlightEvents events of the
// stream, and inFlightBytes over all streams, wait for their receipts: past
// that the reader stops reading, and gRPC flow control holds the client.
//
// A request carries one event or a batched frame of several (see
// maxFrameEvents); the response headers say how many one request may hold.
func (a *appendService) Append(stream agenttrailv1.AppendService_AppendServer) error {
	s := a.s
	if s.shuttingDown() {
		return statusError(stream.Context(), s.log, errShuttingDown)
	}
	ctx, cancel := s.untilShutdown(stream.Context())
	defer cancel()
	st := &appendStream{
		s:         s,
		stream:    stream,
		window:    semaphore.NewWeighted(int64(s.cfg.inFlightEvents)),
		maxFrame:  s.maxFrameEvents(),
		replies:   make(chan *intake, s.cfg.inFlightEvents),
		accepting: true,
	}
	// Sent with the first response: clients send batched frames once they
	// have seen it.
	if err := stream.SetHeader(metadata.Pairs(BatchHeader, strconv.Itoa(st.maxFrame))); err != nil {
		return statusError(stream.Context(), s.log, err)
	}
	go st.read(ctx)
	// At shutdown (or when the call ends) stop taking requests even while
	// the reader waits for one: the sender then finishes with the events
	// already handed to the store.
	stopWatch := context.AfterFunc(ctx, func() { st.stop(nil) })
	defer stopWatch()
	err := s.supervise(stream.Context(), st.send)
	if err == nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), errShuttingDown) {
		return status.Error(codes.Unavailable, "the server is shutting down: every event answered above is durable; resend the others on a new stream")
	}
	return err
}

// BatchHeader is the response header of every Append stream that says the
// server takes batched frames, and how many events one request may hold.
const BatchHeader = "agenttrail-append-batch"

// maxFrameEvents is the most events one Append request may carry: the
// stream's in-flight bound, and at most 1024.
func (s *Server) maxFrameEvents() int { return min(s.cfg.inFlightEvents, 1024) }

// appendStream is the state of one Append stream. Each request becomes an
// intake of its events (see ingest), answered in request order.
type appendStream struct {
	s        *Server
	stream   agenttrailv1.AppendService_AppendServer
	window   *semaphore.Weighted // a unit per event in flight
	maxFrame int
	replies  chan *intake

	mu        sync.Mutex
	accepting bool
	readErr   error
}

// push queues a reply unless the stream has stopped accepting.
func (st *appendStream) push(r *intake) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.accepting {
		return false
	}
	st.replies <- r // never blocks: the window bounds the replies queued
	return true
}

// stop ends reading: no reply is queued after it, and the sender finishes
// with the replies already queued.
func (st *appendStream) stop(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.accepting {
		st.accepting = false
		st.readErr = err
		close(st.replies)
	}
}

// read receives requests until the client closes its side, the stream
// breaks, or ctx ends (cancellation or shutdown).
func (st *appendStream) read(ctx context.Context) {
	s := st.s
	for n := 0; ; n++ {
		var frame rawFrame
		if err := st.stream.RecvMsg(&frame); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			st.stop(err)
			return
		}
		req, rejected := st.decode(n, frame.b)
		var received [][]byte
		if rejected == nil {
			received = receivedEvents(frame.b, req)
		}
		units := 1
		if rejected == nil && len(req.GetEvents()) > 0 {
			units = len(req.GetEvents())
		}
		if err := st.window.Acquire(ctx, int64(units)); err != nil {
			st.stop(nil)
			return
		}
		r := rejected
		if r == nil {
			var err error
			if r, err = st.check(ctx, req, received, int64(len(frame.b))); err != nil {
				st.window.Release(int64(units))
				if ctx.Err() != nil {
					st.stop(nil)
				} else {
					st.stop(statusError(ctx, s.log, err))
				}
				return
			}
		}
		r.units = units
		if !st.push(r) {
			st.release(r)
			return
		}
	}
}

func (st *appendStream) release(r *intake) {
	st.window.Release(int64(r.units))
	r.release()
}

// decode reads request n. A request that does not decode, or that is not a
// well-formed frame, is answered by its intake of rejections, returned
// instead of the request.
func (st *appendStream) decode(n int, b []byte) (*agenttrailv1.AppendRequest, *intake) {
	req := new(agenttrailv1.AppendRequest)
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, rejectedIntake(st.s, []string{""}, false, codes.InvalidArgument, "", fmt.Sprintf("request %d is not a valid AppendRequest encoding: %s", n, decodeProblem(err)))
	}
	evs := req.GetEvents()
	if len(evs) == 0 {
		return req, nil
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.GetEventId()
	}
	switch {
	case req.GetEvent() != nil:
		return nil, rejectedIntake(st.s, ids, true, codes.InvalidArgument, "event", "event: a request carries event or events, not both")
	case len(evs) > st.maxFrame:
		return nil, rejectedIntake(st.s, ids, true, codes.ResourceExhausted, "events", fmt.Sprintf("events: %d events in one request, at most %d (the %s response header)", len(evs), st.maxFrame, BatchHeader))
	}
	return req, nil
}

// check passes a request's events, and the bytes each arrived in (nil:
// unknown), to ingest. It returns the request's intake, or the error that
// ends the stream (the caller's credential no longer holds, the store
// cannot take events, the stream's context ended).
func (st *appendStream) check(ctx context.Context, req *agenttrailv1.AppendRequest, received [][]byte, size int64) (*intake, error) {
	if evs := req.GetEvents(); len(evs) > 0 {
		in, err := st.s.ingest(ctx, evs, received, size)
		if in != nil {
			in.batch = true
		}
		return in, err
	}
	return st.s.ingest(ctx, []*agenttrailv1.Event{req.GetEvent()}, received, size)
}

// Field numbers of AppendRequest.
var (
	appendRequestFields = (&agenttrailv1.AppendRequest{}).ProtoReflect().Descriptor().Fields()
	requestEventNumber  = appendRequestFields.ByName("event").Number()
	requestEventsNumber = appendRequestFields.ByName("events").Number()
)

// receivedEvents returns the bytes each event of a request arrived in,
// read from the request's encoding b, which decoded to req: the records of
// its events field in order, or of its event field. They alias b. It
// returns nil when the records do not match the decoded events one to one
// (an event field repeated, which decoding merges), and the events are
// then encoded afresh.
func receivedEvents(b []byte, req *agenttrailv1.AppendRequest) [][]byte {
	want, num := len(req.GetEvents()), requestEventsNumber
	if want == 0 {
		if req.GetEvent() == nil {
			return nil
		}
		want, num = 1, requestEventNumber
	}
	out := make([][]byte, 0, want)
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return nil
			}
			out = append(out, v)
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(n, typ, b)
		if m < 0 {
			return nil
		}
		b = b[m:]
	}
	if len(out) != want {
		return nil
	}
	return out
}

// decodeProblem describes why bytes failed to decode as protobuf, in terms
// of the encoding only (never the bytes).
func decodeProblem(err error) string {
	msg := err.Error()
	switch {
	case containsAny(msg, "invalid UTF-8"):
		return "a string field is not valid UTF-8"
	case containsAny(msg, "cannot parse invalid wire-format data", "unexpected EOF"):
		return "invalid wire-format data"
	}
	return "invalid protobuf"
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// send sends the replies in order as their events become durable.
func (st *appendStream) send(w *watchdog) error {
	ctx := st.stream.Context()
	for r := range st.replies {
		b, err := r.encoded(context.WithoutCancel(ctx))
		if err != nil {
			// The store failed or closed: nothing after this can be
			// acknowledged either.
			st.release(r)
			st.stop(nil)
			st.drain()
			return statusError(ctx, st.s.log, err)
		}
		msg := &encodedResponse{b: b}
		if err := w.send(func() error { return st.stream.SendMsg(msg) }); err != nil {
			st.release(r)
			st.stop(nil)
			st.drain()
			return err
		}
		st.release(r)
	}
	st.mu.Lock()
	err := st.readErr
	st.mu.Unlock()
	if err != nil {
		return err
	}
	return nil
}

// drain releases the resources of replies that will not be sent.
func (st *appendStream) drain() {
	for r := range st.replies {
		st.release(r)
	}
}

// appendResponse turns the store's result for one event into a response.
func appendResponse(ctx context.Context, s *Server, id string, r store.Result) *agenttrailv1.AppendResponse {
	if r.Err == nil {
		return &agenttrailv1.AppendResponse{EventId: id, Result: &agenttrailv1.AppendResponse_Receipt{Receipt: &agenttrailv1.Receipt{
			EventId:    r.Receipt.EventID,
			LogIndex:   r.Receipt.Index,
			LeafHash:   r.Receipt.LeafHash[:],
			ReceivedAt: timestamppb.New(r.Receipt.ReceivedAt),
			Duplicate:  r.Receipt.Duplicate,
		}}}
	}
	st := status.Convert(statusError(ctx, s.log, r.Err))
	rej := &agenttrailv1.Rejection{Code: int32(st.Code()), Message: st.Message()}
	var fe *event.FieldError
	if errors.As(r.Err, &fe) {
		rej.Field = "event." + fe.Field
	}
	return &agenttrailv1.AppendResponse{EventId: id, Result: &agenttrailv1.AppendResponse_Rejection{Rejection: rej}}
}
