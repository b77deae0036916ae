package storetest

import (
	"context"
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
	flip := func(b []byte, i int, bit byte) []byte {
		b = append([]byte(nil), b...)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= bit
		return b
	}
	tests := []struct {
		name   string
		edit   func(tp Tamperer)
		want   uint64
		reason string
	}{
		{"content byte", func(tp Tamperer) { tp.SetContent(17, flip(tp.Content(17), -3, 0x01)) }, 17, "content does not match"},
		{"salt byte", func(tp Tamperer) { tp.SetContent(3, flip(tp.Content(3), 5, 0x80)) }, 3, "content does not match"},
		{"header byte", func(tp Tamperer) { tp.SetLeafData(29, flip(tp.LeafData(29), 12, 0x04)) }, 29, "leaf hash"},
		{"digest byte", func(tp Tamperer) { tp.SetLeafData(41, flip(tp.LeafData(41), -1, 0x01)) }, 41, "leaf hash"},
		{"deleted event record", func(tp Tamperer) { tp.DeleteEvent(22) }, 22, "record is missing"},
		{"deleted content", func(tp Tamperer) { tp.DeleteContent(9) }, 9, "missing"},
		{"deleted id index", func(tp Tamperer) { tp.DeleteEventID("t-0033") }, 33, "id index"},
		{"swapped events", func(tp Tamperer) {
			a, b := tp.LeafData(12), tp.LeafData(35)
			ca, cb := tp.Content(12), tp.Content(35)
			tp.SetLeafData(12, b)
			tp.SetLeafData(35, a)
			tp.SetContent(12, cb)
			tp.SetContent(35, ca)
		}, 12, "leaf hash"},
		{"tree hash", func(tp Tamperer) {
			// The leaf hash of event 24, as the stored tree holds it.
			idx := tlog.StoredHashIndex(0, 24)
			tp.SetTreeHash(idx, [store.HashSize]byte(flip(func() []byte { h := tp.TreeHash(idx); return h[:] }(), 0, 1)))
		}, 24, "leaf hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, vk := tamperedLog(t, h, n)
			rep, err := store.VerifyStorage(context.Background(), l.URL, vk)
			if err != nil || !rep.OK() {
				t.Fatalf("before tampering: VerifyStorage = %+v, %v", rep, err)
			}
			tp := h.Tamper(t, l.URL)
			tt.edit(tp)
			tp.Close()
			rep, err = store.VerifyStorage(context.Background(), l.URL, vk)
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
