package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var buf bytes.Buffer
	p := newProgress(&buf, "verify", "events", 100000, clock)
	if got, want := p.line(), "verify: 0 of 100000 events (0%)"; got != want {
		t.Errorf("at the start: %q, want %q", got, want)
	}
	p.Add(41230)
	now = now.Add(8 * time.Second)
	if got, want := p.line(), "verify: 41230 of 100000 events (41%), 5154/s, 11s left"; got != want {
		t.Errorf("under way: %q, want %q", got, want)
	}
	unknown := newProgress(&buf, "export", "events", 0, clock)
	unknown.Add(7)
	if got, want := unknown.line(), "export: 7 events"; got != want {
		t.Errorf("total unknown: %q, want %q", got, want)
	}
	p.draw()
	p.Stop()
	p.Stop()
	if out := buf.String(); !strings.HasPrefix(out, "\rverify: 41230 of 100000") || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("drawn %q: want the line, then the line cleared once", out)
	}
}

func TestProgressIsSilentWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := startProgress(&buf, "export", "events", 10)
	if p != nil {
		t.Fatal("a progress line on a buffer, which is no terminal")
	}
	p.Add(3) // a nil progress does nothing
	p.SetTotal(5)
	p.Stop()
	if buf.Len() != 0 {
		t.Errorf("wrote %q to a non-terminal", buf.String())
	}
}
