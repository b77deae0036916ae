package server

import (
	"net/http"

	"connectrpc.com/vanguard"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// BrowserServices are the services BrowserHandler serves: every read, key
// management and the content lifecycle (erasure, holds, retention).
// AppendService is left out: agents append over gRPC.
var BrowserServices = []string{
	agenttrailv1.QueryService_ServiceDesc.ServiceName,
	agenttrailv1.StatsService_ServiceDesc.ServiceName,
	agenttrailv1.LogService_ServiceDesc.ServiceName,
	agenttrailv1.AdminService_ServiceDesc.ServiceName,
	agenttrailv1.LifecycleService_ServiceDesc.ServiceName,
}

// BrowserHandler returns an http.Handler that serves BrowserServices to
// browsers and other HTTP/1.1 clients in the Connect and gRPC-Web protocols
// (and gRPC), at the usual paths /agenttrail.v1.<Service>/<Method>.
//
// connectrpc.com/vanguard transcodes each call into a gRPC call of this
// server's own handlers through grpc.Server.ServeHTTP, so every interceptor
// applies unchanged: authentication (an "authorization: Bearer" header, or
// a principal a front end put in the request's context with
// auth.WithFrontEndPrincipal), the role table, the caller's view, the
// recording of reads, the rate limit and call logs. Calls through it end
// when Shutdown begins, as gRPC calls do.
func (s *Server) BrowserHandler() (http.Handler, error) {
	services := make([]*vanguard.Service, 0, len(BrowserServices))
	for _, name := range BrowserServices {
		if _, ok := s.grpc.GetServiceInfo()[name]; !ok {
			continue // AdminService and LifecycleService, without access control
		}
		services = append(services, vanguard.NewService(name, s.grpc,
			vanguard.WithMaxMessageBufferBytes(uint32(s.cfg.maxMessageBytes)),
		))
	}
	return vanguard.NewTranscoder(services, vanguard.WithDefaultServiceOptions(
		vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
		vanguard.WithTargetCodecs(vanguard.CodecProto),
		vanguard.WithNoTargetCompression(),
	))
}
