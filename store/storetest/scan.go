package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// Corpus builds n events spread over sessions, agents, users, kinds, tools
// and occurred_at hours, deterministically.
func Corpus(n int) []*agenttrailv1.Event {
	base := Samples()
	var out []*agenttrailv1.Event
	for i := 0; i < n; i++ {
		ev := proto.Clone(base[i%len(base)]).(*agenttrailv1.Event)
		ev.EventId = eventtest.ID(fmt.Sprintf("ev-%05d", i))
		if !event.IsServerKind(event.KindOf(ev)) {
			ev.SessionId = fmt.Sprintf("session-%d", i%7)
			ev.AgentId = fmt.Sprintf("agent-%d", i%3)
			ev.UserId = fmt.Sprintf("user-%d", i%5)
		}
		ev.ParentEventId = ""
		ev.OccurredAt = timestamppb.New(Now.Add(-time.Duration(i%11) * 40 * time.Minute))
		if tc := ev.GetToolCall(); tc != nil && i%2 == 0 {
			tc.ToolName = "search"
		}
		out = append(out, ev)
	}
	return out
}

func collect(t *testing.T, s *store.Store, q store.Query) []uint64 {
	t.Helper()
	var got []uint64
	for e, err := range s.Scan(context.Background(), q) {
		if err != nil {
			t.Fatalf("Scan(%+v): %v", q, err)
		}
		got = append(got, e.Index)
	}
	return got
}

func testScanMatchesBruteForce(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t, store.WithBatchLimits(37, 1<<20, 0))
	evs := Corpus(600)
	for i := 0; i < len(evs); i += 30 {
		AppendOK(t, s, evs[i:min(i+30, len(evs))]...)
	}
	hour := Now.Truncate(time.Hour)
	filters := []struct {
		name string
		f    store.Filter
	}{
		{"all", store.Filter{}},
		{"session", store.Filter{SessionID: "session-3"}},
		{"agent", store.Filter{AgentID: "agent-1"}},
		{"user", store.Filter{UserID: "user-4"}},
		{"tool", store.Filter{ToolName: "search"}},
		{"one kind", store.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_LLM_CALL}}},
		{"two kinds", store.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ERROR, agenttrailv1.EventKind_EVENT_KIND_ACCESS}}},
		{"errors only", store.Filter{ErrorsOnly: true}},
		{"time range", store.Filter{OccurredAfter: hour.Add(-3 * time.Hour), OccurredBefore: hour.Add(-time.Hour)}},
		{"open time range", store.Filter{OccurredAfter: Now.Add(-100 * time.Minute)}},
		{"index range", store.Filter{FromIndex: 100, ToIndex: 250}},
		{"session and kind", store.Filter{SessionID: "session-2", Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL}}},
		{"user, errors, index", store.Filter{UserID: "user-1", ErrorsOnly: true, FromIndex: 50, ToIndex: 500}},
		{"nothing", store.Filter{SessionID: "no-such-session"}},
	}
	for _, tt := range filters {
		var want []uint64
		for i, ev := range evs {
			idx := uint64(i)
			if match(tt.f, ev, idx) {
				want = append(want, idx)
			}
		}
		got := collect(t, s, store.Query{Filter: tt.f})
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %d entries %v, want %d %v", tt.name, len(got), head(got), len(want), head(want))
		}
		desc := collect(t, s, store.Query{Filter: tt.f, Descending: true})
		rev := slices.Clone(want)
		slices.Reverse(rev)
		if !slices.Equal(desc, rev) {
			t.Errorf("%s descending: got %v, want %v", tt.name, head(desc), head(rev))
		}
		if len(want) > 3 {
			// Resuming after any index continues exactly where it left off.
			after := want[len(want)/2]
			got := collect(t, s, store.Query{Filter: tt.f, After: &after, Limit: 2})
			if !slices.Equal(got, want[len(want)/2+1:len(want)/2+3]) {
				t.Errorf("%s resumed after %d with limit 2: got %v, want %v", tt.name, after, got, want[len(want)/2+1:len(want)/2+3])
			}
			got = collect(t, s, store.Query{Filter: tt.f, After: &after, Descending: true})
			wantDesc := slices.Clone(want[:len(want)/2])
			slices.Reverse(wantDesc)
			if !slices.Equal(got, wantDesc) {
				t.Errorf("%s resumed descending before %d: got %v, want %v", tt.name, after, head(got), head(wantDesc))
			}
		}
	}
}

