package main

import (
	"encoding/json"
	"strings"
	"testing"
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
	case res.EndToEndSeconds == nil || *res.EndToEndSeconds < res.Seconds*0.99 || res.QueryableAfterAck == nil:
		t.Errorf("end to end not measured: %+v", res)
	}
	if !strings.Contains(errOut, "events/s") || !strings.Contains(errOut, "p99") {
		t.Errorf("no summary on stderr: %s", errOut)
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
