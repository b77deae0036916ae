package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/authz"
	"github.com/agenttrail/agenttrail/server/otlp"
)

// traceService is OpenTelemetry's TraceService: OTLP/gRPC trace export.
type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	s *Server
}

// Export implements coltracepb.TraceServiceServer.
func (t *traceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	resp, err := t.s.exportTraces(ctx, req)
	return resp, statusError(ctx, t.s.log, err)
}

// maxReasons bounds the span reasons listed in a partial success message.
const maxReasons = 10

// exportTraces maps the spans of an export onto events (package otlp) and
// passes them all to ingest, like any other events. Spans that could not
// be mapped, and spans with an event the log refused for good (invalid,
// outside the key's scope, a changed duplicate), are counted in the
// response's partial_success with the reasons; spans whose events are
// already in the log count as accepted, so a retried export is answered
// as a success and appends nothing. When the log cannot take events for
// now, the whole export fails with UNAVAILABLE, for the exporter to retry.
func (s *Server) exportTraces(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	if s.shuttingDown() {
		return nil, errShuttingDown
	}
	var opts otlp.Options
	if p, ok := auth.FromContext(ctx); ok {
		opts.AgentID = p.AgentID
	}
	results := otlp.Request(req, opts)
	var evs []*agenttrailv1.Event
	var size int64
	for _, r := range results {
		for _, ev := range r.Events {
			evs = append(evs, ev)
			size += int64(proto.Size(ev))
		}
	}
	var resps []*agenttrailv1.AppendResponse
	if len(evs) > 0 {
		in, err := s.ingest(ctx, evs, nil, size)
		if err != nil {
			return nil, err
		}
		defer in.release()
		if resps, err = in.wait(context.WithoutCancel(ctx)); err != nil {
			return nil, err
		}
	}
	var rejected int64
	var reasons []string
	k := 0
	for _, r := range results {
		why := ""
		if r.Err != nil {
			why = r.Err.Error()
		}
		for range r.Events {
			rej := resps[k].GetRejection()
			k++
			if rej == nil {
				continue
			}
			if codes.Code(rej.GetCode()) == codes.Unavailable {
				return nil, status.Error(codes.Unavailable, "the log cannot take events now; retry the export (events already stored are not stored twice)")
			}
			if why == "" {
				why = rej.GetMessage()
			}
		}
		if why != "" {
			rejected++
			if len(reasons) < maxReasons {
				reasons = append(reasons, fmt.Sprintf("span %s of trace %s: %s", r.SpanID, r.TraceID, why))
			}
		}
	}
	s.cfg.metrics.OTLPSpans(len(results)-int(rejected), int(rejected))
	resp := &coltracepb.ExportTraceServiceResponse{}
	if rejected > 0 {
		msg := fmt.Sprintf("%d of %d spans rejected: %s", rejected, len(results), strings.Join(reasons, "; "))
		if rejected > maxReasons {
			msg += fmt.Sprintf("; and %d more", rejected-maxReasons)
		}
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rejected, ErrorMessage: msg}
		s.log.InfoContext(ctx, "OTLP export partly rejected", slog.Int64("rejected_spans", rejected), slog.Int("spans", len(results)))
	}
	return resp, nil
}

// OTLPHandler serves OTLP/HTTP trace export (POST /v1/traces, binary
// protobuf, optionally gzip-compressed), with the same credentials,
// role rule, rate limit and mapping as OTLP/gRPC. Errors are answered with
// a google.rpc.Status, as OTLP/HTTP requires; OTLP/JSON is not served.
func (s *Server) OTLPHandler() http.Handler {
	return http.HandlerFunc(s.serveOTLP)
}

func (s *Server) serveOTLP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOTLPError(w, http.StatusMethodNotAllowed, status.New(codes.Unimplemented, "OTLP/HTTP export is a POST"))
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-protobuf" {
		writeOTLPError(w, http.StatusUnsupportedMediaType, status.New(codes.InvalidArgument, "Content-Type must be application/x-protobuf (OTLP/JSON is not served)"))
		return
	}
	ctx := r.Context()
	if a := s.cfg.authn; a != nil {
		var err error
		if ctx, err = a.AuthenticateHTTP(r); err != nil {
			writeOTLPStatus(w, status.Convert(err))
			return
		}
		if p, _ := auth.FromContext(ctx); !authz.Allowed(coltracepb.TraceService_Export_FullMethodName, p.Role) {
			writeOTLPStatus(w, status.New(codes.PermissionDenied, "permission denied: this role may not export traces"))
			return
		}
	}
	if err := s.limiter.Limit(ctx); err != nil {
		w.Header().Set("Retry-After", "1")
		writeOTLPError(w, http.StatusTooManyRequests, status.New(codes.ResourceExhausted, err.Error()))
		return
	}
	body, st := s.readOTLPBody(w, r)
	if st != nil {
		writeOTLPStatus(w, st)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		writeOTLPStatus(w, status.New(codes.InvalidArgument, "the body is not an ExportTraceServiceRequest: "+decodeProblem(err)))
		return
	}
	resp, err := s.exportTraces(ctx, &req)
	if err != nil {
		writeOTLPStatus(w, status.Convert(statusError(ctx, s.log, err)))
		return
	}
	b, err := proto.Marshal(resp)
	if err != nil {
		writeOTLPStatus(w, status.New(codes.Internal, "internal error"))
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// readOTLPBody reads the request body, decompressing gzip, within the
// server's largest message size both before and after decompression.
func (s *Server) readOTLPBody(w http.ResponseWriter, r *http.Request) ([]byte, *status.Status) {
	limit := int64(s.cfg.maxMessageBytes)
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, status.New(codes.InvalidArgument, "the body is not valid gzip")
		}
		defer zr.Close()
		src = zr
	default:
		return nil, status.New(codes.Unimplemented, "Content-Encoding must be gzip or none")
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(src, limit+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig), n > limit:
		return nil, status.New(codes.ResourceExhausted, fmt.Sprintf("the request is larger than the server accepts (%d bytes)", limit))
	case err != nil:
		return nil, status.New(codes.InvalidArgument, "the body could not be read (truncated, or not valid gzip)")
	}
	return buf.Bytes(), nil
}

// writeOTLPStatus answers with a status, at the HTTP code OTLP/HTTP gives
// its gRPC code.
func writeOTLPStatus(w http.ResponseWriter, st *status.Status) {
	code := http.StatusInternalServerError
	switch st.Code() {
	case codes.InvalidArgument:
		code = http.StatusBadRequest
	case codes.Unauthenticated:
		code = http.StatusUnauthorized
	case codes.PermissionDenied:
		code = http.StatusForbidden
	case codes.ResourceExhausted:
		code = http.StatusRequestEntityTooLarge
		if !strings.Contains(st.Message(), "larger") {
			code = http.StatusTooManyRequests
			w.Header().Set("Retry-After", "1")
		}
	case codes.Unavailable:
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	case codes.Unimplemented:
		code = http.StatusUnsupportedMediaType
	case codes.DeadlineExceeded, codes.Canceled:
		code = http.StatusGatewayTimeout
	}
	writeOTLPError(w, code, st)
}

func writeOTLPError(w http.ResponseWriter, code int, st *status.Status) {
	b, _ := proto.Marshal(st.Proto())
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(code)
	w.Write(b)
}