func match(f store.Filter, ev *agenttrailv1.Event, idx uint64) bool {
	if idx < f.FromIndex || f.ToIndex != 0 && idx >= f.ToIndex {
		return false
	}
	if f.SessionID != "" && ev.GetSessionId() != f.SessionID || f.AgentID != "" && ev.GetAgentId() != f.AgentID ||
		f.UserID != "" && ev.GetUserId() != f.UserID || f.ToolName != "" && ev.GetToolCall().GetToolName() != f.ToolName ||
		f.ErrorsOnly && !event.IsFailure(ev) {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, event.KindOf(ev)) {
		return false
	}
	at := ev.GetOccurredAt().AsTime()
	return (f.OccurredAfter.IsZero() || !at.Before(f.OccurredAfter)) && (f.OccurredBefore.IsZero() || at.Before(f.OccurredBefore))
}

func head(xs []uint64) []uint64 {
	if len(xs) > 12 {
		return xs[:12]
	}
	return xs
}

func testScanReadsContentOnlyWhenAsked(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t)
	AppendOK(t, s, Samples()...)
	for e, err := range s.Scan(context.Background(), store.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Content != nil || e.ContentState != store.ContentNotRead {
			t.Fatalf("entry %d: content read without WithContent", e.Index)
		}
	}
	n := 0
	for e, err := range s.Scan(context.Background(), store.Query{Read: store.HeaderAndContent}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.ContentState != store.ContentPresent {
			t.Fatalf("entry %d: content state %v, want present", e.Index, e.ContentState)
		}
		n++
	}
	if n != len(Samples()) {
		t.Errorf("scanned %d entries, want %d", n, len(Samples()))
	}
}

func testFollowStreamsNewEvents(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t)
	evs := Corpus(40)
	AppendOK(t, s, evs[:10]...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caughtUp := make(chan uint64, 1)
	got := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		for e, err := range s.Scan(ctx, store.Query{Filter: store.Filter{SessionID: "session-1"}, Follow: true,
			CaughtUp: func(n uint64) { caughtUp <- n }}) {
			if err != nil {
				done <- err
				return
			}
			got <- e.Index
		}
		done <- nil
	}()
	if n := <-caughtUp; n != 10 {
		t.Errorf("caught up at %d, want 10", n)
	}
	for i := 10; i < 40; i += 5 {
		AppendOK(t, s, evs[i:i+5]...)
	}
	var want []uint64
	for i, ev := range evs {
		if ev.GetSessionId() == "session-1" {
			want = append(want, uint64(i))
		}
	}
	var seen []uint64
	timeout := time.After(10 * time.Second)
	for len(seen) < len(want) {
		select {
		case idx := <-got:
			seen = append(seen, idx)
		case <-timeout:
			t.Fatalf("follow delivered %v, want %v", seen, want)
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("follow delivered %v, want %v", seen, want)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("follow ended with %v, want context.Canceled", err)
	}

	// Close ends a follower with ErrClosed.
	go func() {
		for _, err := range s.Scan(context.Background(), store.Query{Follow: true}) {
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("follower ended with %v at Close, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follower did not end when the store closed")
	}
}

// testScanRecordsMatchPointReads holds a driver's scans to its point reads:
// every entry a scan yields, with content or without, in either order,
// through each kind of index (dense and sparse postings, every record) and
// across erased events, carries exactly the records ReadEntries returns for
// its index.
func testScanRecordsMatchPointReads(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithBatchLimits(37, 1<<20, 0))
	ctx := context.Background()
	evs := Corpus(700)
	for i, ev := range evs {
		if i%97 == 5 && !event.IsServerKind(event.KindOf(ev)) {
			ev.SessionId = "sparse" // further apart than a driver steps
		}
	}
	for i := 0; i < len(evs); i += 30 {
		AppendOK(t, s, evs[i:min(i+30, len(evs))]...)
	}
	var ids []string
	for i := 3; i < len(evs); i += 11 {
		if !event.IsServerKind(event.KindOf(evs[i])) {
			ids = append(ids, evs[i].GetEventId())
		}
	}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-scan", EventIDs: ids}); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-scan-2", SessionID: "session-4"}); err != nil {
		t.Fatalf("Erase(session-4): %v", err)
	}
	size, _ := s.Size()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := store.OpenDriver(ctx, l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, f := range []store.Filter{{}, {SessionID: "session-2"}, {SessionID: "sparse"}, {AgentID: "agent-1"}, {UserID: "user-3"}} {
		for _, desc := range []bool{false, true} {
			for _, content := range []bool{false, true} {
				name := fmt.Sprintf("filter %+v, descending %v, content %v", f, desc, content)
				n, erased := 0, 0
				for raw, err := range d.Scan(ctx, store.ScanRequest{Filter: &f, Lo: 1, Hi: size - 1, Descending: desc, Content: content}) {
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					want, err := d.ReadEntries(ctx, []uint64{raw.Index}, content)
					if err != nil || len(want) != 1 {
						t.Fatalf("%s: ReadEntries(%d) = %d entries, %v", name, raw.Index, len(want), err)
					}
					w := want[0]
					if !bytes.Equal(raw.LeafData, w.LeafData) || !bytes.Equal(raw.Content, w.Content) ||
						!bytes.Equal(raw.ContentKey, w.ContentKey) || raw.Erased != w.Erased ||
						content && raw.Content == nil && !raw.Erased && raw.ContentKey == nil {
						t.Fatalf("%s: entry %d differs from its point read (content %d/%d bytes, key %d/%d bytes, erased %v/%v)",
							name, raw.Index, len(raw.Content), len(w.Content), len(raw.ContentKey), len(w.ContentKey), raw.Erased, w.Erased)
					}
					if content && (raw.Erased || raw.ContentKey == nil) {
						erased++
					}
					n++
				}
				if n == 0 || content && f.SessionID != "sparse" && erased == 0 {
					t.Errorf("%s: %d entries, %d of them erased: the test reads too little", name, n, erased)
				}
			}
		}
	}
}

