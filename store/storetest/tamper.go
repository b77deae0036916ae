package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

// tamperedLog builds a closed log of n events in batches of 8 and returns
// it with its verifier key.
func tamperedLog(t *testing.T, h Harness, n int) (Log, string) {
	t.Helper()
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0), store.WithBatchLimits(8, 1<<20, 0))
	for i := 0; i < n; i += 8 {
		var evs []*agenttrailv1.Event
		for j := i; j < min(i+8, n); j++ {
			evs = append(evs, ToolCallEvent(fmt.Sprintf("t-%04d", j), j))
		}
		AppendOK(t, s, evs...)
	}
	vk := s.VerifierKey().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return l, vk
}

// Each edit an attacker with access to the storage could make is found by
// offline verification, which names the first event it affects.
func testVerifyNamesTheFirstTamperedEvent(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Skip("the driver offers no raw access for tampering")
	}
	const n = 50
	tests := []struct {
		name   string
		edit   func(tp Tamperer) error
		want   uint64
		reason string
	}{
		// In encrypted storage an edited content record no longer
		// decrypts; in plaintext storage its digest no longer matches.
		{"content byte", func(tp Tamperer) error { return editContent(tp, 17, -3, 0x01) }, 17, "content"},
		{"salt byte", func(tp Tamperer) error { return editContent(tp, 3, 5, 0x80) }, 3, "content"},
		{"deleted content key", func(tp Tamperer) error { return tp.DeleteKey(store.EventKeyName(14)) }, 14, "no later erasure or retention event"},
		{"header byte", func(tp Tamperer) error { return editLeafData(tp, 29, 12, 0x04) }, 29, "leaf hash"},
		{"digest byte", func(tp Tamperer) error { return editLeafData(tp, 41, -1, 0x01) }, 41, "leaf hash"},
		{"deleted event record", func(tp Tamperer) error { return tp.DeleteEvent(22) }, 22, "record is missing"},
		{"deleted content", func(tp Tamperer) error { return tp.DeleteContent(9) }, 9, "missing"},
		{"deleted id index", func(tp Tamperer) error { return tp.DeleteEventID("t-0033") }, 33, "id index"},
		{"swapped events", func(tp Tamperer) error { return swapEvents(tp, 12, 35) }, 12, "leaf hash"},
		{"bare erasure marker", func(tp Tamperer) error { return tp.MarkErased(14) }, 14, "bare erasure marker"},
		{"event dropped from the indexes", func(tp Tamperer) error { return tp.DropFromIndexes(27) }, 27, "index does not file this event"},
		{"event dropped from the indexes of a later batch", func(tp Tamperer) error { return tp.DropFromIndexes(48) }, 48, "index does not file this event"},
		{"tree hash", func(tp Tamperer) error {
			// The leaf hash of event 24, as the stored tree holds it.
			idx := tlog.StoredHashIndex(0, 24)
			h, err := tp.TreeHash(idx)
			if err != nil {
				return err
			}
			h[0] ^= 1
			return tp.SetTreeHash(idx, h)
		}, 24, "leaf hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, vk := tamperedLog(t, h, n)
			rep, err := store.VerifyStorage(context.Background(), l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
			if err != nil || !rep.OK() {
				t.Fatalf("before tampering: VerifyStorage = %+v, %v", rep, err)
			}
			tp, err := h.Tamper(l.URL, l.MasterKey(t).StorageKey())
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.edit(tp); err != nil {
				t.Fatalf("tampering: %v", err)
			}
			if err := tp.Close(); err != nil {
				t.Fatal(err)
			}
			rep, err = store.VerifyStorage(context.Background(), l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
			if err != nil {
				t.Fatalf("VerifyStorage: %v", err)
			}
			if rep.Problem == nil {
				t.Fatalf("VerifyStorage found nothing wrong after tampering")
			}
			if rep.Problem.Index != tt.want {
				t.Errorf("first bad index %d (%s), want %d", rep.Problem.Index, rep.Problem.Reason, tt.want)
			}
			if !strings.Contains(rep.Problem.Reason, tt.reason) {
				t.Errorf("reason %q, want it to mention %q", rep.Problem.Reason, tt.reason)
			}
		})
	}
}

// flip returns b with one bit changed at byte i (from the end when
// negative).
func flip(b []byte, i int, bit byte) []byte {
	b = append([]byte(nil), b...)
	if i < 0 {
		i += len(b)
	}
	b[i] ^= bit
	return b
}

func editContent(tp Tamperer, index uint64, at int, bit byte) error {
	c, err := tp.Content(index)
	if err != nil {
		return err
	}
	return tp.SetContent(index, flip(c, at, bit))
}

func editLeafData(tp Tamperer, index uint64, at int, bit byte) error {
	ld, err := tp.LeafData(index)
	if err != nil {
		return err
	}
	return tp.SetLeafData(index, flip(ld, at, bit))
}

// swapEvents swaps the records and contents of two events.
func swapEvents(tp Tamperer, i, j uint64) error {
	a, err := tp.LeafData(i)
	if err != nil {
		return err
	}
	b, err := tp.LeafData(j)
	if err != nil {
		return err
	}
	ca, err := tp.Content(i)
	if err != nil {
		return err
	}
	cb, err := tp.Content(j)
	if err != nil {
		return err
	}
	return errors.Join(tp.SetLeafData(i, b), tp.SetLeafData(j, a), tp.SetContent(i, cb), tp.SetContent(j, ca))
}
