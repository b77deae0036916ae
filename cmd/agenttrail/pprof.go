package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startProfiling serves Go's runtime profiles (net/http/pprof: CPU, heap,
// goroutines, mutex and block contention) on their own loopback listener,
// for `serve --pprof-listen`: go tool pprof http://ADDR/debug/pprof/profile.
// Profiles describe the process, never event content, but they are for the
// operator alone, so the address must be a loopback one. stop closes the
// listener.
func startProfiling(addr string, out io.Writer, log *slog.Logger) (stop func(), err error) {
	if !isLoopback(addr) {
		return nil, usageError{fmt.Sprintf("--pprof-listen %s: profiles are served on a loopback address only (127.0.0.1:PORT)", addr)}
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiling listener stopped", slog.Any("error", err))
		}
	}()
	fmt.Fprintf(out, "profiles on http://%s/debug/pprof/\n", lis.Addr())
	return func() { srv.Close() }, nil
}
