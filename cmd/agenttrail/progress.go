package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress shows how far a long command has come, on one line of standard
// error redrawn a few times a second: what is being done, how many items of
// how many, the rate, and the time left when the total is known:
//
//	verify: 41230 of 100000 events (41%), 5120/s, 12s left
//
// It draws only when that output is a terminal (and TERM is not "dumb"), so
// pipes, files and CI logs get nothing from it; otherwise its methods do
// nothing. Commands start one with startProgress, call Add as items are
// done, and Stop before printing their result, which clears the line. A
// nil *progress is a valid one that shows nothing; all methods are safe for
// concurrent use. verify, export and backup use it.
type progress struct {
	w     io.Writer
	what  string // "verify"
	unit  string // "events"
	total atomic.Uint64
	done  atomic.Uint64
	start time.Time
	now   func() time.Time

	stopOnce sync.Once
	stop     chan struct{}
	looping  bool // loop runs, and closes stopped when it ends
	stopped  chan struct{}
	mu       sync.Mutex // serializes drawing
	drawn    bool       // a line is on the screen
}

// progressInterval is how often the line is redrawn.
const progressInterval = 200 * time.Millisecond

// startProgress starts a progress line on w for what (a command's name),
// counting unit ("events"); total is how many there will be, 0 when not
// known yet (see SetTotal). It returns nil, which shows nothing, when w is
// not a terminal.
func startProgress(w io.Writer, what, unit string, total uint64) *progress {
	if !isTerminal(w) {
		return nil
	}
	p := newProgress(w, what, unit, total, time.Now)
	p.looping = true
	go p.loop()
	return p
}

// newProgress returns a progress line that draws only when draw is called;
// startProgress adds the terminal check and the redraws.
func newProgress(w io.Writer, what, unit string, total uint64, now func() time.Time) *progress {
	p := &progress{w: w, what: what, unit: unit, start: now(), now: now, stop: make(chan struct{}), stopped: make(chan struct{})}
	p.total.Store(total)
	return p
}

// isTerminal reports whether w is a terminal a person watches.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Add counts n more items done.
func (p *progress) Add(n uint64) {
	if p != nil {
		p.done.Add(n)
	}
}

// SetTotal sets how many items there are, once that is known.
func (p *progress) SetTotal(n uint64) {
	if p != nil {
		p.total.Store(n)
	}
}

// Stop ends the redraws and clears the line, so that what the command
// prints next starts on a clean line. It is safe to call more than once.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() {
		close(p.stop)
		if p.looping {
			<-p.stopped
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.drawn {
			fmt.Fprint(p.w, "\r\x1b[K")
			p.drawn = false
		}
	})
}

// loop redraws the line until Stop.
func (p *progress) loop() {
	defer close(p.stopped)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
		}
	}
}

// draw writes the current line over the previous one.
func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r"+p.line()+"\x1b[K")
	p.drawn = true
}

// line is the text of the progress line.
func (p *progress) line() string {
	done, total := p.done.Load(), p.total.Load()
	elapsed := p.now().Sub(p.start)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d", p.what, done)
	if total > 0 {
		fmt.Fprintf(&b, " of %d %s (%d%%)", total, p.unit, min(done*100/total, 100))
	} else {
		fmt.Fprintf(&b, " %s", p.unit)
	}
	if elapsed >= time.Second && done > 0 {
		rate := float64(done) / elapsed.Seconds()
		fmt.Fprintf(&b, ", %.0f/s", rate)
		if total > done {
			left := time.Duration(float64(total-done)/rate) * time.Second
			fmt.Fprintf(&b, ", %s left", left.Round(time.Second))
		}
	}
	return b.String()
}
