package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// watchdog notices a send that a client does not read. gRPC offers no
// deadline for one Send; the only way to unblock it is to end the stream,
// which a handler does by returning. So the work of a streaming handler runs
// in its own goroutine and marks each send; the handler watches, and
// returns if a send stays blocked too long.
type watchdog struct {
	since atomic.Int64 // unix nanos when the blocked send began; 0 when none
}

// send runs f, a Send on the stream, marked as a send.
func (w *watchdog) send(f func() error) error {
	w.since.Store(time.Now().UnixNano())
	err := f()
	w.since.Store(0)
	return err
}

var (
	errStalled         = status.Error(codes.ResourceExhausted, "the client stopped reading responses; the stream was ended to free its resources")
	errStalledShutdown = status.Error(codes.Unavailable, "the server is shutting down and the client stopped reading responses; the stream was ended")
)

// shutdownSendTimeout is how long, once the server shuts down, a send may
// stay blocked before its stream is cut: a client that does not read must
// not hold the shutdown for the whole of its deadline.
const shutdownSendTimeout = 2 * time.Second

// supervise runs work and returns its error, or errStalled as soon as one of
// its sends has been blocked for longer than the server's send timeout (or,
// once the server shuts down, than shutdownSendTimeout).
func (s *Server) supervise(ctx context.Context, work func(w *watchdog) error) error {
	w := &watchdog{}
	done := make(chan error, 1)
	go func() { done <- work(w) }()
	tick := time.NewTicker(min(s.cfg.sendTimeout/4, shutdownSendTimeout/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			t := w.since.Load()
			if t == 0 {
				continue
			}
			blocked := time.Since(time.Unix(0, t))
			switch {
			case blocked > s.cfg.sendTimeout:
				s.log.InfoContext(ctx, "ending a stream whose client stopped reading")
				return errStalled
			case s.shuttingDown() && blocked > min(s.cfg.sendTimeout, shutdownSendTimeout):
				s.log.WarnContext(ctx, "shutting down: cut a stream whose client stopped reading",
					slog.Duration("blocked", blocked.Round(time.Millisecond)), slog.String("peer", peerAddr(ctx)))
				return errStalledShutdown
			}
		}
	}
}

// peerAddr is the address of a call's client, for logs.
func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}

// untilShutdown returns a context that also ends when Shutdown begins.
func (s *Server) untilShutdown(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-s.closing:
			cancel(errShuttingDown)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}
