package storetest

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// FuzzAppend is the fuzz test of the write-once path, for a driver's
// tests to run with its harness: it appends arbitrary events (decoded from
// fuzzed bytes) to a store: each is accepted and reads back identically (and again as a
// duplicate), or rejected with a validation error; the log never gains a
// gap and always verifies.
func FuzzAppend(f *testing.F, h Harness) {
	for _, s := range eventtest.Samples() {
		b, err := proto.Marshal(s.Event)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	l := NewLog(f, h)
	s, err := store.Open(context.Background(), l.URL, l.Options(store.WithMaxEventSize(64<<10))...)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev agenttrailv1.Event
		if err := proto.Unmarshal(b, &ev); err != nil {
			return
		}
		before, _ := s.Size()
		res, err := s.Append(context.Background(), "fuzz", []*agenttrailv1.Event{&ev})
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		r := res[0]
		after, _ := s.Size()
		switch {
		case r.Err != nil:
			if !errors.Is(r.Err, store.ErrInvalidEvent) && !errors.Is(r.Err, store.ErrTooLarge) && !errors.Is(r.Err, store.ErrAlreadyExists) {
				t.Fatalf("unexpected error class: %v", r.Err)
			}
			if after != before {
				t.Fatalf("a rejected event changed the log size from %d to %d", before, after)
			}
		case r.Receipt.Duplicate:
			if after != before {
				t.Fatalf("a duplicate changed the log size")
			}
		default:
			if r.Receipt.Index != before || after != before+1 {
				t.Fatalf("receipt index %d with size %d -> %d", r.Receipt.Index, before, after)
			}
			e, err := s.Get(context.Background(), r.Receipt.Index, store.HeaderAndContent)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Event()
			if err != nil || !proto.Equal(got, &ev) {
				t.Fatalf("event reads back different (%v)", err)
			}
			again, err := s.Append(context.Background(), "fuzz", []*agenttrailv1.Event{&ev})
			if err != nil || again[0].Err != nil || !again[0].Receipt.Duplicate || again[0].Receipt.Index != r.Receipt.Index {
				t.Fatalf("re-append: %+v, %v", again, err)
			}
			rep, err := s.Verify(context.Background(), r.Receipt.Index, 0)
			if err != nil || !rep.OK() {
				t.Fatalf("Verify: %+v, %v", rep, err)
			}
		}
	})
}
