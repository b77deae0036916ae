package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// The checks of this file hold what verification demands beyond the bytes
// of each event: logged erasures for missing content, indexes that agree
// with the headers, and a log that extends a checkpoint trusted earlier.

// ErasureEvent is a server-written erasure of the content of events.
func ErasureEvent(id string, indexes []uint64, ranges ...[2]uint64) *agenttrailv1.Event {
	e := &agenttrailv1.Erasure{Principal: "compliance-1", LogIndexes: indexes, Reason: "data subject request"}
	for _, r := range ranges {
		e.Ranges = append(e.Ranges, &agenttrailv1.IndexRange{First: r[0], Last: r[1]})
	}
	return &agenttrailv1.Event{EventId: id, OccurredAt: timestamppb.New(eventtest.T0), Payload: &agenttrailv1.Event_Erasure{Erasure: e}}
}

// RetentionEvent is a server-written retention of the content of events.
func RetentionEvent(id string, ranges ...[2]uint64) *agenttrailv1.Event {
	r := &agenttrailv1.Retention{Policy: "90d", Cutoff: timestamppb.New(eventtest.T0)}
	for _, rg := range ranges {
		r.Ranges = append(r.Ranges, &agenttrailv1.IndexRange{First: rg[0], Last: rg[1]})
		r.FromIndex, r.ToIndex = min(r.FromIndex, rg[0]), max(r.ToIndex, rg[1])
	}
	return &agenttrailv1.Event{EventId: id, OccurredAt: timestamppb.New(eventtest.T0), Payload: &agenttrailv1.Event_Retention{Retention: r}}
}

// tamperWith applies edits to a closed log's raw records.
func tamperWith(t *testing.T, h Harness, l Log, edit func(Tamperer) error) {
	t.Helper()
	tp, err := h.Tamper(l.URL, l.MasterKey(t).StorageKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := edit(tp); err != nil {
		t.Fatalf("tampering: %v", err)
	}
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
}

func verifyStorage(t *testing.T, l Log, vk string, opts ...store.VerifyOption) store.Report {
	t.Helper()
	rep, err := store.VerifyStorage(context.Background(), l.URL, vk, append(opts, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))...)
	if err != nil {
		t.Fatalf("VerifyStorage: %v", err)
	}
	return rep
}

func wantProblem(t *testing.T, rep store.Report, index uint64, reason string) {
	t.Helper()
	switch {
	case rep.Problem == nil:
		t.Fatalf("VerifyStorage found nothing wrong, want a problem at %d (%q)", index, reason)
	case rep.Problem.Index != index || !strings.Contains(rep.Problem.Reason, reason):
		t.Fatalf("problem %v, want index %d and a reason with %q", rep.Problem, index, reason)
	}
}

// Content may be missing only where a later erasure or retention event
// names the index; a bare erasure marker is tampering.
func testVerifyDemandsLoggedErasures(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Skip("the driver offers no raw access for tampering")
	}
	tests := []struct {
		name   string
		later  []*agenttrailv1.Event // appended after the 24 events
		erase  []uint64
		bad    bool
		first  uint64
		erased int
	}{
		{"named by log_indexes", []*agenttrailv1.Event{ErasureEvent("er-1", []uint64{5, 9})}, []uint64{5, 9}, false, 0, 2},
		{"named by a range", []*agenttrailv1.Event{ErasureEvent("er-1", nil, [2]uint64{3, 7})}, []uint64{4, 7}, false, 0, 2},
		{"named by retention", []*agenttrailv1.Event{RetentionEvent("rt-1", [2]uint64{0, 2}, [2]uint64{10, 11})}, []uint64{1, 11}, false, 0, 2},
		{"bare marker", nil, []uint64{14}, true, 14, 0},
		{"marker beside a logged erasure", []*agenttrailv1.Event{ErasureEvent("er-1", []uint64{5})}, []uint64{5, 6}, true, 6, 0},
		{"retention bounds but not ranges", []*agenttrailv1.Event{RetentionEvent("rt-1", [2]uint64{0, 2}, [2]uint64{10, 11})}, []uint64{5}, true, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLog(t, h)
			s := l.Open(t, store.WithCheckpointInterval(0), store.WithBatchLimits(8, 1<<20, 0))
			appendIn(t, s, 8, numbered("e", 24))
			if len(tt.later) > 0 {
				AppendOK(t, s, tt.later...)
			}
			vk := s.VerifierKey().String()
			s.Close()
			tamperWith(t, h, l, func(tp Tamperer) error {
				for _, i := range tt.erase {
					if err := tp.MarkErased(i); err != nil {
						return err
					}
				}
				return nil
			})
			rep := verifyStorage(t, l, vk)
			if tt.bad {
				wantProblem(t, rep, tt.first, "bare erasure marker")
				return
			}
			if !rep.OK() || rep.Erased != tt.erased {
				t.Fatalf("VerifyStorage = %v, %d erased; want OK with %d erased", rep.Problem, rep.Erased, tt.erased)
			}
		})
	}
	// An erasure logged before the event it names proves nothing.
	t.Run("erasure before the event", func(t *testing.T) {
		l := NewLog(t, h)
		s := l.Open(t, store.WithCheckpointInterval(0))
		AppendOK(t, s, ErasureEvent("er-0", []uint64{3}))
		AppendOK(t, s, numbered("e", 5)...)
		vk := s.VerifierKey().String()
		s.Close()
		tamperWith(t, h, l, func(tp Tamperer) error { return tp.MarkErased(3) })
		wantProblem(t, verifyStorage(t, l, vk), 3, "bare erasure marker")
	})
}

