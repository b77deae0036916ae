package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/metrics"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/server/tiles"
	"github.com/agenttrail/agenttrail/server/witness"
	"github.com/agenttrail/agenttrail/store"
)

func init() {
	register(command{name: "serve", summary: "run the agenttrail server", setup: serveCommand})
}

func serveCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	var loc storeLocation
	loc.addFlags(fs, "./agenttrail-data", "data `directory` (created if missing)", true)
	listen := fs.String("listen", "127.0.0.1:7700", "address to listen on (host:port; port 0 picks a free one)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key, serve TLS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	origin := fs.String("origin", "", "checkpoint origin line of a new log (default: agenttrail.local/<random>)")
	checkpointInterval := fs.Duration("checkpoint-interval", time.Second, "sign a checkpoint at most this often while events arrive (0: every batch)")
	maxEvent := fs.Int("max-event-size", 1<<20, "largest event accepted, in bytes")
	maxMessage := fs.Int("max-message-size", 4<<20, "largest gRPC message received or sent, in bytes")
	inFlight := fs.Int("in-flight", 1024, "events one Append stream may have awaiting receipts")
	inFlightBytes := fs.Int64("in-flight-bytes", 256<<20, "bytes of events awaiting receipts over all streams")
	maxStreams := fs.Uint("max-streams", 128, "concurrent streams per connection")
	sendTimeout := fs.Duration("send-timeout", 30*time.Second, "end a stream whose client does not read a response for this long")
	rate := fs.Float64("rate-limit", 1000, "calls per second accepted (a stream counts once)")
	burst := fs.Int("rate-burst", 2000, "burst of calls above the rate limit")
	clockSkew := fs.Duration("clock-skew", 5*time.Minute, "how far in the future an event's occurred_at may be")
	cache := fs.Int64("cache-size", 64<<20, "bytes of store caches")
	retentionInterval := fs.Duration("retention-interval", time.Hour, "apply the retention policies this often (at most 1h; 0 turns the job off)")
	var minFree byteSize
	fs.Var(&minFree, "min-free-space", "refuse appends (RESOURCE_EXHAUSTED) while less disk space than this is free, such as 1GiB;\nthey resume once space is freed (default: the driver's, 256MiB for badger: room for Badger to flush and compact)")
	memLimit := byteSize(512 << 20)
	fs.Var(&memLimit, "memory-limit", "soft limit of the process's memory (Go's runtime/debug.SetMemoryLimit), such as 1GiB; 0: none.\nWhen not given, GOMEMLIMIT in the environment is kept if set")
	maxHeader := byteSize(16 << 10)
	fs.Var(&maxHeader, "max-header-size", "largest metadata (header list) of a call, refused before authentication")
	shutdownTimeout := fs.Duration("shutdown-timeout", 15*time.Second, "on SIGINT/SIGTERM, stop hard after this long (streams whose clients stop reading are cut sooner)")
	clientCA := fs.String("client-ca", "", "CA certificate file (PEM) for client certificates (mutual TLS; needs --tls-cert)")
	clientMap := fs.String("client-map", "", "JSON file of rules mapping client certificates to principals and roles")
	policyFile := fs.String("redaction-policy", "", "JSON redaction policy for the developer view (default: the built-in policy)")
	viewCache := fs.Int64("redaction-cache", server.DefaultViewCacheBytes, "bytes of developer views kept, by leaf hash and policy version; 0 turns the cache off")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json (to stderr)")
	httpListen := fs.String("http-listen", "127.0.0.1:7701", "address of the HTTP listener (web console, browser API, Prometheus /metrics, OTLP/HTTP /v1/traces, health), or off")
	consoleTTL := fs.Duration("console-session-ttl", 8*time.Hour, "how long a web console sign-in lasts (never longer than its key)")
	var witnesses listFlag
	fs.Var(&witnesses, "witness", "a witness to cosign each new checkpoint, `NAME=URL+KEY` (repeatable): its name here, its\nURL (agenttrail witness), and its cosignature key; receipts never wait for witnesses")
	pprofListen := fs.String("pprof-listen", "", "serve Go's runtime profiles (net/http/pprof) on this loopback `address`, for\nperformance work (default: off)")
	quorum := fs.Int("witness-quorum", 0, "how many witnesses must cosign a checkpoint for GetCheckpoint(cosigned) to serve it (default: all)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q", args)}
		}
		log, err := newLogger(errOut, *logLevel, *logFormat)
		if err != nil {
			return usageError{err.Error()}
		}
		if loc.url != "" && loc.data == "./agenttrail-data" {
			loc.data = "" // --store replaces the default data directory
		}
		if *maxEvent+1024 > *maxMessage {
			// An event over the event limit must still fit in a message,
			// so that the server refuses it alone instead of gRPC ending
			// the caller's stream.
			return usageError{fmt.Sprintf("--max-event-size (%d) must be at least 1 KiB below --max-message-size (%d)", *maxEvent, *maxMessage)}
		}
		if maxHeader < 4<<10 || maxHeader > 1<<20 {
			return usageError{"--max-header-size must be between 4KiB and 1MiB"}
		}
		applyMemoryLimit(fs, int64(memLimit), log)
		storeURL, _, err := loc.storeURL()
		if err != nil {
			return err
		}
		storeOpts, err := loc.options(errOut)
		if err != nil {
			return err
		}
		storeOpts = append(storeOpts,
			store.WithLogger(log),
			store.WithCheckpointInterval(*checkpointInterval),
			store.WithMaxEventSize(*maxEvent),
			store.WithClockSkew(*clockSkew),
			store.WithCacheBytes(*cache),
			store.WithRetentionInterval(*retentionInterval),
		)
		if minFree != 0 {
			storeOpts = append(storeOpts, store.WithMinFreeSpace(int64(minFree)))
		}
		if *origin != "" {
			storeOpts = append(storeOpts, store.WithOrigin(*origin))
		}
		serverOpts := []server.Option{
			server.WithLogger(log),
			server.WithMaxMessageSize(*maxMessage),
			server.WithInFlight(*inFlight, *inFlightBytes),
			server.WithMaxStreams(uint32(*maxStreams)),
			server.WithSendTimeout(*sendTimeout),
			server.WithRateLimit(*rate, *burst),
			server.WithMaxHeaderListSize(uint32(maxHeader)),
			server.WithViewCache(*viewCache),
		}
		if (*tlsCert == "") != (*tlsKey == "") {
			return usageError{"--tls-cert and --tls-key go together"}
		}
		if (*clientCA == "") != (*clientMap == "") {
			return usageError{"--client-ca and --client-map go together"}
		}
		if *clientCA != "" && *tlsCert == "" {
			return usageError{"--client-ca needs TLS: give --tls-cert and --tls-key"}
		}
		var tlsConfig *tls.Config
		if *tlsCert != "" {
			cfg := &tls.Config{MinVersion: tls.VersionTLS12}
			tlsConfig = cfg
			cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
			if err != nil {
				return fmt.Errorf("loading TLS key pair: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
			if *clientCA != "" {
				pem, err := os.ReadFile(*clientCA)
				if err != nil {
					return err
				}
				cfg.ClientCAs = x509.NewCertPool()
				if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
					return usageError{fmt.Sprintf("--client-ca %s holds no PEM certificate", *clientCA)}
				}
				cfg.ClientAuth = tls.VerifyClientCertIfGiven
			}
			serverOpts = append(serverOpts, server.WithGRPCOptions(grpc.Creds(credentials.NewTLS(cfg))))
		}
		var rules []auth.CertRule
		if *clientMap != "" {
			f, err := os.Open(*clientMap)
			if err != nil {
				return err
			}
			rules, err = auth.LoadCertRules(f)
			f.Close()
			if err != nil {
				return usageError{fmt.Sprintf("--client-map: %v", err)}
			}
		}
		policy := redact.DefaultPolicy()
		if *policyFile != "" {
			f, err := os.Open(*policyFile)
			if err != nil {
				return err
			}
			policy, err = redact.LoadPolicy(f)
			f.Close()
			if err != nil {
				return usageError{fmt.Sprintf("--redaction-policy: %v", err)}
			}
		}
		redactor, err := redact.New(policy)
		if err != nil {
			return usageError{fmt.Sprintf("--redaction-policy: %v", err)}
		}
		if !isLoopback(*listen) && *tlsCert == "" {
			return usageError{fmt.Sprintf("refusing to listen on %s without TLS: API keys would cross the network in the clear. Give --tls-cert and --tls-key, or listen on 127.0.0.1", *listen)}
		}
		var ws []*witness.Client
		for _, spec := range witnesses {
			c, err := witness.ParseSpec(spec)
			if err != nil {
				return usageError{fmt.Sprintf("--witness: %v", err)}
			}
			ws = append(ws, c)
		}
		if *quorum < 0 || *quorum > len(ws) || *quorum > 0 && len(ws) == 0 {
			return usageError{fmt.Sprintf("--witness-quorum %d: between 1 and the number of --witness (%d)", *quorum, len(ws))}
		}
		a := access{rules: rules, redactor: redactor, public: !isLoopback(*listen), witnesses: ws, quorum: *quorum}
		if *pprofListen != "" {
			stop, err := startProfiling(*pprofListen, out, log)
			if err != nil {
				return err
			}
			defer stop()
		}
		web := webConfig{listen: *httpListen, tls: tlsConfig, sessionTTL: *consoleTTL}
		if err := web.check(); err != nil {
			return err
		}
		return serve(ctx, out, log, storeLocation{data: loc.data, url: storeURL}, *listen, *shutdownTimeout, storeOpts, serverOpts, a, web)
	}
}

