package server

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/store/event"
)

// isRead reports whether a method reads the trail: every method of the
// query, log and stats services.
func isRead(method string) bool {
	return strings.HasPrefix(method, "/"+agenttrailv1.QueryService_ServiceDesc.ServiceName+"/") ||
		strings.HasPrefix(method, "/"+agenttrailv1.LogService_ServiceDesc.ServiceName+"/") ||
		strings.HasPrefix(method, "/"+agenttrailv1.StatsService_ServiceDesc.ServiceName+"/")
}

// readRecord starts the Access record of a read by a human role, or returns
// nil when the call is not one.
func (s *Server) readRecord(ctx context.Context, method string) *agenttrailv1.Access {
	p, ok := auth.FromContext(ctx)
	if !ok || !p.Role.Human() || !isRead(method) {
		return nil
	}
	a := &agenttrailv1.Access{Principal: p.Name, Role: string(p.Role), Rpc: method, Phase: agenttrailv1.AccessPhase_ACCESS_PHASE_COMPLETED}
	if v, err := s.cfg.views(ctx); err == nil {
		a.View, a.PolicyVersion = v.Kind(), v.PolicyVersion()
	}
	return a
}

// recordAccess appends an Access event through the same write-once path as
// every event, without making the reader wait for it to commit; a failure
// is logged.
func (s *Server) recordAccess(ctx context.Context, a *agenttrailv1.Access) {
	ev := &agenttrailv1.Event{
		EventId:    event.NewID(),
		AgentId:    auth.ServerPrincipal,
		OccurredAt: timestamppb.New(s.now()),
		Payload:    &agenttrailv1.Event_Access{Access: a},
	}
	ctx = context.WithoutCancel(ctx)
	// When the trail cannot take it (a disk too full even for the
	// server's own records), the read goes to the log instead, with who
	// read what.
	failed := func(err error) {
		s.log.ErrorContext(ctx, "recording a read in the trail failed; it is recorded here", slog.String("principal", a.GetPrincipal()),
			slog.String("role", a.GetRole()), slog.String("rpc", a.GetRpc()), slog.Uint64("events_returned", a.GetEventsReturned()), slog.Any("error", err))
	}
	t, err := s.st.SubmitRecords(ctx, auth.ServerPrincipal, []*agenttrailv1.Event{ev})
	if err != nil {
		failed(err)
		return
	}
	go func() {
		res, err := t.Wait(ctx)
		if err == nil {
			err = res[0].Err
		}
		if err != nil {
			failed(err)
		}
	}()
}

// accessUnary records the unary reads of human roles.
func (s *Server) accessUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	a := s.readRecord(ctx, info.FullMethod)
	resp, err := handler(ctx, req)
	if a == nil {
		return resp, err
	}
	s.cfg.metrics.Read(a.GetRole(), rpcName(info.FullMethod))
	a.StatusCode = int32(status.Code(err))
	switch r := req.(type) {
	case *agenttrailv1.GetEventRequest:
		switch k := r.GetKey().(type) {
		case *agenttrailv1.GetEventRequest_EventId:
			if event.IsID(k.EventId) {
				a.EventId = k.EventId
			}
		case *agenttrailv1.GetEventRequest_LogIndex:
			a.LogIndex = &k.LogIndex
		}
		if err == nil {
			a.EventsReturned = 1
		}
	case *agenttrailv1.StatsRequest:
		if err == nil {
			a.Filter = r.GetFilter()
		}
	case *agenttrailv1.GetInclusionProofRequest:
		idx := r.GetLogIndex()
		a.LogIndex = &idx
	case *agenttrailv1.GetInclusionProofsRequest:
		if err == nil {
			a.EventsReturned = uint64(len(r.GetLogIndexes()))
		}
	case *agenttrailv1.ListSessionsRequest:
		if _, qerr := sessionQuery(r); qerr == nil {
			a.Filter = &agenttrailv1.Filter{AgentId: r.GetAgentId(), UserId: r.GetUserId(), OccurredAfter: r.GetStartedAfter(), OccurredBefore: r.GetStartedBefore(), ErrorsOnly: r.GetHasErrors()}
		}
		if l, ok := resp.(*agenttrailv1.ListSessionsResponse); ok && err == nil {
			a.EventsReturned = uint64(len(l.GetSessions()))
		}
	}
	s.recordAccess(ctx, a)
	return resp, err
}

