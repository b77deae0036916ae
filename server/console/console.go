package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agenttrail/agenttrail/server/auth"
)

// Options configure a Console.
type Options struct {
	// API serves the browser API (server.BrowserHandler). Required.
	API http.Handler
	// Services are the full names of the services API serves
	// (server.BrowserServices); the console routes their paths to it.
	Services []string
	// Keys checks API keys at sign-in. Required.
	Keys *auth.Authenticator
	// Secure says the listener serves TLS: cookies are then Secure and
	// __Host- prefixed, and responses carry Strict-Transport-Security.
	Secure bool
	// SessionTTL is how long a sign-in lasts (default 8h); never longer
	// than the key itself.
	SessionTTL time.Duration
	// MaxSessions bounds the sessions held at once (default 10000).
	MaxSessions int
	// Logger logs sign-ins and refusals (never keys or tokens).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Console is the web console's HTTP side.
type Console struct {
	opts     Options
	sessions *sessions
	assets   http.Handler
	api      http.Handler
	cookie   string
	log      *slog.Logger
	stop     chan struct{}
	stopOnce sync.Once
	csrf     *http.CrossOriginProtection
}

// New returns a console. Close it after the HTTP server has stopped.
func New(opts Options) (*Console, error) {
	if opts.API == nil || opts.Keys == nil {
		return nil, errors.New("console: the API handler and the key authenticator are required")
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.SessionTTL < time.Second {
		return nil, errors.New("console: session TTL must be at least a second")
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{
		opts:     opts,
		sessions: newSessions(opts.MaxSessions, opts.Now),
		assets:   http.FileServerFS(embedded), // /assets/<name> is assets/<name> in it
		cookie:   "agenttrail_session",
		log:      opts.Logger,
		stop:     make(chan struct{}),
		csrf:     http.NewCrossOriginProtection(),
	}
	if opts.Secure {
		c.cookie = "__Host-agenttrail_session"
	}
	c.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "permission_denied", "cross-origin request refused: use the console from its own address")
	}))
	c.api = c.csrf.Handler(http.HandlerFunc(c.serveAPI))
	go c.sweep()
	return c, nil
}

// Register adds the console's routes to mux: the page at /, its assets,
// sign-in and sign-out under /console/, and the browser API at
// /agenttrail.v1.<Service>/.
func (c *Console) Register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", c.headers(http.HandlerFunc(c.serveIndex)))
	mux.Handle("GET /assets/", c.headers(http.HandlerFunc(c.serveAsset)))
	mux.Handle("POST /console/signin", c.headers(c.csrf.Handler(http.HandlerFunc(c.signIn))))
	mux.Handle("POST /console/signout", c.headers(c.csrf.Handler(http.HandlerFunc(c.signOut))))
	mux.Handle("GET /console/session", c.headers(http.HandlerFunc(c.current)))
	for _, s := range c.opts.Services {
		mux.Handle("/"+s+"/", c.headers(c.api))
	}
}

// Close ends every session (and so every call made with one).
func (c *Console) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	c.sessions.closeAll()
	return nil
}

// sweep drops expired sessions once a minute until Close.
func (c *Console) sweep() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.sessions.sweep()
		}
	}
}

func (c *Console) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, Assets(), "index.html")
}

func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	if fi, err := fs.Stat(embedded, strings.TrimPrefix(r.URL.Path, "/")); err != nil || fi.IsDir() {
		http.NotFound(w, r)
		return
	}
	// Names carry a hash of the content.
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	c.assets.ServeHTTP(w, r)
}

// sessionInfo is what the page learns about its session.
type sessionInfo struct {
	Principal string    `json:"principal"`
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrfToken"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func infoOf(s *session) sessionInfo {
	return sessionInfo{Principal: s.principal.Name, Role: string(s.principal.Role), CSRFToken: s.csrf, ExpiresAt: s.principal.Expires}
}

