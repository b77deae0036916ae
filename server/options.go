package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/metrics"
	"github.com/agenttrail/agenttrail/store"
)

// An Option configures New.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	logger          *slog.Logger
	maxMessageBytes int
	maxHeaderBytes  uint32
	inFlightEvents  int
	inFlightBytes   int64
	maxStreams      uint32
	sendTimeout     time.Duration
	rateLimit       float64
	rateBurst       int
	views           ViewSelector // nil: the default (full view, or by role under access control)
	principal       func(ctx context.Context) string
	appendChecks    []func(ctx context.Context, ev *agenttrailv1.Event) error
	authn           *auth.Authenticator
	redactor        EventRedactor
	accessFunc      func(st *store.Store) (*auth.Authenticator, EventRedactor, error)
	now             func() time.Time
	metrics         *metrics.Metrics
	unary           []grpc.UnaryServerInterceptor
	stream          []grpc.StreamServerInterceptor
	// streamMessages: interceptors given with WithInterceptors see every
	// response as its message (see itemSender.messages).
	streamMessages bool
	grpcOptions    []grpc.ServerOption
	viewCacheBytes int64
	cosigned       func() store.Checkpoint
}

func defaultConfig() config {
	return config{
		logger:          slog.New(slog.DiscardHandler),
		maxMessageBytes: 4 << 20,
		maxHeaderBytes:  16 << 10,
		inFlightEvents:  1024,
		inFlightBytes:   256 << 20,
		maxStreams:      128,
		sendTimeout:     30 * time.Second,
		rateLimit:       1000,
		rateBurst:       2000,
		now:             time.Now,
		viewCacheBytes:  DefaultViewCacheBytes,
	}
}

// DefaultViewCacheBytes is the budget of the cache of developer views when
// WithViewCache is not given.
const DefaultViewCacheBytes = 32 << 20

// WithViewCache sets the budget, in bytes of encoded events, of the cache
// of developer views (see ViewCache). 0 turns it off.
func WithViewCache(bytes int64) Option {
	return optionFunc(func(c *config) error {
		if bytes < 0 {
			return fmt.Errorf("server: view cache budget %d is negative", bytes)
		}
		c.viewCacheBytes = bytes
		return nil
	})
}

// WithLogger sets the logger for calls and failures. Payloads are never
// logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return fmt.Errorf("server: nil logger")
		}
		c.logger = l
		return nil
	})
}

// WithMaxMessageSize sets the largest message the server receives or sends
// (default 4 MiB). A larger request ends its call with RESOURCE_EXHAUSTED.
func WithMaxMessageSize(bytes int) Option {
	return optionFunc(func(c *config) error {
		if bytes < 64<<10 {
			return fmt.Errorf("server: max message size %d is below 64 KiB", bytes)
		}
		c.maxMessageBytes = bytes
		return nil
	})
}

// WithMaxHeaderListSize bounds the metadata (HTTP/2 header list) of a call
// the server accepts (default 16 KiB). gRPC enforces it as the headers
// arrive, before any interceptor runs, so that an unauthenticated caller
// cannot make the server hold large headers: a call over the bound fails
// without reaching authentication.
func WithMaxHeaderListSize(bytes uint32) Option {
	return optionFunc(func(c *config) error {
		if bytes < 4<<10 {
			return fmt.Errorf("server: max header list size %d is below 4 KiB", bytes)
		}
		c.maxHeaderBytes = bytes
		return nil
	})
}

// WithInFlight bounds the events an Append stream may have handed to the
// store without their receipts sent (default 1024), and the bytes of such
// events over all streams (default 256 MiB). A stream at its bound stops
// reading until receipts go out, so a slow or stalled client is held back
// by gRPC flow control instead of making the server buffer.
func WithInFlight(eventsPerStream int, totalBytes int64) Option {
	return optionFunc(func(c *config) error {
		if eventsPerStream < 1 || totalBytes < 1<<20 {
			return fmt.Errorf("server: in-flight bounds must be at least 1 event and 1 MiB")
		}
		c.inFlightEvents, c.inFlightBytes = eventsPerStream, totalBytes
		return nil
	})
}

// WithMaxStreams bounds the concurrent streams of one connection (default
// 128).
func WithMaxStreams(n uint32) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return fmt.Errorf("server: max streams must be positive")
		}
		c.maxStreams = n
		return nil
	})
}

// WithSendTimeout sets how long a response may wait for a client to read it
// (default 30s). A client that stops reading for longer has its stream ended
// with RESOURCE_EXHAUSTED, so it cannot hold server resources forever.
func WithSendTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("server: send timeout must be positive")
		}
		c.sendTimeout = d
		return nil
	})
}

