package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// Every decoder of stored bytes either decodes or returns ErrCorrupt, and
// what it decodes re-encodes to the same bytes.

func FuzzDecodeLeafData(f *testing.F) {
	f.Add(leafData([]byte("header"), [32]byte{1}))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, d, err := parseLeafData(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := leafData(h, d); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
		if _, err := decodeEntry(0, b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeEntry error %v does not wrap ErrCorrupt", err)
		}
	})
}

func FuzzDecodeContentRecord(f *testing.F) {
	f.Add(encodeContentRecord(make([]byte, saltSize), []byte("content")))
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		salt, content, err := decodeContentRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := encodeContentRecord(salt, content); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

func FuzzDecodeHashes(f *testing.F) {
	f.Add(encodeHashes([]tlog.Hash{{1}, {2}}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := decodeHashes(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := encodeHashes(hs); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

func FuzzDecodePostings(f *testing.F) {
	f.Add(uint64(7), encodePostings([]uint64{7, 9, 200, 201}))
	f.Add(uint64(0), []byte{0})
	f.Add(^uint64(0), []byte{2, 1})
	f.Fuzz(func(t *testing.T, first uint64, b []byte) {
		list, err := decodePostings(first, b, nil)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for i := 1; i < len(list); i++ {
			if list[i] <= list[i-1] {
				t.Fatalf("decoded list is not increasing: %v", list)
			}
		}
		if got := encodePostings(list); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

// FuzzAppend appends arbitrary events (decoded from fuzzed bytes) to a
// store: each is accepted and reads back identically (and again as a
// duplicate), or rejected with a validation error; the log never gains a
// gap and always verifies.
func FuzzAppend(f *testing.F) {
	for _, s := range eventtest.Samples() {
		b, err := proto.Marshal(s.Event)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	s, err := Open(context.Background(), f.TempDir(), WithClock(func() time.Time { return eventtest.T0.Add(time.Hour) }), WithMaxEventSize(64<<10))
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
			if !errors.Is(r.Err, ErrInvalidEvent) && !errors.Is(r.Err, ErrTooLarge) && !errors.Is(r.Err, ErrAlreadyExists) {
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
			e, err := s.Get(context.Background(), r.Receipt.Index, WithContent)
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
