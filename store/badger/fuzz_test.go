package badger

import (
	"bytes"
	"errors"
	"testing"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// Every decoder of this driver's stored bytes either decodes or returns
// ErrCorrupt, and what it decodes re-encodes to the same bytes.

func FuzzDecodeHashes(f *testing.F) {
	f.Add(encodeHashes([][hashSize]byte{{1}, {2}}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := decodeHashes(b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("error %v does not wrap store.ErrCorrupt", err)
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
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("error %v does not wrap store.ErrCorrupt", err)
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

func FuzzDecodeBundle(f *testing.F) {
	f.Add(uint64(5), uint64(7), encodeBundle([]byte{slotStored, slotErased, slotAbsent}, [][]byte{[]byte("leaf"), nil, nil}), true)
	f.Add(uint64(0), uint64(0), encodeBundle([]byte{slotStored}, [][]byte{nil}), false)
	f.Add(^uint64(0), ^uint64(0), []byte{1, 3, 'x'}, false)
	f.Fuzz(func(t *testing.T, first, last uint64, b []byte, erasable bool) {
		bd, err := decodeBundle(first, last, b, erasable)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("error %v does not wrap store.ErrCorrupt", err)
			}
			return
		}
		if bd.first != first || bd.last() != last {
			t.Fatalf("decoded the events %d to %d, want %d to %d", bd.first, bd.last(), first, last)
		}
		for i, st := range bd.state {
			if st == slotErased && !erasable || st != slotStored && bd.recs[i] != nil {
				t.Fatalf("slot %d: state %d with record %x (erasable %v)", i, st, bd.recs[i], erasable)
			}
		}
		if got := encodeBundle(bd.state, bd.recs); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}

// FuzzAppend fuzzes the write-once path of the engine over this driver.
func FuzzAppend(f *testing.F) { storetest.FuzzAppend(f, harness()) }
