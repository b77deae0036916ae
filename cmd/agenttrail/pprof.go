package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime/pprof"
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
	mux.HandleFunc("/debug/pprof/", httppprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiling listener stopped", slog.Any("error", err))
		}
	}()
	fmt.Fprintf(out, "profiles on http://%s/debug/pprof/\n", lis.Addr())
	return func() { srv.Close() }, nil
}

// cpuProfileFlag is --cpuprofile FILE, shared by the commands whose own
// CPU time is worth profiling (bench, export, verify): a CPU profile of the
// command's process, readable with go tool pprof. Like the serve profiles,
// it describes the process, never event content.
type cpuProfileFlag struct{ file string }

// addCPUProfileFlag adds --cpuprofile to fs; what says what is profiled.
func addCPUProfileFlag(fs *flag.FlagSet, what string) *cpuProfileFlag {
	p := &cpuProfileFlag{}
	fs.StringVar(&p.file, "cpuprofile", "", "write a CPU profile of "+what+" to `file` (go tool pprof reads it)")
	return p
}

// start starts the profile when the flag is set; stop ends it and closes
// the file, and reports a profile that could not be written.
func (p *cpuProfileFlag) start() (stop func() error, err error) {
	if p.file == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(p.file)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}
