package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
)

func init() {
	register(command{name: "bench", summary: "measure append throughput, ack latency and time to queryable", setup: benchCommand})
}

func benchCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	events := fs.Int("events", 100000, "events to append in all")
	size := fs.Int("size", 1024, "encoded size of each event in `bytes` (LLM calls padded with prompt text)")
	streams := fs.Int("streams", 8, "concurrent Append streams, one agent session each")
	inFlight := fs.Int("in-flight", 256, "events each stream keeps sent and not yet acknowledged")
	checkpointInterval := fs.Duration("checkpoint-interval", time.Second, "in-process server: sign a checkpoint at most this often")
	wait := fs.Duration("wait", time.Minute, "after the last receipt, wait at most this long for the last event to be queryable")
	readKey := fs.String("read-key", "", "API key for the tail that measures end to end, when --key may only append\n(a developer or compliance key; default: --key)")
	tail := fs.Bool("tail", true, "follow the log with a tail while the load runs, to measure end to end (false: the appends alone,\nto profile the append path; no end to end or session read is measured)")
	cpuProfile := addCPUProfileFlag(fs, "this process (the load and its clients)")
	spread := fs.String("spread", "", "more servers of the same log, `host:port,...`: the streams are dealt out over --addr\nand these, and the tail that measures end to end reads --addr (servers sharing a PostgreSQL store)")
	setUsage(fs, "agenttrail bench [flags]", `
Stream --events LLM-call events of --size bytes from --streams concurrent
Append streams, each keeping --in-flight events in flight, wait for every
receipt, and measure: events per second (first send to last receipt), ack
latency (send to receipt: p50, p99, max), and end to end, the time until
the last event is queryable, seen by a following query (tail) started
before the load.

The server is an in-process one over a fresh store in a temporary
directory (removed afterwards), unless --addr (or AGENTTRAIL_ADDR) names a
running server; against a server that checks roles, --key must be an agent
key and --read-key a reader's. The result is one JSON line on stdout; a
summary for people goes to stderr.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		switch {
		case *events < 1:
			return usageError{"--events must be at least 1"}
		case *size < minBenchSize() || *size > 1<<20:
			return usageError{fmt.Sprintf("--size must be between %d (an LLM call without prompt text) and 1048576 bytes", minBenchSize())}
		case *streams < 1 || *streams > *events:
			return usageError{"--streams must be between 1 and --events"}
		case *inFlight < 1:
			return usageError{"--in-flight must be at least 1"}
		case *wait <= 0:
			return usageError{"--wait must be positive"}
		}
		external := false
		fs.Visit(func(f *flag.Flag) { external = external || f.Name == "addr" })
		target := conn.addr
		if !external {
			addr, stop, err := inProcessServer(ctx, *checkpointInterval)
			if err != nil {
				return err
			}
			defer stop()
			conn.addr, target = addr, "in-process"
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		appenders := []*client.Client{c}
		if *spread != "" {
			if !external {
				return usageError{"--spread needs --addr: the servers of one shared store"}
			}
			for _, addr := range strings.Split(*spread, ",") {
				other := *conn
				other.addr = strings.TrimSpace(addr)
				oc, err := other.dial()
				if err != nil {
					return err
				}
				defer oc.Close()
				appenders = append(appenders, oc)
			}
			target = strings.Join(append([]string{conn.addr}, strings.Split(*spread, ",")...), ",")
		}
		reader := c
		if *readKey != "" {
			readConn := *conn
			readConn.key = *readKey
			if reader, err = readConn.dial(); err != nil {
				return err
			}
			defer reader.Close()
		}
		stopProfile, err := cpuProfile.start()
		if err != nil {
			return err
		}
		defer stopProfile()
		res, err := runBench(ctx, appenders, reader, errOut, benchConfig{events: *events, size: *size, streams: *streams, inFlight: *inFlight, wait: *wait, noTail: !*tail})
		if err != nil {
			return err
		}
		res.Server = target
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", b)
		res.summary(errOut)
		if res.Rejected > 0 {
			return exitError{code: 1, msg: fmt.Sprintf("%d events were rejected (the first: %s)", res.Rejected, res.FirstRejection)}
		}
		return nil
	}
}

// inProcessServer runs a server over a new store in a temporary directory
// on a loopback port (servertest, the harness the tests share); stop shuts
// both down and removes the directory.
func inProcessServer(ctx context.Context, checkpointInterval time.Duration) (string, func(), error) {
	ts, err := servertest.Start(ctx, servertest.Config{
		StoreOptions: []store.Option{store.WithCheckpointInterval(checkpointInterval)},
	})
	if err != nil {
		return "", nil, err
	}
	return ts.Addr, func() { ts.Close() }, nil
}

type benchConfig struct {
	events, size, streams, inFlight int
	wait                            time.Duration
	noTail                          bool // no tail follows the load (bench --tail=false)
}

// benchResult is the JSON line bench prints.
type benchResult struct {
	Server          string  `json:"server"`
	Servers         int     `json:"servers"`
	Events          int     `json:"events"`
	Streams         int     `json:"streams"`
	InFlight        int     `json:"in_flight_per_stream"`
	EventBytes      int     `json:"event_bytes"`
	CPUs            int     `json:"cpus"`
	Seconds         float64 `json:"seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	MiBPerSecond    float64 `json:"mib_per_second"`
	AckP50Millis    float64 `json:"ack_latency_p50_ms"`
	AckP99Millis    float64 `json:"ack_latency_p99_ms"`
	AckMaxMillis    float64 `json:"ack_latency_max_ms"`
	// AckAfterSend is the same latency from when Send returned (the
	// event was queued on its stream) instead of from before Send, which
	// waits for a slot of the stream's in-flight window: the difference is
	// the wait of a full window, the client's own back-pressure.
	AckAfterSendP50Millis float64  `json:"ack_after_send_p50_ms"`
	AckAfterSendP99Millis float64  `json:"ack_after_send_p99_ms"`
	EndToEndSeconds       *float64 `json:"end_to_end_seconds"`
	QueryableAfterAck     *float64 `json:"queryable_after_last_ack_ms"`
	// SessionRead is the reading of one stream's whole session after the
	// load (a Query by session id, as a developer debugging it runs).
	SessionReadEvents          int      `json:"session_read_events,omitempty"`
	SessionReadEventsPerSecond *float64 `json:"session_read_events_per_second,omitempty"`
	// TailOff: the load ran without a tail (bench --tail=false).
	TailOff        bool   `json:"tail_off,omitempty"`
	Rejected       int    `json:"rejected"`
	FirstRejection string `json:"first_rejection,omitempty"`
}