// testLeanScanSameAsDecoded holds a lean scan (store.Query.LeanHeader: the
// header's ids read from its encoding, not decoded) to the ordinary one:
// the same entries, errors and fields, with content and without, in either
// order, from the recent batches and from the driver, across erased events
// and subjects of every kind (user, session, the log's for server events);
// a filter that names more than ids decodes.
func testLeanScanSameAsDecoded(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithBatchLimits(37, 1<<20, 0))
	ctx := context.Background()
	evs := Corpus(300)
	for i, ev := range evs {
		if i%7 == 3 && !event.IsServerKind(event.KindOf(ev)) {
			ev.UserId = "" // keyed by its session
		}
	}
	for i := 0; i < len(evs); i += 30 {
		AppendOK(t, s, evs[i:min(i+30, len(evs))]...)
	}
	var ids []string
	for i := 3; i < len(evs); i += 11 {
		if !event.IsServerKind(event.KindOf(evs[i])) {
			ids = append(ids, evs[i].GetEventId())
		}
	}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-lean", EventIDs: ids}); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	compare := func(s *store.Store, from string) {
		t.Helper()
		filters := []store.Filter{{}, {SessionID: "session-2"}, {AgentID: "agent-1"}, {UserID: "user-3"},
			{SessionID: "session-1", FromIndex: 20, ToIndex: 200}, {ToolName: "search"}, {SessionID: "session-2", ErrorsOnly: true}}
		for _, f := range filters {
			for _, desc := range []bool{false, true} {
				for _, mode := range []store.ReadMode{store.HeaderOnly, store.HeaderAndContent} {
					name := fmt.Sprintf("%s: filter %+v, descending %v, mode %v", from, f, desc, mode)
					q := store.Query{Filter: f, Descending: desc, Read: mode}
					var want []*store.Entry
					for e, err := range s.Scan(ctx, q) {
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						want = append(want, e)
					}
					q.LeanHeader = true
					i, lean := 0, 0
					for e, err := range s.Scan(ctx, q) {
						if err != nil {
							t.Fatalf("%s: lean: %v", name, err)
						}
						if i >= len(want) {
							t.Fatalf("%s: lean scan yields entry %d beyond the %d of the scan", name, e.Index, len(want))
						}
						w := want[i]
						i++
						if e.Header == nil {
							lean++
						}
						if err := e.DecodeHeader(); err != nil {
							t.Fatalf("%s: DecodeHeader(%d): %v", name, e.Index, err)
						}
						if e.Index != w.Index || !e.ReceivedAt.Equal(w.ReceivedAt) || e.ReceivedAt.Location() != w.ReceivedAt.Location() ||
							e.Principal != w.Principal || !bytes.Equal(e.HeaderBytes, w.HeaderBytes) || e.ContentDigest != w.ContentDigest ||
							e.LeafHash != w.LeafHash || !bytes.Equal(e.Content, w.Content) || !bytes.Equal(e.Salt, w.Salt) ||
							e.ContentState != w.ContentState || e.ErasedBy != w.ErasedBy || !proto.Equal(e.Header, w.Header) {
							t.Fatalf("%s: lean entry %d differs from the decoded entry %d", name, e.Index, w.Index)
						}
					}
					if i != len(want) || len(want) == 0 {
						t.Errorf("%s: lean scan yields %d entries, the scan %d", name, i, len(want))
					}
					idsOnly := f.ToolName == "" && !f.ErrorsOnly
					if idsOnly && lean != i || !idsOnly && lean != 0 {
						t.Errorf("%s: %d of %d entries came without their header", name, lean, i)
					}
				}
			}
		}
	}
	compare(s, "open store")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = l.Open(t)
	defer s.Close()
	compare(s, "reopened store")
}
