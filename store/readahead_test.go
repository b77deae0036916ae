package store

import (
	"errors"
	"fmt"
	"iter"
	"testing"
)

// source yields n entries (indexes 0..n-1), then err if not nil; ended is
// set when it returns.
func source(n int, err error, ended *bool) iter.Seq2[RawEntry, error] {
	return func(yield func(RawEntry, error) bool) {
		defer func() { *ended = true }()
		for i := range n {
			if !yield(RawEntry{Index: uint64(i)}, nil) {
				return
			}
		}
		if err != nil {
			yield(RawEntry{}, err)
		}
	}
}

// TestReadAhead: a read-ahead scan yields what the driver's yields, in
// order, ends with its error, and when the caller stops, the driver's scan
// has ended before readAhead returns.
func TestReadAhead(t *testing.T) {
	boom := errors.New("boom")
	for _, n := range []int{0, 1, 7, 8, 9, 72, 200} {
		for _, err := range []error{nil, boom} {
			var ended bool
			var got []uint64
			var gotErr error
			for raw, e := range readAhead(source(n, err, &ended)) {
				if e != nil {
					gotErr = e
					continue
				}
				got = append(got, raw.Index)
			}
			if len(got) != n || gotErr != err || !ended {
				t.Errorf("%d entries, error %v: got %d entries, error %v, driver's scan ended %v", n, err, len(got), gotErr, ended)
			}
			for i, idx := range got {
				if idx != uint64(i) {
					t.Fatalf("%d entries: entry %d has index %d", n, i, idx)
				}
			}
		}
	}
	for _, stopAt := range []int{1, 8, 9, 100} {
		var ended bool
		seen := 0
		for range readAhead(source(1000, nil, &ended)) {
			if seen++; seen == stopAt {
				break
			}
		}
		if !ended {
			t.Errorf("stopped after %d: the driver's scan still runs", stopAt)
		}
	}
}

// TestReadAheadPanic: a panic in the driver's scan is raised in the
// caller's goroutine.
func TestReadAheadPanic(t *testing.T) {
	defer func() {
		if p := recover(); fmt.Sprint(p) != "driver" {
			t.Errorf("recovered %v, want the driver's panic", p)
		}
	}()
	scan := func(yield func(RawEntry, error) bool) {
		yield(RawEntry{}, nil)
		panic("driver")
	}
	for range readAhead(scan) {
	}
	t.Errorf("no panic")
}
