package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/console"
	"github.com/agenttrail/agenttrail/server/metrics"
)

// webConfig is the HTTP listener's configuration.
type webConfig struct {
	listen     string      // host:port, or "off"
	tls        *tls.Config // the gRPC listener's TLS, when it has one
	sessionTTL time.Duration
}

func (w webConfig) off() bool { return w.listen == "off" }

// check refuses an HTTP listener beyond loopback without TLS, as for gRPC.
func (w webConfig) check() error {
	if w.off() {
		return nil
	}
	if _, _, err := net.SplitHostPort(w.listen); err != nil {
		return usageError{fmt.Sprintf("--http-listen %q: want host:port or off", w.listen)}
	}
	if !isLoopback(w.listen) && w.tls == nil {
		return usageError{fmt.Sprintf("refusing to serve HTTP on %s without TLS: API keys and session cookies would cross the network in the clear. Give --tls-cert and --tls-key, or use --http-listen 127.0.0.1:7701", w.listen)}
	}
	return nil
}

// httpMux builds the HTTP listener's one mux. Each feature adds its routes
// here, in one line.
func httpMux(web *console.Console, srv *server.Server, m *metrics.Metrics, logTiles http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	web.Register(mux)                           // web console at /, its browser API at /agenttrail.v1.<Service>/ (issue 15)
	mux.Handle("GET /metrics", m.Handler())     // Prometheus metrics (issue 14)
	mux.Handle("/v1/traces", srv.OTLPHandler()) // OTLP/HTTP trace export, protobuf (issue 14)
	mux.Handle("GET /checkpoint", logTiles)     // C2SP tlog-tiles: the checkpoint, cosigned when witnesses did (issue 9)
	mux.Handle("GET /tile/", logTiles)          // C2SP tlog-tiles: hash tiles; no entry bundles (issue 9)
	return mux
}

// httpServer is the running HTTP listener.
type httpServer struct {
	srv     *http.Server
	console *console.Console
	url     string
	failed  chan error // the listener's error, if it stops by itself
}

// startHTTP starts the HTTP listener, or returns nil when it is off.
// logTiles serves the log as C2SP tlog-tiles (server/tiles).
func startHTTP(web webConfig, srv *server.Server, authn *auth.Authenticator, m *metrics.Metrics, logTiles http.Handler, log *slog.Logger) (*httpServer, error) {
	if web.off() {
		return nil, nil
	}
	api, err := srv.BrowserHandler()
	if err != nil {
		return nil, err
	}
	c, err := console.New(console.Options{
		API: api, Services: server.BrowserServices, Keys: authn,
		Secure: web.tls != nil, SessionTTL: web.sessionTTL, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", web.listen)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("--http-listen %s: %w", web.listen, err)
	}
	hs := &httpServer{
		srv: &http.Server{
			Handler:           httpMux(c, srv, m, logTiles),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		console: c,
		failed:  make(chan error, 1),
	}
	scheme := "http"
	if web.tls != nil {
		scheme = "https"
		hs.srv.TLSConfig = web.tls.Clone()
		hs.srv.TLSConfig.ClientAuth = tls.NoClientCert // the console signs in with keys
	}
	hs.url = fmt.Sprintf("%s://%s/", scheme, lis.Addr())
	go func() {
		var err error
		if web.tls != nil {
			err = hs.srv.ServeTLS(lis, "", "") // the certificate is in TLSConfig
		} else {
			err = hs.srv.Serve(lis)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			hs.failed <- err
		}
	}()
	return hs, nil
}

// shutdown stops accepting connections and waits for open requests, which
// the gRPC server's Shutdown ends (tails) or lets finish.
func (hs *httpServer) shutdown(ctx context.Context) error {
	if hs == nil {
		return nil
	}
	if err := hs.srv.Shutdown(ctx); err != nil {
		hs.srv.Close()
		return fmt.Errorf("HTTP listener: %w", err)
	}
	return nil
}