func (r *benchResult) summary(w io.Writer) {
	fmt.Fprintf(w, "bench: %d events of %d bytes over %d streams (%d in flight each) to the %s server, %d CPUs\n",
		r.Events, r.EventBytes, r.Streams, r.InFlight, r.Server, r.CPUs)
	fmt.Fprintf(w, "  throughput   %.0f events/s (%.1f MiB/s), %.2fs from first send to last receipt\n", r.EventsPerSecond, r.MiBPerSecond, r.Seconds)
	fmt.Fprintf(w, "  ack latency  p50 %.1f ms, p99 %.1f ms, max %.1f ms (from when Send returned: p50 %.1f ms, p99 %.1f ms)\n",
		r.AckP50Millis, r.AckP99Millis, r.AckMaxMillis, r.AckAfterSendP50Millis, r.AckAfterSendP99Millis)
	if r.EndToEndSeconds != nil {
		fmt.Fprintf(w, "  end to end   %.2fs until the last event was queryable (%.1f ms after its receipt)\n", *r.EndToEndSeconds, *r.QueryableAfterAck)
	} else if r.TailOff {
		fmt.Fprintln(w, "  end to end   not measured: no tail (--tail=false)")
	} else {
		fmt.Fprintln(w, "  end to end   not measured: the tail did not see every event in time")
	}
	if r.SessionReadEventsPerSecond != nil {
		fmt.Fprintf(w, "  session read %d events of one session at %.0f events/s\n", r.SessionReadEvents, *r.SessionReadEventsPerSecond)
	}
	if r.Rejected > 0 {
		fmt.Fprintf(w, "  rejected     %d events, the first: %s\n", r.Rejected, r.FirstRejection)
	}
}