// serve runs the store and server until ctx ends (SIGINT or SIGTERM), then
// shuts down in order: the HTTP listener and the gRPC server together (the
// server lets in-flight appends and OTLP exports finish and ends tails, on
// both), the web console's sessions, the witness submitter, the metrics'
// watch of the store, then the store.
func serve(ctx context.Context, out io.Writer, log *slog.Logger, loc storeLocation, listen string, shutdownTimeout time.Duration, storeOpts []store.Option, serverOpts []server.Option, a access, web webConfig) error {
	m, err := metrics.New(metrics.Options{})
	if err != nil {
		return err
	}
	storeOpts = append(storeOpts, store.WithCommitObserver(func(c store.CommitInfo) { m.Commit(c.Events, c.Duration) }))
	st, err := store.Open(ctx, loc.url, storeOpts...)
	if err != nil {
		return err
	}
	if f := st.MasterKeyCreated(); f != "" {
		fmt.Fprintf(out, "created the master key of encryption at rest at %s: back it up, apart from the data directory; without it the data cannot be read\n", f)
	}
	keys, err := st.Credentials(ctx)
	if err != nil {
		return errors.Join(err, st.Close())
	}
	where := "--data " + shellQuote(loc.data)
	if loc.data == "" {
		where = "--store " + shellQuote(loc.url)
	}
	if len(keys) == 0 && len(a.rules) == 0 {
		create := selfCommand() + " keys create " + where + " --principal admin --role admin"
		if a.public {
			return errors.Join(usageError{fmt.Sprintf("refusing to listen on %s: no API keys and no client certificate rules exist, so no one could call the server. Create the first admin key with: %s", listen, create)}, st.Close())
		}
		fmt.Fprintf(out, "no API keys exist yet: every call will be refused. Stop this server (Ctrl-C: it holds the data while it runs), create the first admin key with\n  %s\nand start the server again. Once an admin key exists, more keys are made online, while the server runs: keys create --addr ADDR --key ADMIN_KEY ...\n", create)
	}
	authn, err := auth.New(st, a.rules, log)
	if err != nil {
		return errors.Join(err, st.Close())
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	if err := m.WatchStore(watchCtx, logState{st}, loc.data, log); err != nil {
		return errors.Join(err, st.Close())
	}
	serverOpts = append(serverOpts, server.WithAccessControl(authn, a.redactor), server.WithMetrics(m))
	var sub *witness.Submitter
	if len(a.witnesses) > 0 {
		if sub, err = witness.NewSubmitter(st, a.witnesses, a.quorum, log); err != nil {
			return errors.Join(usageError{err.Error()}, st.Close())
		}
		sub.ReportTo(m) // submissions and witness lag, at /metrics
		serverOpts = append(serverOpts, server.WithCosignedCheckpoints(sub.Cosigned))
	}
	srv, err := server.New(st, serverOpts...)
	if err != nil {
		return errors.Join(err, st.Close())
	}
	subCtx, stopSub := context.WithCancel(context.Background())
	subDone := make(chan struct{})
	if sub != nil {
		go func() { defer close(subDone); sub.Run(subCtx) }()
	} else {
		close(subDone)
	}
	stopSubmitter := func() { stopSub(); <-subDone }
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		stopSubmitter()
		return errors.Join(fmt.Errorf("listening on %s: %w", listen, err), st.Close())
	}
	var cosigned func() store.Checkpoint
	if sub != nil {
		cosigned = sub.Cosigned
	}
	hs, err := startHTTP(web, srv, authn, m, tiles.Handler(st, cosigned, log), log)
	if err != nil {
		stopSubmitter()
		return errors.Join(err, lis.Close(), st.Close())
	}
	vk := st.VerifierKey()
	fmt.Fprintf(out, "agenttrail listening on %s\n", lis.Addr())
	if hs != nil {
		fmt.Fprintf(out, "web console: %s\n", hs.url)
		fmt.Fprintf(out, "metrics: %smetrics; OTLP/HTTP traces: %sv1/traces\n", hs.url, hs.url)
	}
	if loc.data != "" {
		fmt.Fprintf(out, "data directory: %s\n", loc.data)
	} else {
		fmt.Fprintf(out, "store: %s\n", redactURL(loc.url))
	}
	fmt.Fprintf(out, "log origin: %s\ncheckpoint verifier key: %s\n", st.Origin(), vk)
	if sub != nil {
		var names []string
		for _, w := range a.witnesses {
			names = append(names, w.Name+" "+w.URL)
		}
		fmt.Fprintf(out, "witnesses: %s; quorum %d\n", strings.Join(names, ", "), sub.Policy().Quorum)
	}
	log.Info("serving", slog.String("addr", lis.Addr().String()), slog.String("store", redactURL(loc.url)))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	var httpFailed <-chan error
	if hs != nil {
		httpFailed = hs.failed
	}
	select {
	case err = <-served:
		log.Error("server stopped", slog.Any("error", err))
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		err = errors.Join(err, hs.shutdown(sctx))
		cancel()
	case err = <-httpFailed:
		log.Error("HTTP listener stopped", slog.Any("error", err))
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		err = errors.Join(err, srv.Shutdown(sctx))
		cancel()
		<-served
	case <-ctx.Done():
		log.Info("shutting down", slog.Duration("deadline", shutdownTimeout))
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		httpDone := make(chan error, 1)
		go func() { httpDone <- hs.shutdown(sctx) }()
		err = srv.Shutdown(sctx)
		err = errors.Join(err, <-httpDone)
		cancel()
		<-served
		if errors.Is(err, server.ErrShutdownDeadline) {
			// Calls were cut (and logged); every event acknowledged to
			// them is durable, so the shutdown is still a clean one.
			err = nil
		}
	}
	if hs != nil {
		hs.console.Close()
	}
	stopSubmitter()
	stopWatch()
	err = errors.Join(err, closeStore(st, shutdownTimeout, log))
	log.Info("stopped")
	return err
}