// The driver's Postings are exactly what the headers call for.
func testPostingsMatchHeaders(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithBatchLimits(5, 1<<20, 0))
	evs := Samples()
	for i := range 3 {
		var batch []*agenttrailv1.Event
		for j, ev := range evs {
			ev = proto.Clone(ev).(*agenttrailv1.Event)
			ev.EventId = fmt.Sprintf("%s-%d-%d", ev.GetEventId()[:8], i, j)
			batch = append(batch, ev)
		}
		appendIn(t, s, 5, batch)
	}
	size, _ := s.Size()
	want := map[store.Posting]int{}
	for i := range size {
		e, err := s.Get(context.Background(), i, store.HeaderOnly)
		if err != nil {
			t.Fatal(err)
		}
		ev := e.Header
		v := store.IndexValues{SessionID: ev.GetSessionId(), AgentID: ev.GetAgentId(), UserID: ev.GetUserId(),
			ToolName: event.ToolName(ev), Kind: event.KindOf(ev), Failure: event.IsFailure(ev), OccurredAt: ev.GetOccurredAt().AsTime()}
		for _, p := range store.PostingsOf(i, v) {
			want[p]++
		}
	}
	vk := s.VerifierKey().String()
	s.Close()
	cfg := l.DriverConfig(t)
	cfg.ReadOnly = true
	d, err := store.OpenDriver(context.Background(), l.URL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := map[store.Posting]int{}
	for p, err := range d.Postings(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got[p]++
	}
	for p, n := range want {
		if got[p] != n {
			t.Errorf("posting %+v held %d times, want %d", p, got[p], n)
		}
	}
	for p, n := range got {
		if want[p] == 0 {
			t.Errorf("posting %+v held %d times, want none", p, n)
		}
	}
	d.Close()
	rep := verifyStorage(t, l, vk)
	if !rep.OK() || rep.Postings != len(got) {
		t.Errorf("VerifyStorage = %v with %d postings checked, want OK with %d", rep.Problem, rep.Postings, len(got))
	}
}

