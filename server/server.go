package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP exporters may compress with gzip
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/authz"
	"github.com/agenttrail/agenttrail/store"
)

// Server serves agenttrail's gRPC API over a store.
type Server struct {
	st      *store.Store
	cfg     config
	log     *slog.Logger
	grpc    *grpc.Server
	health  *health.Server
	budget  *byteBudget
	limiter *tokenBucket
	// viewCache keeps developer views already rendered (nil when off).
	viewCache *ViewCache

	// closing is closed when Shutdown begins: Append streams stop reading
	// and following queries end.
	closing   chan struct{}
	closeOnce sync.Once
	active    atomic.Int64 // calls in progress
}

// Services lists the full names of the services the server registers, for
// health checks and access tables.
var Services = []string{
	agenttrailv1.AppendService_ServiceDesc.ServiceName,
	agenttrailv1.QueryService_ServiceDesc.ServiceName,
	agenttrailv1.LogService_ServiceDesc.ServiceName,
	agenttrailv1.LifecycleService_ServiceDesc.ServiceName,
	agenttrailv1.StatsService_ServiceDesc.ServiceName,
	coltracepb.TraceService_ServiceDesc.ServiceName,
}

// New builds a server over an open store. Serve it with Serve and stop it
// with Shutdown (see the package documentation for the order).
func New(st *store.Store, opts ...Option) (*Server, error) {
	if st == nil {
		return nil, errors.New("server: nil store")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.accessFunc != nil {
		a, r, err := cfg.accessFunc(st)
		if err != nil {
			return nil, err
		}
		if a == nil || r == nil {
			return nil, fmt.Errorf("server: access control needs an authenticator and a redactor")
		}
		cfg.authn, cfg.redactor = a, r
	}
	s := &Server{
		st:      st,
		cfg:     cfg,
		log:     cfg.logger,
		health:  health.NewServer(),
		budget:  newByteBudget(cfg.inFlightBytes),
		closing: make(chan struct{}),

		viewCache: NewViewCache(cfg.viewCacheBytes),
	}
	if cfg.authn != nil {
		s.accessControl()
	}
	if s.cfg.views == nil {
		s.cfg.views = fixedView(FullView{})
	}
	if s.cfg.principal == nil {
		s.cfg.principal = func(context.Context) string { return "anonymous" }
	}
	cfg = s.cfg
	limiter := newTokenBucket(cfg.rateLimit, cfg.rateBurst)
	s.limiter = limiter
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall), // never payloads
		logging.WithLevels(logLevel),
	}
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		// The panic value may hold request data: log its type and the
		// stack, not the value.
		s.log.ErrorContext(ctx, "panic in handler", slog.String("panic_type", fmt.Sprintf("%T", p)), slog.String("stack", string(debug.Stack())))
		return status.Error(codes.Internal, "internal error")
	})
	unary := append([]grpc.UnaryServerInterceptor{
		s.countUnary,
		recovery.UnaryServerInterceptor(recoverOpt),
		logging.UnaryServerInterceptor(slogAdapter(s.log), logOpts...),
		ratelimit.UnaryServerInterceptor(limiter),
	}, cfg.unary...)
	stream := append([]grpc.StreamServerInterceptor{
		s.countStream,
		recovery.StreamServerInterceptor(recoverOpt),
		logging.StreamServerInterceptor(slogAdapter(s.log), logOpts...),
		ratelimit.StreamServerInterceptor(limiter),
	}, cfg.stream...)
	gopts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(cfg.maxMessageBytes),
		grpc.MaxHeaderListSize(cfg.maxHeaderBytes),
		grpc.MaxSendMsgSize(cfg.maxMessageBytes),
		grpc.MaxConcurrentStreams(cfg.maxStreams),
		grpc.ForceServerCodecV2(rawFrameCodec{}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
	}, cfg.grpcOptions...)
	s.grpc = grpc.NewServer(gopts...)
	agenttrailv1.RegisterAppendServiceServer(s.grpc, &appendService{s: s})
	agenttrailv1.RegisterQueryServiceServer(s.grpc, &queryService{s: s})
	agenttrailv1.RegisterLogServiceServer(s.grpc, &logService{s: s})
	agenttrailv1.RegisterStatsServiceServer(s.grpc, &statsService{s: s})
	coltracepb.RegisterTraceServiceServer(s.grpc, &traceService{s: s})
	if cfg.authn != nil {
		agenttrailv1.RegisterAdminServiceServer(s.grpc, &adminService{s: s})
		agenttrailv1.RegisterLifecycleServiceServer(s.grpc, &lifecycleService{s: s})
	}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	for _, name := range append([]string{""}, Services...) {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	return s, nil
}

// logLevel logs client mistakes at INFO and server trouble at ERROR.
func logLevel(c codes.Code) logging.Level {
	switch c {
	case codes.OK, codes.Canceled, codes.NotFound, codes.InvalidArgument, codes.AlreadyExists,
		codes.Unauthenticated, codes.PermissionDenied, codes.ResourceExhausted, codes.OutOfRange,
		codes.FailedPrecondition, codes.DeadlineExceeded:
		return logging.LevelInfo
	case codes.Unavailable:
		return logging.LevelWarn
	}
	return logging.LevelError
}

