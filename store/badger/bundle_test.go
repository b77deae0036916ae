package badger

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/agenttrail/agenttrail/store"
)

func TestBundleSlots(t *testing.T) {
	state := []byte{slotStored, slotErased, slotAbsent, slotStored}
	recs := [][]byte{[]byte("leaf of 10"), nil, nil, nil}
	b, err := decodeBundle(10, 13, encodeBundle(state, recs), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		index uint64
		state byte
		rec   string
	}{
		{10, slotStored, "leaf of 10"},
		{11, slotErased, ""},
		{12, slotAbsent, ""},
		{13, slotStored, ""},
	} {
		if st, rec := b.slot(tt.index); st != tt.state || string(rec) != tt.rec {
			t.Errorf("slot(%d) = %d, %q; want %d, %q", tt.index, st, rec, tt.state, tt.rec)
		}
	}
	for _, tt := range []struct {
		index uint64
		want  bool
	}{{9, false}, {10, true}, {13, true}, {14, false}} {
		if got := b.covers(tt.index); got != tt.want {
			t.Errorf("covers(%d) = %v, want %v", tt.index, got, tt.want)
		}
	}
	if got := b.last(); got != 13 {
		t.Errorf("last() = %d, want 13", got)
	}
}

func TestBundleRefusesWhatDoesNotDecode(t *testing.T) {
	good := encodeBundle([]byte{slotStored, slotStored}, [][]byte{[]byte("a"), []byte("bc")})
	for _, tt := range []struct {
		name        string
		first, last uint64
		val         []byte
		erasable    bool
	}{
		{"count differs from the key", 0, 2, good, false},
		{"last below first", 5, 4, good, false},
		{"empty", 0, 0, nil, false},
		{"zero count", 0, 0, []byte{0}, false},
		{"record cut", 0, 1, good[:len(good)-1], false},
		{"bytes after", 0, 1, append(bytes.Clone(good), 0), false},
		{"erased mark in leaf data", 0, 0, encodeBundle([]byte{slotErased}, [][]byte{nil}), false},
		{"longer count encoding", 0, 0, []byte{0x81, 0x00, 2}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := decodeBundle(tt.first, tt.last, tt.val, tt.erasable); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("decodeBundle = %+v, %v; want ErrCorrupt", b, err)
			}
		})
	}
}

func TestBundleKey(t *testing.T) {
	k := bundleKey(prefixLeaves, 256, 511)
	first, last, ok := bundleRange(k)
	if !ok || first != 256 || last != 511 {
		t.Errorf("bundleRange(bundleKey(256, 511)) = %d, %d, %v", first, last, ok)
	}
	if i, ok := keyLogIndex(k); !ok || i != 256 {
		t.Errorf("keyLogIndex = %d, %v; want 256, true", i, ok)
	}
	if got, want := describeKey(k), "the leaf data of events 256 to 511"; got != want {
		t.Errorf("describeKey = %q, want %q", got, want)
	}
	for _, k := range [][]byte{recordKey(3), bundleKey(prefixHashes, 1, 2), bundleKey(prefixContents, 9, 8)} {
		if _, _, ok := bundleRange(k); ok {
			t.Errorf("bundleRange(%x) ok, want not a bundle key", k)
		}
	}
}

func TestBundleRuns(t *testing.T) {
	ev := func(size int) store.BatchEvent { return store.BatchEvent{LeafData: make([]byte, size)} }
	for _, tt := range []struct {
		name   string
		events []store.BatchEvent
		want   string
	}{
		{"none", nil, "[]"},
		{"one", []store.BatchEvent{ev(10)}, "[[0 1]]"},
		{"a full run and one more", slices.Repeat([]store.BatchEvent{ev(10)}, bundleEvents+1), fmt.Sprintf("[[0 %d] [%d %d]]", bundleEvents, bundleEvents, bundleEvents+1)},
		{"closed by size", []store.BatchEvent{ev(bundleBytes - 1), ev(1), ev(1)}, "[[0 2] [2 3]]"},
		{"closed after a large event", []store.BatchEvent{ev(1), ev(2 * bundleBytes), ev(1)}, "[[0 2] [2 3]]"},
	} {
		var got [][2]int
		for start, end := range bundleRuns(tt.events) {
			got = append(got, [2]int{start, end})
		}
		if s := fmt.Sprint(got); s != tt.want && !(tt.want == "[]" && got == nil) {
			t.Errorf("%s: bundleRuns = %s, want %s", tt.name, s, tt.want)
		}
	}
}