// WithRateLimit sets the calls per second the server accepts, with a burst
// (defaults 1000/s, burst 2000). Calls over the limit fail with
// RESOURCE_EXHAUSTED. A stream counts once, at its start; the events it
// carries are paced by WithInFlight instead. Health checks are not
// counted, so that probes keep answering during a storm of calls.
func WithRateLimit(perSecond float64, burst int) Option {
	return optionFunc(func(c *config) error {
		if perSecond <= 0 || burst < 1 {
			return fmt.Errorf("server: rate limit must be positive")
		}
		c.rateLimit, c.rateBurst = perSecond, burst
		return nil
	})
}

// WithViews sets how the view of each caller is chosen. The default shows
// every caller the full view, which is only right when access control
// happens elsewhere; under WithAccessControl it is the view of the caller's
// role, and an explicit WithViews replaces that.
func WithViews(v ViewSelector) Option {
	return optionFunc(func(c *config) error {
		if v == nil {
			return fmt.Errorf("server: nil view selector")
		}
		c.views = v
		return nil
	})
}

// WithPrincipal sets how the name of the caller of an Append is found; it is
// committed in the header of every event the caller appends. The default is
// "anonymous", or under WithAccessControl the authenticated principal; an
// explicit WithPrincipal replaces either.
func WithPrincipal(f func(ctx context.Context) string) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return fmt.Errorf("server: nil principal function")
		}
		c.principal = f
		return nil
	})
}

// WithAppendCheck adds a check every event of an Append stream passes
// before it reaches the store. Checks add up: each one given runs, in
// order, after access control's own (the caller's key still valid, the
// agent scope). An error (a status) rejects that event alone.
func WithAppendCheck(f func(ctx context.Context, ev *agenttrailv1.Event) error) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return fmt.Errorf("server: nil append check")
		}
		c.appendChecks = append(c.appendChecks, f)
		return nil
	})
}

// WithAccessControl turns on access control, as docs/architecture.md's
// roles and views describe: every call but health checks and reflection is authenticated
// (package auth) and checked against the role table (package authz); readers
// get the view of their role (developer: redacted with r; compliance: full;
// admin: metadata; agents read nothing); an agent key scoped to an agent id
// appends only that agent's events, and a revoked key stops working on
// streams already open; every read by a human role is appended to the trail
// as an Access event; and AdminService is served.
func WithAccessControl(a *auth.Authenticator, r EventRedactor) Option {
	return optionFunc(func(c *config) error {
		if a == nil || r == nil {
			return fmt.Errorf("server: access control needs an authenticator and a redactor")
		}
		if c.authn != nil || c.accessFunc != nil {
			return fmt.Errorf("server: access control is given twice")
		}
		c.authn, c.redactor = a, r
		return nil
	})
}

// WithAccessControlFunc is WithAccessControl for an authenticator that
// needs the server's store (to look keys up): f is called by New with it.
func WithAccessControlFunc(f func(st *store.Store) (*auth.Authenticator, EventRedactor, error)) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return fmt.Errorf("server: nil access control function")
		}
		if c.authn != nil || c.accessFunc != nil {
			return fmt.Errorf("server: access control is given twice")
		}
		c.accessFunc = f
		return nil
	})
}

// WithInterceptors adds interceptors after recovery, logging and the rate
// limit: authentication and authorization go here. Stream interceptors
// given here see every Query response as an *agenttrailv1.QueryResponse
// (without them, Query sends responses it encoded itself).
func WithInterceptors(unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) Option {
	return optionFunc(func(c *config) error {
		c.unary = append(c.unary, unary...)
		c.stream = append(c.stream, stream...)
		c.streamMessages = c.streamMessages || len(stream) > 0
		return nil
	})
}

// WithGRPCOptions adds grpc.ServerOptions, such as transport credentials.
func WithGRPCOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(c *config) error {
		c.grpcOptions = append(c.grpcOptions, opts...)
		return nil
	})
}

// WithCosignedCheckpoints serves the checkpoints witnesses cosigned:
// cosigned returns the newest checkpoint a quorum of them cosigned (a zero
// Checkpoint when there is none yet), such as witness.Submitter.Cosigned.
// GetCheckpoint then serves it on request, and in place of the latest
// checkpoint when they are of the same size.
func WithCosignedCheckpoints(cosigned func() store.Checkpoint) Option {
	return optionFunc(func(c *config) error {
		if cosigned == nil {
			return fmt.Errorf("server: nil cosigned checkpoint source")
		}
		c.cosigned = cosigned
		return nil
	})
}

// WithMetrics records what the server does in m (package metrics): events
// appended and refused, acknowledgement latency, reads and tails by role,
// redaction time, OTLP spans. Without it nothing is recorded.
func WithMetrics(m *metrics.Metrics) Option {
	return optionFunc(func(c *config) error {
		c.metrics = m
		return nil
	})
}
