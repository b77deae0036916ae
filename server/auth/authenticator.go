package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/agenttrail/agenttrail/store"
)

// Authenticator turns the credentials of a call into a Principal.
type Authenticator struct {
	keys  CredentialStore
	rules []CertRule
	now   func() time.Time
	log   *slog.Logger
}

// New returns an authenticator of API keys (from keys) and of client
// certificates (by rules; none when nil). The server must be set up to
// verify client certificates against its CA for the rules to apply.
func New(keys CredentialStore, rules []CertRule, log *slog.Logger) (*Authenticator, error) {
	if keys == nil {
		return nil, errors.New("auth: nil key store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{keys: keys, rules: rules, now: time.Now, log: log}, nil
}

var (
	errMissing = status.Error(codes.Unauthenticated, "missing credentials: send an API key as 'authorization: Bearer <key>' or a client certificate")
	errInvalid = status.Error(codes.Unauthenticated, "invalid credentials")
)

// Authenticate is a grpcauth.AuthFunc: it returns the call's context with
// the caller's Principal, or UNAUTHENTICATED.
func (a *Authenticator) Authenticate(ctx context.Context) (context.Context, error) {
	if p, ok := ctx.Value(frontEndKey{}).(Principal); ok {
		// The front end checked the key once; check on every call that
		// it still holds, as a bearer key is checked on every call.
		ctx = WithPrincipal(ctx, p)
		if err := a.StillValid(ctx); err != nil {
			return nil, err
		}
		return ctx, nil
	}
	if vals := metadata.ValueFromIncomingContext(ctx, "authorization"); len(vals) > 0 {
		if len(vals) > 1 {
			return nil, errInvalid
		}
		scheme, key, ok := strings.Cut(vals[0], " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || key == "" {
			return nil, errInvalid
		}
		p, err := a.AuthenticateKey(ctx, strings.TrimSpace(key))
		if err != nil {
			return nil, err
		}
		ctx = WithPrincipal(ctx, p)
		return context.WithValue(ctx, recheckKey{}, &recheck{checked: a.now()}), nil
	}
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 && len(info.State.VerifiedChains[0]) > 0 {
			cert := info.State.VerifiedChains[0][0]
			if pr, ok := match(a.rules, cert); ok {
				return WithPrincipal(ctx, pr), nil
			}
			return nil, errInvalid
		}
	}
	return nil, errMissing
}

// AuthenticateKey returns the principal of an active API key, or
// UNAUTHENTICATED (UNAVAILABLE when the keys could not be read).
func (a *Authenticator) AuthenticateKey(ctx context.Context, key string) (Principal, error) {
	c, err := CheckAPIKey(ctx, a.keys, key, a.now())
	if err != nil {
		if !errors.Is(err, ErrBadKey) {
			a.log.ErrorContext(ctx, "checking an API key failed", slog.Any("error", err))
			return Principal{}, status.Error(codes.Unavailable, "credentials could not be checked; retry")
		}
		return Principal{}, errInvalid
	}
	return Principal{
		Name: c.Principal, Role: Role(c.Role), AgentID: c.AgentID, KeyID: c.ID, Method: "api_key", Expires: c.ExpiresAt,
	}, nil
}

type frontEndKey struct{}

// WithFrontEndPrincipal returns a context that Authenticate accepts as
// authenticated by p, before any credential of the call. It is for
// in-process front ends that authenticate callers themselves and then hand
// the call to the gRPC handlers through grpc.Server.ServeHTTP, such as the
// web console, whose sign-in checks an API key once and whose session
// cookie then stands for it (p.Method "console_session", p.Expires the
// earlier of the session's and the key's expiry, p.KeyID the key's id so
// that revoking the key ends the session's calls). Nothing a remote caller
// sends can set it.
func WithFrontEndPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, frontEndKey{}, p)
}

// AuthenticateHTTP authenticates an HTTP request (OTLP/HTTP, the HTTP
// listener's APIs) by the same rules as a gRPC call: its Authorization
// header, a bearer API key, else its verified client certificate. It
// returns the request's context with the caller's Principal, or an
// UNAUTHENTICATED (or, when keys cannot be checked, UNAVAILABLE) status.
func (a *Authenticator) AuthenticateHTTP(r *http.Request) (context.Context, error) {
	md := metadata.MD{}
	for _, v := range r.Header.Values("Authorization") {
		md.Append("authorization", v)
	}
	ctx := metadata.NewIncomingContext(r.Context(), md)
	if r.TLS != nil {
		ctx = peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: *r.TLS}})
	}
	return a.Authenticate(ctx)
}

// RecheckInterval is how often StillValid looks an API key up again during
// one call: a key revoked while its streams are open stops working on them
// within this long. Expiry is checked on every call of StillValid.
const RecheckInterval = time.Second

// recheck is the time the key of a call was last found valid, shared by
// every StillValid of the call (an Append stream calls it for each event).
type recheck struct {
	mu      sync.Mutex
	checked time.Time
}

type recheckKey struct{}

// StillValid checks, during a long call, that the caller's credential still
// holds: its key is not revoked and has not expired, its certificate has
// not expired. Revoking a key ends the streams it opened: the key is looked
// up again at most once per RecheckInterval of each call, so that a stream
// of many events costs one lookup a second, not one per event.
func (a *Authenticator) StillValid(ctx context.Context) error {
	p, ok := FromContext(ctx)
	if !ok {
		return errMissing
	}
	now := a.now()
	if !p.Expires.IsZero() && !now.Before(p.Expires) {
		return status.Error(codes.Unauthenticated, "the credential expired")
	}
	if p.KeyID != "" {
		rc, _ := ctx.Value(recheckKey{}).(*recheck)
		if rc != nil {
			rc.mu.Lock()
			fresh := now.Sub(rc.checked) >= 0 && now.Sub(rc.checked) < RecheckInterval
			rc.mu.Unlock()
			if fresh {
				return nil
			}
		}
		c, err := a.keys.Credential(ctx, p.KeyID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			// The storage could not answer (a database restarting): that
			// says nothing about the key.
			a.log.WarnContext(ctx, "re-checking an API key failed", slog.Any("error", err))
			return status.Error(codes.Unavailable, "credentials could not be checked; retry")
		}
		if err != nil || !c.Active(now) {
			return status.Error(codes.Unauthenticated, "the API key was revoked")
		}
		if rc != nil {
			rc.mu.Lock()
			rc.checked = now
			rc.mu.Unlock()
		}
	}
	return nil
}

// open reports whether a method needs no credentials: health checks and
// server reflection.
func open(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.Health/") ||
		strings.HasPrefix(method, "/grpc.reflection.v1.ServerReflection/") ||
		strings.HasPrefix(method, "/grpc.reflection.v1alpha.ServerReflection/")
}

var needsCredentials = selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool { return !open(c.FullMethod()) })

// UnaryServerInterceptor authenticates every unary call but health checks
// and reflection.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(a.Authenticate), needsCredentials)
}

// StreamServerInterceptor authenticates every streaming call but health
// checks and reflection.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return selector.StreamServerInterceptor(grpcauth.StreamServerInterceptor(a.Authenticate), needsCredentials)
}

// IsOpen reports whether a method is reachable without credentials.
func IsOpen(method string) bool { return open(method) }