// signIn exchanges an API key for a session cookie.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "invalid_argument", `send {"key": "<API key>"} as application/json`)
		return
	}
	var body struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil || strings.TrimSpace(body.Key) == "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", "key: paste an API key (it starts with at_)")
		return
	}
	p, err := c.opts.Keys.AuthenticateKey(r.Context(), strings.TrimSpace(body.Key))
	if err != nil {
		c.log.InfoContext(r.Context(), "console sign-in refused", slog.String("reason", "invalid key"), slog.String("remote", r.RemoteAddr))
		writeError(w, http.StatusUnauthorized, "unauthenticated", "this API key is not valid: it may be mistyped, revoked or expired")
		return
	}
	if !p.Role.Human() {
		c.log.InfoContext(r.Context(), "console sign-in refused", slog.String("reason", "role"), slog.String("principal", p.Name), slog.String("role", string(p.Role)))
		writeError(w, http.StatusForbidden, "permission_denied", "this is an agent key: agents only append events. Sign in with a developer, compliance or admin key")
		return
	}
	p.Method = "console_session"
	token, sess, err := c.sessions.create(p, c.opts.Now().Add(c.opts.SessionTTL))
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "too many console sessions are open; try again later")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.cookie, Value: token, Path: "/", Expires: sess.principal.Expires,
		HttpOnly: true, Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode,
	})
	c.log.InfoContext(r.Context(), "console sign-in", slog.String("principal", p.Name), slog.String("role", string(p.Role)), slog.String("key_id", p.KeyID))
	writeJSON(w, http.StatusOK, infoOf(sess))
}

// signOut ends the session and clears its cookie.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(c.cookie); err == nil {
		if sess, ok := c.sessions.lookup(ck.Value); ok {
			if !sess.checkCSRF(r.Header.Get("X-CSRF-Token")) {
				writeError(w, http.StatusForbidden, "permission_denied", "missing or wrong X-CSRF-Token: reload the console")
				return
			}
			c.log.InfoContext(r.Context(), "console sign-out", slog.String("principal", sess.principal.Name))
		}
		c.sessions.remove(ck.Value)
	}
	c.clearCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// current tells the page who is signed in, with the CSRF token to send.
func (c *Console) current(w http.ResponseWriter, r *http.Request) {
	sess, ok := c.session(r)
	if !ok {
		c.clearCookie(w)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "not signed in")
		return
	}
	writeJSON(w, http.StatusOK, infoOf(sess))
}

func (c *Console) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: c.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode})
}

// session returns the live session of a request's cookie.
func (c *Console) session(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(c.cookie)
	if err != nil || ck.Value == "" {
		return nil, false
	}
	return c.sessions.lookup(ck.Value)
}

// serveAPI hands an API call to the browser API: with the session's
// principal when it carries the session cookie (and the CSRF token), as it
// is when it carries a bearer key instead.
func (c *Console) serveAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ck, err := r.Cookie(c.cookie)
	if err != nil {
		// No cookie: a script with its own credentials, checked by the
		// gRPC interceptors as usual.
		c.opts.API.ServeHTTP(w, r)
		return
	}
	if r.Header.Get("Authorization") != "" {
		writeError(w, http.StatusBadRequest, "invalid_argument", "send either the session cookie or an authorization header, not both")
		return
	}
	sess, ok := c.sessions.lookup(ck.Value)
	if !ok {
		c.clearCookie(w)
		writeError(w, http.StatusUnauthorized, "unauthenticated", "your console session ended: sign in again")
		return
	}
	if !sess.checkCSRF(r.Header.Get("X-CSRF-Token")) {
		writeError(w, http.StatusForbidden, "permission_denied", "missing or wrong X-CSRF-Token: reload the console")
		return
	}
	ctx, cancel := context.WithCancel(auth.WithFrontEndPrincipal(r.Context(), sess.principal))
	defer cancel()
	stop := context.AfterFunc(sess.ctx, cancel) // sign-out and expiry end the call
	defer stop()
	r = r.WithContext(ctx)
	r.Header.Del("Cookie")
	r.Header.Del("X-CSRF-Token")
	c.opts.API.ServeHTTP(w, r)
}

// writeError writes an error as JSON in the shape of a Connect error, so
// that Connect clients report its code and message.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"code": code, "message": message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