// runBench runs the load with the appenders (stream i on appenders[i %
// len]) and measures it, following the log with reader. When reader may
// not read, the load is measured without its end to end, with a warning on
// errOut.
func runBench(ctx context.Context, appenders []*client.Client, reader *client.Client, errOut io.Writer, cfg benchConfig) (*benchResult, error) {
	var runID [4]byte
	rand.Read(runID[:])
	agent := "bench-" + hex.EncodeToString(runID[:])
	pad := filler(cfg.size)
	eventBytes := proto.Size(benchEvent(agent, client.NewEventID(), 1, pad, time.Now()))

	// A tail of this run's agent, live before the load starts.
	tailCtx, stopTail := context.WithCancel(ctx)
	defer stopTail()
	caughtUp := make(chan struct{})
	tailFailed := make(chan error, 1)
	seenAll := make(chan time.Time, 1)
	var once sync.Once
	tail := func() {
		n := 0
		// The tail only counts entries: it receives each in full, and
		// leaves its event in the commitment, undecoded, so that its work
		// competes less with the server's for the machine's cores.
		for _, err := range reader.Tail(tailCtx, &agenttrailv1.Filter{AgentId: agent}, nil,
			client.WithCaughtUp(func(uint64) { once.Do(func() { close(caughtUp) }) }),
			client.WithEventsInCommitment()) {
			if err != nil {
				tailFailed <- err
				return
			}
			if n++; n == cfg.events {
				seenAll <- time.Now()
				return
			}
		}
	}
	if cfg.noTail {
		close(caughtUp)
		seenAll = nil // no end to end below
	} else {
		go tail()
	}
	select {
	case <-caughtUp:
	case err := <-tailFailed:
		fmt.Fprintf(errOut, "warning: end to end not measured: the tail query failed: %v\n", err)
		fmt.Fprintln(errOut, "warning: a server that checks roles lets only readers query: give --read-key")
		seenAll = nil // never ready: no end to end below
	case <-time.After(30 * time.Second):
		return nil, errors.New("the tail query did not start within 30s")
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	start := time.Now()
	latencies := make([][]time.Duration, cfg.streams)
	afterSend := make([][]time.Duration, cfg.streams)
	sessions := make([]string, cfg.streams)
	var mu sync.Mutex
	rejected, firstRejection := 0, ""
	var lastAck time.Time
	g, gctx := errgroup.WithContext(ctx)
	for s := range cfg.streams {
		n := cfg.events / cfg.streams
		if s < cfg.events%cfg.streams {
			n++
		}
		c := appenders[s%len(appenders)]
		g.Go(func() error {
			a, err := c.NewAppender(gctx, client.WithMaxInFlight(cfg.inFlight))
			if err != nil {
				return err
			}
			session := client.NewEventID()
			sessions[s] = session
			sent := make([]time.Time, n)
			// When each Send returned, as 1 + nanoseconds since start on
			// the monotonic clock (a Unix time would follow the wall
			// clock, which the system may step during the run): written
			// by the sending goroutine, read as results come, which can
			// be before the write (0: the answer came before Send
			// returned).
			queued := make([]atomic.Int64, n)
			sendErr := make(chan error, 1)
			go func() {
				for i := range n {
					now := time.Now()
					sent[i] = now
					if err := a.Send(gctx, benchEvent(agent, session, uint32(i+1), pad, now)); err != nil {
						sendErr <- err
						return
					}
					queued[i].Store(1 + int64(time.Since(start)))
				}
				sendErr <- a.CloseSend()
			}()
			lat := make([]time.Duration, 0, n)
			latQueued := make([]time.Duration, 0, n)
			var last time.Time
			for r := range a.Results() {
				last = time.Now()
				lat = append(lat, last.Sub(sent[len(lat)]))
				var afterSend time.Duration
				if q := queued[len(latQueued)].Load(); q != 0 {
					afterSend = max(0, last.Sub(start)-time.Duration(q-1))
				}
				latQueued = append(latQueued, afterSend)
				if r.Err != nil {
					mu.Lock()
					if rejected++; firstRejection == "" {
						firstRejection = r.Err.Error()
					}
					mu.Unlock()
				}
			}
			if err := a.Err(); err != nil {
				return err
			}
			if err := <-sendErr; err != nil {
				return err
			}
			mu.Lock()
			latencies[s] = lat
			afterSend[s] = latQueued
			if last.After(lastAck) {
				lastAck = last
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	elapsed := lastAck.Sub(start)

	all := slices.Concat(latencies...)
	slices.Sort(all)
	queuedAll := slices.Concat(afterSend...)
	slices.Sort(queuedAll)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p50 := func(sorted []time.Duration) float64 { return ms(sorted[len(sorted)/2]) }
	p99 := func(sorted []time.Duration) float64 { return ms(sorted[min(len(sorted)-1, len(sorted)*99/100)]) }
	res := &benchResult{
		Servers: len(appenders),
		Events:  cfg.events, Streams: cfg.streams, InFlight: cfg.inFlight, EventBytes: eventBytes, CPUs: runtime.GOMAXPROCS(0),
		Seconds:               elapsed.Seconds(),
		EventsPerSecond:       float64(cfg.events) / elapsed.Seconds(),
		MiBPerSecond:          float64(cfg.events*eventBytes) / elapsed.Seconds() / (1 << 20),
		AckP50Millis:          p50(all),
		AckP99Millis:          p99(all),
		AckMaxMillis:          ms(all[len(all)-1]),
		AckAfterSendP50Millis: p50(queuedAll),
		AckAfterSendP99Millis: p99(queuedAll),
		Rejected:              rejected, FirstRejection: firstRejection,
		TailOff: cfg.noTail,
	}
	if rejected == 0 && seenAll != nil {
		select {
		case seen := <-seenAll:
			e2e, after := seen.Sub(start).Seconds(), ms(max(0, seen.Sub(lastAck)))
			res.EndToEndSeconds, res.QueryableAfterAck = &e2e, &after
		case err := <-tailFailed:
			fmt.Fprintf(errOut, "warning: end to end not measured: the tail query failed: %v\n", err)
		case <-time.After(cfg.wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// The first stream's session, read whole.
		readStart, n := time.Now(), 0
		for _, err := range reader.Query(ctx, &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{SessionId: sessions[0]}}) {
			if err != nil {
				return nil, fmt.Errorf("reading a session: %w", err)
			}
			n++
		}
		rate := float64(n) / time.Since(readStart).Seconds()
		res.SessionReadEvents, res.SessionReadEventsPerSecond = n, &rate
	}
	return res, nil
}

// benchEvent is a realistic LLM call of one step of a session, padded to
// the bench's size with the text of its prompt.
func benchEvent(agent, session string, step uint32, pad string, at time.Time) *agenttrailv1.Event {
	temperature := 0.2
	return &agenttrailv1.Event{
		EventId:          client.NewEventID(),
		SessionId:        session,
		Step:             step,
		AgentId:          agent,
		AgentVersion:     "1.0.0",
		ModelId:          "gpt-4.1-mini",
		SystemPromptHash: "9f2c4a1de0b7c1a3f5e6d7c8b9a0f1e2d3c4b5a6978877665544332211009988",
		UserId:           "u_bench",
		OccurredAt:       timestamppb.New(at),
		Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{
			ProviderName:  "openai",
			OperationName: "chat",
			RequestModel:  "gpt-4.1-mini",
			ResponseModel: "gpt-4.1-mini-2025-04-14",
			ResponseId:    "chatcmpl-bench",
			InputMessages: []*agenttrailv1.ChatMessage{
				{Role: agenttrailv1.Role_ROLE_SYSTEM, Content: "You are a careful support agent."},
				{Role: agenttrailv1.Role_ROLE_USER, Content: pad},
			},
			OutputText:    "I have looked up the order; it shipped yesterday.",
			FinishReasons: []string{"stop"},
			InputTokens:   int64(len(pad) / 4),
			OutputTokens:  12,
			Cost:          &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 420},
			Latency:       durationpb.New(850 * time.Millisecond),
			Temperature:   &temperature,
		}},
	}
}

// minBenchSize is the size of a bench event without prompt text.
func minBenchSize() int {
	return proto.Size(benchEvent("bench-00000000", client.NewEventID(), 1, "", time.Now()))
}

// filler returns prompt text that makes a bench event size bytes, or as
// close as it gets: the length prefixes around the text grow with it, so
// the size is found by a few adjustments.
func filler(size int) string {
	words := "the customer asks where order 4411 is and whether it can still be refunded to the card on file "
	text := func(n int) string { return strings.Repeat(words, n/len(words)+1)[:n] }
	n := 0
	for range 8 {
		got := proto.Size(benchEvent("bench-00000000", client.NewEventID(), 1, text(n), time.Now()))
		if got == size {
			break
		}
		n = max(0, n+size-got)
	}
	return text(n)
}