// A log rewritten, truncated or extended in its middle by someone holding
// the signing key verifies on its own; against a checkpoint trusted
// earlier, verification names the sizes that disagree.
func testVerifyAgainstTrustedCheckpoint(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Skip("the driver offers no raw access for tampering")
	}
	const n = 48
	build := func(t *testing.T, l Log, mutate func([]*agenttrailv1.Event) []*agenttrailv1.Event) (string, commitment.TreeHead) {
		s := l.Open(t, store.WithCheckpointInterval(0), store.WithBatchLimits(8, 1<<20, 0))
		evs := numbered("t", n)
		if mutate != nil {
			evs = mutate(evs)
		}
		appendIn(t, s, 8, evs)
		cp := s.LatestCheckpoint()
		vk := s.VerifierKey().String()
		s.Close()
		return vk, commitment.TreeHead{Origin: cp.Origin, Size: cp.Size, Root: cp.Root}
	}
	l := NewLog(t, h)
	vk, saved := build(t, l, nil)
	if rep := verifyStorage(t, l, vk, store.TrustCheckpoint(saved)); !rep.OK() || rep.Trusted != 1 {
		t.Fatalf("the log itself against its checkpoint: %v, %d trusted checked", rep.Problem, rep.Trusted)
	}

	t.Run("tail truncated", func(t *testing.T) {
		l := NewLog(t, h)
		vk, saved := build(t, l, nil)
		tamperWith(t, h, l, func(tp Tamperer) error { return tp.Truncate(40) })
		if rep := verifyStorage(t, l, vk); !rep.OK() {
			t.Fatalf("without a trusted checkpoint: %v; a clean truncation verifies", rep.Problem)
		}
		rep := verifyStorage(t, l, vk, store.TrustCheckpoint(saved))
		if rep.Problem == nil || !rep.Problem.Tree || !strings.Contains(rep.Problem.Reason, "40 events, fewer than the 48") {
			t.Fatalf("problem %v, want the sizes 40 and 48 named", rep.Problem)
		}
	})
	resigned := []struct {
		name   string
		mutate func([]*agenttrailv1.Event) []*agenttrailv1.Event
	}{
		{"event rewritten and re-signed", func(evs []*agenttrailv1.Event) []*agenttrailv1.Event {
			evs[20].GetToolCall().Result = `{"variant":"rewritten"}`
			return evs
		}},
		{"forged event inserted and re-signed", func(evs []*agenttrailv1.Event) []*agenttrailv1.Event {
			return append(evs[:20:20], append([]*agenttrailv1.Event{ToolCallEvent("forged", 999)}, evs[20:]...)...)
		}},
		{"everything re-signed", nil},
	}
	for _, tt := range resigned {
		t.Run(tt.name, func(t *testing.T) {
			// The attacker holds the storage and the signing key: it
			// builds a new log of the same origin with the same key.
			forged := Log{URL: h.New(t), KeyFile: l.KeyFile}
			build(t, forged, tt.mutate)
			if rep := verifyStorage(t, forged, vk); !rep.OK() {
				t.Fatalf("without a trusted checkpoint: %v; a re-signed log verifies", rep.Problem)
			}
			rep := verifyStorage(t, forged, vk, store.TrustCheckpoint(saved))
			if rep.Problem == nil || !rep.Problem.Tree || !strings.Contains(rep.Problem.Reason, "trusted checkpoint of size 48") {
				t.Fatalf("problem %v, want the trusted size 48 named", rep.Problem)
			}
		})
	}
	t.Run("older trusted checkpoint", func(t *testing.T) {
		// A checkpoint of 24 events, saved earlier: the later log extends it.
		l := NewLog(t, h)
		s := l.Open(t, store.WithCheckpointInterval(0), store.WithBatchLimits(8, 1<<20, 0))
		evs := numbered("o", 40)
		appendIn(t, s, 8, evs[:24])
		cp := s.LatestCheckpoint()
		appendIn(t, s, 8, evs[24:])
		vk := s.VerifierKey().String()
		s.Close()
		rep := verifyStorage(t, l, vk, store.TrustCheckpoint(commitment.TreeHead{Origin: cp.Origin, Size: cp.Size, Root: cp.Root}))
		if !rep.OK() || rep.Trusted != 1 {
			t.Fatalf("VerifyStorage = %v, %d trusted; want OK, 1", rep.Problem, rep.Trusted)
		}
	})
}

// An empty log does not verify: there is nothing to verify.
func testVerifyEmptyLog(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t)
	vk := s.VerifierKey().String()
	s.Close()
	rep := verifyStorage(t, l, vk)
	if rep.Problem == nil || !rep.Problem.Tree || !strings.Contains(rep.Problem.Reason, "empty") || !rep.Empty() {
		t.Fatalf("VerifyStorage of an empty log = %+v, want a problem saying it is empty", rep)
	}
}