// closeStore closes the store, the last part of serve to stop, and gives up
// after the shutdown deadline: storage that has gone away under the server
// (a deleted data directory, a dead disk) can make the driver retry its
// final flush forever. Stopping without it loses nothing: every event
// acknowledged was durable before its receipt, and the next start recovers
// from what is stored.
func closeStore(st *store.Store, deadline time.Duration, log *slog.Logger) error {
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	t := time.NewTimer(deadline)
	defer t.Stop()
	select {
	case err := <-closed:
		return err
	case <-t.C:
		log.Error("the store did not close within the shutdown deadline; stopping without it (every acknowledged event is durable; the next start recovers)",
			slog.Duration("deadline", deadline))
		return fmt.Errorf("the store did not close within the shutdown deadline (%s): its storage may be gone or failing; see the log", deadline)
	}
}

// applyMemoryLimit sets the Go runtime's soft memory limit: --memory-limit,
// unless it was not given and GOMEMLIMIT is set in the environment.
func applyMemoryLimit(fs *flag.FlagSet, limit int64, log *slog.Logger) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "memory-limit" })
	if _, env := os.LookupEnv("GOMEMLIMIT"); env && !given {
		log.Info("memory limit from GOMEMLIMIT", slog.Int64("bytes", debug.SetMemoryLimit(-1)))
		return
	}
	if limit == 0 {
		limit = math.MaxInt64
	}
	debug.SetMemoryLimit(limit)
	log.Debug("memory limit", slog.Int64("bytes", limit))
}

// logState is what the metrics read of the log.
type logState struct{ st *store.Store }

func (l logState) Size() uint64 {
	n, _ := l.st.Size()
	return n
}

func (l logState) CheckpointSize() uint64 { return l.st.LatestCheckpoint().Size }

func (l logState) Watch() <-chan struct{} {
	_, ch := l.st.Watch()
	return ch
}

// access is the access control and witness configuration of serve.
type access struct {
	rules     []auth.CertRule
	redactor  *redact.Redactor
	public    bool // listening beyond loopback
	witnesses []*witness.Client
	quorum    int
}

// isLoopback reports whether a listen address only accepts local
// connections.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
