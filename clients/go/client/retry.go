package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RetryPolicy says how a [Session] retries delivery and how a query with
// [WithResume] resumes: waits grow exponentially from Initial to Max, with
// jitter, and start again from Initial once a stream makes progress.
type RetryPolicy struct {
	// Initial is the wait before the first retry. Zero means 100ms.
	Initial time.Duration
	// Max is the longest wait between two attempts. Zero means 10s.
	Max time.Duration
	// Attempts is the most attempts in a row that make no progress before
	// giving up; zero means no limit (until the context ends or the
	// session is closed).
	Attempts int
}

// withDefaults checks p and fills in its defaults.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.Initial < 0 || p.Max < 0 || p.Attempts < 0 {
		return p, fmt.Errorf("%w: retry policy fields must not be negative", ErrInvalidOption)
	}
	if p.Initial == 0 {
		p.Initial = 100 * time.Millisecond
	}
	if p.Max == 0 {
		p.Max = 10 * time.Second
	}
	if p.Max < p.Initial {
		return p, fmt.Errorf("%w: retry policy Max %s is below Initial %s", ErrInvalidOption, p.Max, p.Initial)
	}
	return p, nil
}

// wait returns the wait before retry number n (from 1): Initial doubled
// n-1 times, at most Max, less up to half of it at random so that clients
// that failed together do not retry together.
func (p RetryPolicy) wait(n int) time.Duration {
	d := p.Initial
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	return d - time.Duration(rand.Int64N(int64(d)/2+1))
}

// sleep waits d or until ctx ends, and reports whether the wait was whole.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// transient reports whether an error ending a stream is worth a new
// stream: the server is shutting down or unreachable (UNAVAILABLE), is
// shedding load or ended a stalled stream (RESOURCE_EXHAUSTED), or aborted
// the call (ABORTED); or the stream ended without a status.
func transient(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}