// slogAdapter lets the logging interceptor write to slog.
func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// Serve accepts connections on lis until Shutdown. It returns nil after a
// Shutdown, and the listener's error otherwise.
func (s *Server) Serve(lis net.Listener) error {
	err := s.grpc.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// stillValid checks that the caller's credential still holds, at most once a
// second per call (see auth.Authenticator.StillValid).
func (s *Server) stillValid(ctx context.Context) error {
	if s.cfg.authn == nil {
		return nil
	}
	return s.cfg.authn.StillValid(ctx)
}

// now is the server's clock.
func (s *Server) now() time.Time { return s.cfg.now() }

// accessControl wires authentication, authorization, views by role, agent
// scopes and the recording of reads (see WithAccessControl). Its
// interceptors run before the ones given with WithInterceptors, its append
// check before the ones given with WithAppendCheck; views and principals
// given explicitly are kept.
func (s *Server) accessControl() {
	a := s.cfg.authn
	s.cfg.unary = append([]grpc.UnaryServerInterceptor{a.UnaryServerInterceptor(), authz.UnaryServerInterceptor(), s.accessUnary}, s.cfg.unary...)
	s.cfg.stream = append([]grpc.StreamServerInterceptor{a.StreamServerInterceptor(), authz.StreamServerInterceptor(), s.accessStream}, s.cfg.stream...)
	if s.cfg.principal == nil {
		s.cfg.principal = func(ctx context.Context) string {
			p, _ := auth.FromContext(ctx)
			return p.Name
		}
	}
	if s.cfg.views == nil {
		red := s.cfg.redactor
		s.cfg.views = func(ctx context.Context) (View, error) {
			p, _ := auth.FromContext(ctx)
			switch p.Role {
			case auth.Compliance:
				return FullView{}, nil
			case auth.Developer:
				return RedactedView{Redactor: red, Viewer: p.Name, Timing: s.cfg.metrics.Redaction, Cache: s.viewCache}, nil
			case auth.Admin:
				return MetadataView{}, nil
			}
			return nil, status.Error(codes.PermissionDenied, "permission denied: this role may not read the trail")
		}
	}
	scope := func(ctx context.Context, ev *agenttrailv1.Event) error {
		if err := a.StillValid(ctx); err != nil {
			return err
		}
		p, _ := auth.FromContext(ctx)
		if p.AgentID != "" && ev.GetAgentId() != p.AgentID {
			return status.Error(codes.PermissionDenied, "event.agent_id: outside this key's scope: it may append events of one agent id only")
		}
		return nil
	}
	s.cfg.appendChecks = append([]func(context.Context, *agenttrailv1.Event) error{scope}, s.cfg.appendChecks...)
}

// Shutdown stops the server (see the package documentation for the order).
// When ctx ends before every call has finished, remaining connections are
// closed at once; events acknowledged before then are durable regardless.
//
// Streams whose clients stop reading are cut soon after shutdown begins
// (shutdownSendTimeout), with a log line each, so that they do not hold it
// for the whole deadline. Calls still running at the deadline are cut, with
// a log line saying how many, and Shutdown returns ErrShutdownDeadline:
// nothing acknowledged is lost either way, since an event is acknowledged
// only once it is durable.
func (s *Server) Shutdown(ctx context.Context) error {
	s.health.Shutdown() // NOT_SERVING, so load balancers move away first
	s.closeOnce.Do(func() { close(s.closing) })
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var idleSince time.Time
	for {
		select {
		case <-done:
			return nil
		case <-tick.C:
			// Every call has ended, but a connection still holds the end
			// of one (its status, queued behind responses its client does
			// not read): close the connections.
			if s.active.Load() != 0 {
				idleSince = time.Time{}
				continue
			}
			if idleSince.IsZero() {
				idleSince = time.Now()
			}
			if time.Since(idleSince) > shutdownSendTimeout {
				s.log.Warn("shutting down: closing connections whose clients do not read the end of their calls")
				s.grpc.Stop()
				<-done
				return nil
			}
		case <-ctx.Done():
			n := s.active.Load()
			s.log.Warn("shutdown deadline passed: cutting the calls still running; every event acknowledged to them is durable", slog.Int64("calls", n))
			s.grpc.Stop()
			<-done
			return fmt.Errorf("%w: %d calls cut: %w", ErrShutdownDeadline, n, ctx.Err())
		}
	}
}

// ErrShutdownDeadline is returned by Shutdown when calls were still running
// at its deadline and were cut. Nothing acknowledged is lost.
var ErrShutdownDeadline = errors.New("server: stopped hard at the shutdown deadline")

// countUnary and countStream keep the number of calls in progress, for the
// shutdown log.
func (s *Server) countUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.active.Add(1)
	defer s.active.Add(-1)
	return handler(ctx, req)
}

func (s *Server) countStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	s.active.Add(1)
	defer s.active.Add(-1)
	return handler(srv, ss)
}

// shuttingDown reports whether Shutdown has begun.
func (s *Server) shuttingDown() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// tokenBucket is the rate limiter behind ratelimit's interceptors.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// Limit implements ratelimit.Limiter. Health checks are never limited.
func (b *tokenBucket) Limit(ctx context.Context) error {
	if m, ok := grpc.Method(ctx); ok && strings.HasPrefix(m, "/grpc.health.v1.Health/") {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return errRateLimited
	}
	b.tokens--
	return nil
}

var errRateLimited = errors.New("too many calls: the server's rate limit was reached, retry with backoff")

// byteBudget bounds the bytes of events in flight over all Append streams.
type byteBudget struct {
	sem   *semaphore.Weighted
	total int64
}

func newByteBudget(total int64) *byteBudget {
	return &byteBudget{sem: semaphore.NewWeighted(total), total: total}
}

// acquire takes n bytes, waiting while they are not free; an event larger
// than the whole budget takes all of it. It fails when ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	return b.sem.Acquire(ctx, min(n, b.total))
}

func (b *byteBudget) release(n int64) { b.sem.Release(min(n, b.total)) }