// accessStream records the streaming reads (Query) of human roles: with
// follow, once when the tail opens and once when it ends.
func (s *Server) accessStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	a := s.readRecord(ss.Context(), info.FullMethod)
	if a == nil {
		return handler(srv, ss)
	}
	s.cfg.metrics.Read(a.GetRole(), rpcName(info.FullMethod))
	cs := &countingStream{ServerStream: ss, s: s, record: a}
	err := handler(srv, cs)
	if cs.following {
		s.cfg.metrics.Tail(a.GetRole(), -1)
	}
	a.StatusCode = int32(status.Code(err))
	if a.StatusCode == int32(codes.InvalidArgument) {
		a.Filter = nil // it may hold values the store would refuse
	}
	a.EventsReturned = cs.sent
	if cs.ranged {
		a.Returned = &agenttrailv1.IndexRange{First: cs.first, Last: cs.last}
	}
	a.Phase = agenttrailv1.AccessPhase_ACCESS_PHASE_COMPLETED
	s.recordAccess(ss.Context(), a)
	return err
}

// countingStream notes a Query's request and counts the entries sent.
type countingStream struct {
	grpc.ServerStream
	s         *Server
	record    *agenttrailv1.Access
	sent      uint64
	first     uint64 // the lowest and highest log index of the entries sent
	last      uint64
	ranged    bool // first and last are set
	following bool // a live tail, counted open in the metrics
}

func (c *countingStream) RecvMsg(m any) error {
	err := c.ServerStream.RecvMsg(m)
	if q, ok := m.(*agenttrailv1.QueryRequest); ok && err == nil {
		c.record.Filter = q.GetFilter()
		c.record.ProofTreeSize = q.ProofTreeSize
		if q.GetFollow() && !c.following {
			c.following = true
			c.s.cfg.metrics.Tail(c.record.GetRole(), 1)
			started := &agenttrailv1.Access{
				Principal: c.record.GetPrincipal(), Role: c.record.GetRole(), Rpc: c.record.GetRpc(),
				View: c.record.GetView(), PolicyVersion: c.record.GetPolicyVersion(),
				Phase: agenttrailv1.AccessPhase_ACCESS_PHASE_STARTED,
			}
			if _, err := storeQuery(q); err == nil {
				started.Filter = q.GetFilter()
			}
			c.s.recordAccess(c.Context(), started)
		}
	}
	return err
}

func (c *countingStream) SendMsg(m any) error {
	err := c.ServerStream.SendMsg(m)
	if err != nil {
		return err
	}
	switch r := m.(type) {
	case *encodedResponse:
		for _, i := range r.entries {
			c.count(i)
		}
	case *agenttrailv1.QueryResponse:
		queryItems(r, func(item *agenttrailv1.QueryResponse) {
			if e := item.GetEntry(); e != nil {
				c.count(e.GetStamp().GetLogIndex())
			}
		})
	case *agenttrailv1.BackupResponse:
		for _, rec := range r.GetRecords() {
			if rec.GetEvent() != nil {
				c.sent++
			}
		}
	}
	return nil
}

// count notes one entry sent, at log index i.
func (c *countingStream) count(i uint64) {
	if !c.ranged || i < c.first {
		c.first = i
	}
	if !c.ranged || i > c.last {
		c.last = i
	}
	c.ranged = true
	c.sent++
}

// rpcName is the method of a full gRPC method name: "Query" for
// "/agenttrail.v1.QueryService/Query".
func rpcName(fullMethod string) string {
	return fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
}