// Events beyond the newest signed checkpoint are reported as an unsigned
// tail, not as signed.
func testVerifyReportsUnsignedTail(t *testing.T, h Harness) {
	l := NewLog(t, h)
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	nd := &unsignedDriver{Driver: d}
	s, err := store.New(context.Background(), nd, l.Options(store.WithCheckpointInterval(0))...)
	if err != nil {
		t.Fatal(err)
	}
	AppendOK(t, s, numbered("u", 10)...)
	nd.drop.Store(true) // from now on no checkpoint reaches the storage
	AppendOK(t, s, numbered("v", 6)...)
	vk := s.VerifierKey().String()
	s.Close()
	rep := verifyStorage(t, l, vk)
	if from, to := rep.UnsignedTail(); !rep.OK() || from != 10 || to != 16 {
		t.Fatalf("VerifyStorage = %v, unsigned tail [%d, %d); want OK with [10, 16)", rep.Problem, from, to)
	}
}

// unsignedDriver drops every checkpoint once drop is set, as if the
// signing had stopped reaching the storage.
type unsignedDriver struct {
	store.Driver
	drop atomic.Bool
}

func (u *unsignedDriver) Commit(ctx context.Context, b *store.Batch) error {
	if u.drop.Load() {
		c := *b
		c.Checkpoint = nil
		b = &c
	}
	return u.Driver.Commit(ctx, b)
}

func (u *unsignedDriver) PutCheckpoint(ctx context.Context, size uint64, note []byte) error {
	if u.drop.Load() {
		return nil
	}
	return u.Driver.PutCheckpoint(ctx, size, note)
}

// appendIn appends events in calls of at most n.
func appendIn(t testing.TB, s *store.Store, n int, evs []*agenttrailv1.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += n {
		AppendOK(t, s, evs[i:min(i+n, len(evs))]...)
	}
}

// A store kept with a checkpoint record refuses to open a storage behind or
// inconsistent with the newest checkpoint it signed or had cosigned.
func testCheckpointRecordRefusesRollback(t *testing.T, h Harness) {
	ctx := context.Background()
	l := NewLog(t, h)
	record := l.KeyFile + ".checkpoints.json"
	opts := []store.Option{store.WithCheckpointRecord(record), store.WithCheckpointInterval(0), store.WithBatchLimits(8, 1<<20, 0)}
	s := l.Open(t, opts...)
	appendIn(t, s, 8, numbered("r", 16))
	if err := s.RecordCosigned(ctx, s.LatestCheckpoint().Note); err != nil {
		t.Fatalf("RecordCosigned: %v", err)
	}
	if got := s.LatestCosigned().Size; got != 16 {
		t.Fatalf("LatestCosigned().Size = %d, want 16", got)
	}
	appendIn(t, s, 8, numbered("s", 8))
	s.Close()

	// Reopened as it is: fine, and it goes on.
	s, err := store.Open(ctx, l.URL, l.Options(opts...)...)
	if err != nil {
		t.Fatalf("reopening: %v", err)
	}
	if got := s.LatestCosigned().Size; got != 16 {
		t.Errorf("after reopening, LatestCosigned().Size = %d, want 16", got)
	}
	s.Close()

	t.Run("rewritten", func(t *testing.T) {
		forged := Log{URL: h.New(t), KeyFile: l.KeyFile}
		fs := forged.Open(t, store.WithCheckpointInterval(0))
		appendIn(t, fs, 8, numbered("f", 30))
		fs.Close()
		_, err := store.Open(ctx, forged.URL, forged.Options(opts...)...)
		if !errors.Is(err, store.ErrRolledBack) || !strings.Contains(err.Error(), "signed covers 24 events and the newest cosigned one 16") {
			t.Fatalf("Open of a rewritten log = %v, want ErrRolledBack naming 24 and 16", err)
		}
	})
	if h.Tamper == nil {
		return
	}
	t.Run("truncated", func(t *testing.T) {
		tamperWith(t, h, l, func(tp Tamperer) error { return tp.Truncate(8) })
		_, err := store.Open(ctx, l.URL, l.Options(opts...)...)
		if !errors.Is(err, store.ErrRolledBack) || !strings.Contains(err.Error(), "holds 8 events") || !strings.Contains(err.Error(), "24 events") {
			t.Fatalf("Open of a truncated log = %v, want ErrRolledBack naming 8 and 24", err)
		}
	})
}
