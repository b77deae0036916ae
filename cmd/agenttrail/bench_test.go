package main

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
)

func TestBench(t *testing.T) {
	out, errOut, code := runCLI(t, "bench", "--events", "300", "--streams", "3", "--size", "700", "--in-flight", "16", "--checkpoint-interval", "10ms")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout is not one JSON line: %q (%v)", out, err)
	}
	switch {
	case res.Server != "in-process", res.Events != 300, res.Streams != 3, res.EventBytes != 700, res.Rejected != 0:
		t.Errorf("result %+v", res)
	case !(res.EventsPerSecond > 0 && res.AckP50Millis > 0 && res.AckP50Millis <= res.AckP99Millis && res.AckP99Millis <= res.AckMaxMillis):
		t.Errorf("measurements %+v", res)
	case !(res.AckAfterSendP50Millis > 0 && res.AckAfterSendP50Millis <= res.AckAfterSendP99Millis):
		t.Errorf("ack after send not measured: %+v", res)
	case res.AckAfterSendP50Millis > res.AckP50Millis || res.AckAfterSendP99Millis > res.AckP99Millis:
		// Each event's latency from when Send returned is at most its
		// latency from before Send, so every percentile is too.
		t.Errorf("ack after send p50 %v, p99 %v exceeds ack p50 %v, p99 %v", res.AckAfterSendP50Millis, res.AckAfterSendP99Millis, res.AckP50Millis, res.AckP99Millis)
	case res.EndToEndSeconds == nil || res.QueryableAfterAck == nil:
		t.Errorf("end to end not measured: %+v", res)
	case *res.EndToEndSeconds < res.Seconds-res.AckMaxMillis/1000:
		// The tail may see the last event a moment before its receipt
		// reaches the client, but never before every event was sent, and
		// the one acknowledged last was sent at most AckMax before that.
		t.Errorf("end to end %vs is before the last event was sent (%vs, less the longest ack %v ms)", *res.EndToEndSeconds, res.Seconds, res.AckMaxMillis)
	}
	if !strings.Contains(errOut, "events/s") || !strings.Contains(errOut, "p99") {
		t.Errorf("no summary on stderr: %s", errOut)
	}
}

// TestBenchWithoutReader runs bench against a server that lets the key
// append but not read, as one that checks roles does for an agent key: the
// load is measured, end to end is not, and bench says why.
func TestBenchWithoutReader(t *testing.T) {
	s := startCLIServer(t, server.WithInterceptors(nil, []grpc.StreamServerInterceptor{
		func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if info.FullMethod == agenttrailv1.QueryService_Query_FullMethodName {
				return status.Error(codes.PermissionDenied, "agents may not read")
			}
			return h(srv, ss)
		},
	}))
	out, errOut, code := runCLI(t, "bench", "--addr", s.addr, "--events", "50", "--streams", "2", "--size", "600")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if res.Server != s.addr || res.Events != 50 || res.EventsPerSecond <= 0 || res.EndToEndSeconds != nil {
		t.Errorf("result %+v, want the load measured and no end to end", res)
	}
	if !strings.Contains(errOut, "PermissionDenied") || !strings.Contains(errOut, "--read-key") {
		t.Errorf("stderr %q does not say why end to end was not measured", errOut)
	}
}

// With --tail=false only the load runs: no end to end, no session read.
func TestBenchWithoutTail(t *testing.T) {
	out, errOut, code := runCLI(t, "bench", "--events", "100", "--streams", "2", "--size", "600", "--tail=false")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, errOut)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	if res.Events != 100 || res.EventsPerSecond <= 0 || res.Rejected != 0 || res.EndToEndSeconds != nil || res.SessionReadEventsPerSecond != nil || !res.TailOff {
		t.Errorf("result %+v, want the load measured and nothing read", res)
	}
	if !strings.Contains(errOut, "no tail") {
		t.Errorf("stderr %q does not say that no tail ran", errOut)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--events", "0"},
		{"--size", "10"},
		{"--streams", "0"},
		{"--events", "2", "--streams", "3"},
		{"--in-flight", "0"},
	} {
		if _, errOut, code := runCLI(t, append([]string{"bench"}, args...)...); code != 2 {
			t.Errorf("%q: exit status %d, want 2 (%s)", args, code, errOut)
		}
	}
}
