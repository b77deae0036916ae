package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// Person is one event of the lifecycle tests: whose it is, and a marker
// that its content holds and nothing else does.
type Person struct {
	ID, Session, User, Agent string
	Kind                     agenttrailv1.EventKind // LLM_CALL or TOOL_CALL
	Labels                   map[string]string
}

// Marker is the unique text the content of an event of the lifecycle tests
// holds.
func (p Person) Marker() string { return "marker-" + p.ID + "-zq" }

// EventID is the event id of a Person's event: a UUID made from its ID.
func (p Person) EventID() string { return eventtest.ID(p.ID) }

// PersonEvent returns the event of a Person: an LLM call or a tool call
// whose content holds its marker.
func PersonEvent(p Person) *agenttrailv1.Event {
	var ev *agenttrailv1.Event
	if p.Kind == agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL {
		ev = proto.Clone(eventtest.Samples()[3].Event).(*agenttrailv1.Event)
		ev.GetToolCall().Result = `{"note":"` + p.Marker() + `"}`
	} else {
		ev = proto.Clone(eventtest.Samples()[2].Event).(*agenttrailv1.Event)
		ev.GetLlmCall().OutputText = "Dear customer, " + p.Marker()
	}
	ev.EventId, ev.SessionId, ev.UserId, ev.AgentId = p.EventID(), p.Session, p.User, p.Agent
	ev.ParentEventId = ""
	ev.OccurredAt = timestamppb.New(eventtest.T0)
	ev.Labels = p.Labels
	return ev
}

// Clock is a clock a test moves.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lifecycleTests are the suite's tests of the content lifecycle.
var lifecycleTests = []struct {
	name string
	fn   func(*testing.T, Harness)
}{
	{"KeyringRecordsAreReplacedAndDestroyed", testKeyring},
	{"LifecycleRecordsAreWrittenOnce", testLifecycleRecords},
	{"ContentIsEncryptedPerEvent", testContentEncrypted},
	{"EraseBySubject", testEraseBySubject},
	{"EraseDuringAScan", testEraseDuringScan},
	{"EraseBySessionAndIDs", testEraseBySessionAndIDs},
	{"EraseIsIdempotent", testEraseIdempotent},
	{"EraseRefusedByHold", testEraseHeld},
	{"EraseRefusesBadRequests", testEraseBadRequests},
	{"EraseFinishesAfterAFailure", testEraseFinishesAfterFailure},
	{"RetentionExpiresByPolicy", testRetention},
	{"RetentionPoliciesAreVersioned", testRetentionPolicies},
	{"VerifyNeedsErasureForMissingContent", testVerifyMissingContent},
}

func testKeyring(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t)
	AppendOK(t, s, ToolCallEvent(eventtest.ID("k-1"), 1))
	s.Close()
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	recs := []store.KeyRecord{{Name: []byte("x-a"), Value: []byte("1")}, {Name: []byte("x-b"), Value: []byte("2")}}
	for i := uint64(1000); i < 1600; i++ {
		recs = append(recs, store.KeyRecord{Name: store.EventKeyName(i), Value: []byte(fmt.Sprint(i))})
	}
	if err := d.PutKeys(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := d.PutKeys(ctx, []store.KeyRecord{{Name: []byte("x-a"), Value: []byte("1b")}}); err != nil {
		t.Fatalf("replacing a keyring record: %v", err)
	}
	got, err := d.Keys(ctx, [][]byte{[]byte("x-a"), []byte("x-c")})
	if err != nil || string(got["x-a"]) != "1b" || len(got) != 1 {
		t.Fatalf("Keys = %q, %v; want x-a=1b only", got, err)
	}
	var names []string
	for r, err := range d.KeysWithPrefix(ctx, []byte("x-")) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, string(r.Name))
	}
	if fmt.Sprint(names) != "[x-a x-b]" {
		t.Errorf("KeysWithPrefix(x-) = %q, want [x-a x-b]", names)
	}
	// Destroy x-a, a whole aligned run of event keys and a few scattered
	// ones; everything else stays.
	destroy := [][]byte{[]byte("x-a"), []byte("x-none")}
	gone := map[uint64]bool{}
	for i := uint64(1024); i < 1536; i++ {
		destroy, gone[i] = append(destroy, store.EventKeyName(i)), true
	}
	for _, i := range []uint64{1001, 1007, 1599} {
		destroy, gone[i] = append(destroy, store.EventKeyName(i)), true
	}
	for range 2 { // idempotent
		if err := d.DestroyKeys(ctx, destroy); err != nil {
			t.Fatalf("DestroyKeys: %v", err)
		}
	}
	var all [][]byte
	for i := uint64(1000); i < 1600; i++ {
		all = append(all, store.EventKeyName(i))
	}
	all = append(all, []byte("x-a"), []byte("x-b"))
	got, err = d.Keys(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1000); i < 1600; i++ {
		if _, ok := got[string(store.EventKeyName(i))]; ok == gone[i] {
			t.Fatalf("event key %d: present %v after destroying %v", i, ok, gone[i])
		}
	}
	if _, ok := got["x-a"]; ok {
		t.Errorf("x-a survived DestroyKeys")
	}
	if string(got["x-b"]) != "2" {
		t.Errorf("x-b = %q after destroying others, want 2", got["x-b"])
	}
	// Names with no record never widen what goes: the even keys of
	// 1536..1598, and as many names of keys that never existed as there
	// are odd ones, which stay.
	destroy = nil
	for i := uint64(1536); i < 1599; i++ {
		if i%2 == 0 {
			destroy = append(destroy, store.EventKeyName(i))
		} else {
			destroy = append(destroy, store.EventKeyName(i+200))
		}
	}
	if err := d.DestroyKeys(ctx, destroy); err != nil {
		t.Fatal(err)
	}
	var odd [][]byte
	for i := uint64(1537); i < 1599; i += 2 {
		odd = append(odd, store.EventKeyName(i))
	}
	if got, err := d.Keys(ctx, odd); err != nil || len(got) != len(odd) {
		t.Errorf("after destroying the even keys of a run, %d of its %d odd keys are left (%v)", len(got), len(odd), err)
	}
	// The log itself is untouched.
	raw, err := d.ReadEntries(ctx, []uint64{0}, true)
	if err != nil || raw[0].Content == nil || raw[0].ContentKey == nil {
		t.Errorf("event 0 after DestroyKeys: %+v, %v; want its content and key", raw, err)
	}
}

func testLifecycleRecords(t *testing.T, h Harness) {
	l := NewLog(t, h)
	l.Open(t).Close()
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	a := store.LifecycleRecord{Name: []byte("t-1"), Value: []byte("v")}
	if err := d.PutLifecycle(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := d.PutLifecycle(ctx, a); err != nil {
		t.Errorf("the same record again: %v, want nil", err)
	}
	if err := d.PutLifecycle(ctx, store.LifecycleRecord{Name: []byte("t-1"), Value: []byte("w")}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("another value under a stored name: %v, want ErrAlreadyExists", err)
	}
	if err := d.PutLifecycle(ctx, store.LifecycleRecord{Name: []byte("t-2"), Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for r, err := range d.Lifecycle(ctx, []byte("t-")) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(r.Name)+"="+string(r.Value))
	}
	if fmt.Sprint(got) != "[t-1=v t-2=x]" {
		t.Errorf("Lifecycle(t-) = %q", got)
	}
}

// testContentEncrypted checks what the driver is handed: content records of
// version 2 that hold no plaintext, each with its own key record.
func testContentEncrypted(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t)
	if !s.Encrypted() {
		t.Fatal("a new store is not encrypted")
	}
	p := []Person{{ID: "enc-1", Session: "s-enc", User: "u-enc", Agent: "a"}, {ID: "enc-2", Session: "s-enc", User: "u-enc", Agent: "a"}}
	AppendOK(t, s, PersonEvent(p[0]), PersonEvent(p[1]))
	s.Close()
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	raws, err := d.ReadEntries(context.Background(), []uint64{0, 1}, true)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range raws {
		if r.Content[0] != 2 || bytes.Contains(r.Content, []byte(p[i].Marker())) {
			t.Errorf("event %d: content record version %d, holds its plaintext: %v", i, r.Content[0], bytes.Contains(r.Content, []byte(p[i].Marker())))
		}
		if len(r.ContentKey) == 0 {
			t.Errorf("event %d has no content key record", i)
		}
	}
	if bytes.Equal(raws[0].ContentKey, raws[1].ContentKey) {
		t.Error("two events share a content key record")
	}
	// Opening with another master key fails, naming the key.
	other, _ := store.GenerateMasterKey()
	_, err = store.Open(context.Background(), l.URL, append(l.Options(), store.WithMasterKey(other))...)
	if !errors.Is(err, store.ErrWrongKey) {
		t.Errorf("Open with another master key = %v, want ErrWrongKey", err)
	}
}

// lifecycleLog is the log of the erasure tests:
//
//	0..3   user u1, session s1 (1 and 3 without user_id)
//	4..5   user u1, session s2
//	6..7   user u2, session s3
//	8..9   no user, session s4
//	10..11 user u3, session s5, agent other-agent
func lifecycleLog(t *testing.T, h Harness, opts ...store.Option) (Log, *store.Store, []Person) {
	t.Helper()
	l := NewLog(t, h)
	s := l.Open(t, append([]store.Option{store.WithRetentionInterval(0), store.WithCheckpointInterval(0)}, opts...)...)
	llm, tool := agenttrailv1.EventKind_EVENT_KIND_LLM_CALL, agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL
	people := []Person{
		{"e00", "s1", "u1", "support-agent", llm, nil},
		{"e01", "s1", "", "support-agent", tool, nil},
		{"e02", "s1", "u1", "support-agent", llm, map[string]string{"env": "staging"}},
		{"e03", "s1", "", "support-agent", tool, nil},
		{"e04", "s2", "u1", "support-agent", llm, nil},
		{"e05", "s2", "u1", "support-agent", tool, nil},
		{"e06", "s3", "u2", "support-agent", llm, nil},
		{"e07", "s3", "u2", "support-agent", tool, map[string]string{"env": "staging"}},
		{"e08", "s4", "", "support-agent", llm, nil},
		{"e09", "s4", "", "support-agent", tool, nil},
		{"e10", "s5", "u3", "other-agent", llm, map[string]string{"env": "staging"}},
		{"e11", "s5", "u3", "other-agent", tool, nil},
	}
	for _, p := range people {
		AppendOK(t, s, PersonEvent(p))
	}
	return l, s, people
}

// contentState reads every event's content state and, for erased ones, the
// index that erased them.
func contentStates(t *testing.T, s *store.Store, n int) (present []int, erased map[int]uint64) {
	t.Helper()
	erased = map[int]uint64{}
	for i := 0; i < n; i++ {
		e, err := s.Get(context.Background(), uint64(i), store.HeaderAndContent)
		if err != nil {
			t.Fatalf("Get(%d): %v", i, err)
		}
		switch e.ContentState {
		case store.ContentPresent:
			present = append(present, i)
		case store.ContentErased:
			erased[i] = e.ErasedBy
		}
	}
	return present, erased
}

func erasedList(m map[int]uint64) []int {
	var out []int
	for i := range m {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

func verifyOK(t *testing.T, l Log, s *store.Store) {
	t.Helper()
	rep, err := s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func testEraseBySubject(t *testing.T, h Harness) {
	l, s, people := lifecycleLog(t, h)
	ctx := context.Background()
	res, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-1", UserID: "u1"})
	if err != nil {
		t.Fatalf("Erase(u1): %v", err)
	}
	// u1's events, and the events without user_id of u1's sessions.
	if res.Count != 6 || res.Index != 12 || fmt.Sprint(res.Ranges) != "[{0 5}]" {
		t.Errorf("Erase(u1) = %+v, want 6 events (0..5) erased by event 12", res)
	}
	present, erased := contentStates(t, s, len(people))
	if fmt.Sprint(erasedList(erased)) != "[0 1 2 3 4 5]" || fmt.Sprint(present) != "[6 7 8 9 10 11]" {
		t.Errorf("erased %v, present %v", erasedList(erased), present)
	}
	for i, by := range erased {
		if by != 12 {
			t.Errorf("event %d erased by %d, want 12", i, by)
		}
	}
	e, err := s.Get(ctx, 12, store.HeaderAndContent)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := e.Event()
	er := ev.GetErasure()
	if er == nil || er.GetUserId() != "u1" || er.GetPrincipal() != "dpo" || er.GetReason() != "DSR-1" ||
		fmt.Sprint(er.GetLogIndexes()) != "[0 1 2 3 4 5]" || er.GetEventsAffected() != 6 || e.Principal != store.ServerPrincipal {
		t.Errorf("the Erasure event is %v (principal %s)", ev, e.Principal)
	}
	verifyOK(t, l, s)

	// New events of the subject are readable: they take a new key.
	AppendOK(t, s, PersonEvent(Person{ID: "e13", Session: "s1", User: "u1", Agent: "support-agent"}))
	s.Close()
	s = l.Open(t, store.WithRetentionInterval(0))
	present, erased = contentStates(t, s, 14)
	if fmt.Sprint(erasedList(erased)) != "[0 1 2 3 4 5]" || !slices.Contains(present, 13) {
		t.Errorf("after reopening: erased %v, present %v", erasedList(erased), present)
	}
	verifyOK(t, l, s)
	s.Close()
	rep, err := store.VerifyStorage(ctx, l.URL, s.VerifierKey().String(), store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	if err != nil || !rep.OK() {
		t.Errorf("VerifyStorage after erasure = %+v, %v", rep, err)
	}
}

// A scan that reads content while an erasure runs shows the events the
// erasure names as erased from the moment it commits, though the scan
// opened an event of the same subject just before (and keeps that
// subject's key from one event to the next), and goes on opening the
// others. Both ways of decoding a scan's entries: the lean one (a filter of
// ids) and the full one.
func testEraseDuringScan(t *testing.T, h Harness) {
	for _, lean := range []bool{true, false} {
		t.Run(fmt.Sprintf("lean=%v", lean), func(t *testing.T) {
			_, s, people := lifecycleLog(t, h)
			ctx := context.Background()
			q := store.Query{Read: store.HeaderAndContent, LeanHeader: lean, Filter: store.Filter{AgentID: "support-agent"}}
			if !lean {
				q.Filter.Kinds = []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_LLM_CALL, agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL}
			}
			next, stop := iter.Pull2(s.Scan(ctx, q))
			defer stop()
			e, err, ok := next()
			if !ok || err != nil || e.Index != 0 || e.ContentState != store.ContentPresent || !bytes.Contains(e.Content, []byte(people[0].Marker())) {
				t.Fatalf("first entry: %+v, %v, %v; want event 0 with its content", e, err, ok)
			}
			res, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-9", UserID: "u1"})
			if err != nil {
				t.Fatalf("Erase(u1): %v", err)
			}
			var got []string
			for {
				e, err, ok := next()
				if !ok {
					break
				}
				if err != nil {
					t.Fatalf("after the erasure: %v", err)
				}
				switch {
				case e.ContentState == store.ContentErased && e.ErasedBy == res.Index && e.Content == nil:
					got = append(got, fmt.Sprintf("%d erased", e.Index))
				case e.ContentState == store.ContentPresent && bytes.Contains(e.Content, []byte(people[e.Index].Marker())):
					got = append(got, fmt.Sprintf("%d present", e.Index))
				default:
					t.Errorf("event %d: state %v, erased by %d, content %q", e.Index, e.ContentState, e.ErasedBy, e.Content)
				}
			}
			want := "[1 erased 2 erased 3 erased 4 erased 5 erased 6 present 7 present 8 present 9 present]"
			if fmt.Sprint(got) != want {
				t.Errorf("after the erasure the scan returned %v, want %v", got, want)
			}
		})
	}
}

func testEraseBySessionAndIDs(t *testing.T, h Harness) {
	l, s, people := lifecycleLog(t, h)
	ctx := context.Background()
	res, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-2", SessionID: "s1"})
	if err != nil || res.Count != 4 || fmt.Sprint(res.Ranges) != "[{0 3}]" {
		t.Fatalf("Erase(session s1) = %+v, %v; want 0..3", res, err)
	}
	res2, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-3", EventIDs: []string{eventtest.ID("e06"), eventtest.ID("e09"), eventtest.ID("e11")}})
	if err != nil || res2.Count != 3 || res2.Index != res.Index+1 {
		t.Fatalf("Erase(ids) = %+v, %v", res2, err)
	}
	res3, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-4", SessionID: "s4"})
	if err != nil || res3.Count != 1 || fmt.Sprint(res3.Ranges) != "[{8 8}]" {
		t.Fatalf("Erase(session s4, 9 erased already) = %+v, %v; want 8 alone", res3, err)
	}
	present, erased := contentStates(t, s, len(people))
	want := map[int]uint64{0: res.Index, 1: res.Index, 2: res.Index, 3: res.Index, 6: res2.Index, 9: res2.Index, 11: res2.Index, 8: res3.Index}
	if fmt.Sprint(erased) != fmt.Sprint(want) || fmt.Sprint(present) != "[4 5 7 10]" {
		t.Errorf("erased %v (want %v), present %v", erased, want, present)
	}
	verifyOK(t, l, s)
	s.Close()
	s = l.Open(t)
	if _, e2 := contentStates(t, s, len(people)); fmt.Sprint(e2) != fmt.Sprint(want) {
		t.Errorf("after reopening: erased %v, want %v", e2, want)
	}
	verifyOK(t, l, s)
}

func testEraseIdempotent(t *testing.T, h Harness) {
	_, s, _ := lifecycleLog(t, h)
	ctx := context.Background()
	req := store.ErasureRequest{Principal: "dpo", Reason: "DSR-5", UserID: "u2"}
	first, err := s.Erase(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := s.Size()
	again, err := s.Erase(ctx, req)
	if err != nil || !again.AlreadyErased || again.Index != first.Index || again.Count != first.Count {
		t.Errorf("Erase again = %+v, %v; want already erased by %d, count %d", again, err, first.Index, first.Count)
	}
	if after, _ := s.Size(); after != size {
		t.Errorf("erasing again wrote %d events", after-size)
	}
	none, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-6", UserID: "nobody"})
	if err != nil || none.Count != 0 || none.AlreadyErased {
		t.Errorf("Erase(nobody) = %+v, %v; want nothing", none, err)
	}
	if after, _ := s.Size(); after != size {
		t.Errorf("erasing nothing wrote %d events", after-size)
	}
}

func testEraseHeld(t *testing.T, h Harness) {
	l, s, people := lifecycleLog(t, h)
	ctx := context.Background()
	hold, err := s.PlaceHold(ctx, "legal", store.HoldScope{SessionID: "s3"}, "case 7")
	if err != nil || hold.ID != "hold-1" || hold.Index != 12 {
		t.Fatalf("PlaceHold = %+v, %v", hold, err)
	}
	agentHold, err := s.PlaceHold(ctx, "legal", store.HoldScope{AgentID: "other-agent"}, "case 8")
	if err != nil {
		t.Fatal(err)
	}
	size, _ := s.Size()
	_, err = s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-7", UserID: "u2"})
	var he *store.HeldError
	if !errors.As(err, &he) || !errors.Is(err, store.ErrHeld) || he.Hold.ID != "hold-1" || he.Index != 6 {
		t.Fatalf("Erase under a hold = %v, want a HeldError naming hold-1 at event 6", err)
	}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-8", EventIDs: []string{eventtest.ID("e00"), eventtest.ID("e11")}}); !errors.Is(err, store.ErrHeld) {
		t.Errorf("Erase of ids one of which is held = %v, want ErrHeld", err)
	}
	if after, _ := s.Size(); after != size {
		t.Errorf("refused erasures wrote %d events", after-size)
	}
	if present, _ := contentStates(t, s, len(people)); len(present) != len(people) {
		t.Errorf("refused erasures erased something: present %v", present)
	}
	// Holds survive a restart; releasing one lets the erasure through.
	s.Close()
	s = l.Open(t, store.WithRetentionInterval(0))
	if hs := s.Holds(); len(hs) != 2 || hs[0].ID != "hold-1" || hs[0].Reason != "case 7" || hs[1].ID != agentHold.ID {
		t.Fatalf("holds after reopening: %+v", hs)
	}
	if _, _, err := s.ReleaseHold(ctx, "legal", "hold-9", "typo"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("releasing an unknown hold = %v, want ErrNotFound", err)
	}
	if _, _, err := s.ReleaseHold(ctx, "legal", "hold-1", "case closed"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-7", UserID: "u2"}); err != nil || res.Count != 2 {
		t.Errorf("Erase after the release = %+v, %v", res, err)
	}
	if hs := s.Holds(); len(hs) != 1 || hs[0].ID != agentHold.ID {
		t.Errorf("holds after release: %+v", hs)
	}
	p, err := s.PlaceHold(ctx, "legal", store.HoldScope{UserID: "u9"}, "case 9")
	if err != nil || p.ID != "hold-3" {
		t.Errorf("a new hold after a restart = %+v, %v; want hold-3", p, err)
	}
}

func testEraseBadRequests(t *testing.T, h Harness) {
	_, s, _ := lifecycleLog(t, h)
	ctx := context.Background()
	hold, err := s.PlaceHold(ctx, "legal", store.HoldScope{UserID: "u9"}, "case")
	if err != nil {
		t.Fatal(err)
	}
	holdEvent, err := s.Get(ctx, hold.Index, store.HeaderOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		req  store.ErasureRequest
		want error
		says string
	}{
		{"no target", store.ErasureRequest{Reason: "x"}, store.ErrInvalidArgument, "exactly one"},
		{"two targets", store.ErasureRequest{Reason: "x", UserID: "u1", SessionID: "s1"}, store.ErrInvalidArgument, "exactly one"},
		{"no reason", store.ErasureRequest{UserID: "u1"}, store.ErrInvalidArgument, "reason"},
		{"blank reason", store.ErasureRequest{UserID: "u1", Reason: "  "}, store.ErrInvalidArgument, "reason"},
		{"bad user id", store.ErasureRequest{UserID: "u 1", Reason: "x"}, store.ErrInvalidArgument, "user_id"},
		{"bad event id", store.ErasureRequest{EventIDs: []string{eventtest.ID("e00"), ""}, Reason: "x"}, store.ErrInvalidArgument, "event_ids[1]"},
		{"repeated id", store.ErasureRequest{EventIDs: []string{eventtest.ID("e00"), eventtest.ID("e00")}, Reason: "x"}, store.ErrInvalidArgument, "event_ids[1]"},
		{"unknown id", store.ErasureRequest{EventIDs: []string{eventtest.ID("e00"), "nope"}, Reason: "x"}, store.ErrNotFound, "event_ids[1]"},
		{"server record", store.ErasureRequest{EventIDs: []string{holdEvent.EventID()}, Reason: "x"}, store.ErrInvalidArgument, "server"},
	} {
		_, err := s.Erase(ctx, tt.req)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: Erase = %v, want %v mentioning %q", tt.name, err, tt.want, tt.says)
		}
	}
	if _, err := s.PlaceHold(ctx, "legal", store.HoldScope{UserID: "u1", AgentID: "a"}, "x"); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("a hold on two scopes = %v, want ErrInvalidArgument", err)
	}
	if _, err := s.PlaceHold(ctx, "legal", store.HoldScope{UserID: "u1"}, ""); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("a hold without a reason = %v, want ErrInvalidArgument", err)
	}
}

// failingDestroy is a driver whose DestroyKeys fails while armed.
type failingDestroy struct {
	store.Driver
	fail bool
}

func (f *failingDestroy) DestroyKeys(ctx context.Context, names [][]byte) error {
	if f.fail {
		return errInjected
	}
	return f.Driver.DestroyKeys(ctx, names)
}

// An erasure whose keys could not be destroyed shows its events as erased
// at once, and the next open finishes it.
func testEraseFinishesAfterFailure(t *testing.T, h Harness) {
	l, s, people := lifecycleLog(t, h)
	s.Close()
	d, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	fd := &failingDestroy{Driver: d, fail: true}
	s, err = store.New(context.Background(), fd, l.Options(store.WithRetentionInterval(0))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR-9", SessionID: "s3"})
	if err == nil || !strings.Contains(err.Error(), "will finish") {
		t.Fatalf("Erase with failing key destruction = %+v, %v; want an error saying it will finish", res, err)
	}
	if _, erased := contentStates(t, s, len(people)); fmt.Sprint(erasedList(erased)) != "[6 7]" {
		t.Errorf("erased %v before the keys are gone, want [6 7]", erasedList(erased))
	}
	s.Close()
	d2, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := d2.Keys(ctx, [][]byte{store.EventKeyName(6), store.EventKeyName(7), store.EventKeyName(8)})
	d2.Close()
	if err != nil || len(keys) != 3 {
		t.Fatalf("before reopening: %d keys of 3, %v: the failed destruction should have left them", len(keys), err)
	}
	s = l.Open(t, store.WithRetentionInterval(0))
	s.Close()
	d3, err := store.OpenDriver(context.Background(), l.URL, l.DriverConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d3.Close()
	keys, err = d3.Keys(ctx, [][]byte{store.EventKeyName(6), store.EventKeyName(7), store.EventKeyName(8)})
	if _, ok := keys[string(store.EventKeyName(8))]; err != nil || len(keys) != 1 || !ok {
		t.Errorf("after reopening: keys %d, %v; want only event 8's left", len(keys), err)
	}
}

func testRetention(t *testing.T, h Harness) {
	clock := &Clock{now: Now}
	l, s, people := lifecycleLog(t, h, store.WithClock(clock.Now))
	ctx := context.Background()
	day := 24 * time.Hour
	_, err := s.SetRetention(ctx, "admin", []store.RetentionPolicy{
		{Name: "llm-30d", AgentID: "support-agent", Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_LLM_CALL}, KeepFor: 30 * day},
		{Name: "staging-2d", LabelKey: "env", LabelValue: "staging", KeepFor: 2 * day},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlaceHold(ctx, "legal", store.HoldScope{UserID: "u3"}, "case 10"); err != nil {
		t.Fatal(err)
	}
	if runs, err := s.ApplyRetention(ctx); err != nil || len(runs) != 0 {
		t.Fatalf("ApplyRetention at once = %+v, %v; want nothing", runs, err)
	}
	clock.Advance(3 * day)
	runs, err := s.ApplyRetention(ctx)
	// 7 is staging: expires. 2 is staging but an LLM call of
	// support-agent: llm-30d keeps it longer. 10 is staging but held.
	if err != nil || len(runs) != 1 || runs[0].Policy != "staging-2d" || runs[0].Count != 1 || fmt.Sprint(runs[0].Ranges) != "[{7 7}]" ||
		!runs[0].Cutoff.Equal(clock.Now().Add(-2*day)) {
		t.Fatalf("ApplyRetention after 3 days = %+v, %v; want staging-2d expiring event 7", runs, err)
	}
	clock.Advance(30 * day)
	runs, err = s.ApplyRetention(ctx)
	if err != nil || len(runs) != 1 || runs[0].Policy != "llm-30d" || fmt.Sprint(runs[0].Ranges) != "[{0 0} {2 2} {4 4} {6 6} {8 8}]" {
		t.Fatalf("ApplyRetention after 33 days = %+v, %v; want llm-30d expiring the support agent's LLM calls", runs, err)
	}
	e, err := s.Get(ctx, runs[0].Index, store.HeaderAndContent)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := e.Event()
	r := ev.GetRetention()
	if r.GetPolicy() != "llm-30d" || r.GetEventsAffected() != 5 || r.GetFromIndex() != 0 || r.GetToIndex() != 8 || len(r.GetRanges()) != 5 || r.GetPolicyVersion() != 1 ||
		!r.GetCutoff().AsTime().Equal(runs[0].Cutoff) {
		t.Errorf("the Retention event is %v", ev)
	}
	present, erased := contentStates(t, s, len(people))
	if fmt.Sprint(erasedList(erased)) != "[0 2 4 6 7 8]" || fmt.Sprint(present) != "[1 3 5 9 10 11]" {
		t.Errorf("erased %v, present %v", erasedList(erased), present)
	}
	// Headers stay.
	for i := range people {
		e, err := s.Get(ctx, uint64(i), store.HeaderOnly)
		if err != nil || e.EventID() != people[i].EventID() {
			t.Errorf("header of event %d: %v, %v", i, e, err)
		}
	}
	if again, err := s.ApplyRetention(ctx); err != nil || len(again) != 0 {
		t.Errorf("a second run at the same time = %+v, %v; want nothing", again, err)
	}
	// A catch-all policy that keeps content longer than the others wins
	// over them where both match.
	ps := s.Retention().Policies
	if _, err := s.SetRetention(ctx, "admin", append(ps, store.RetentionPolicy{Name: "all-400d", KeepFor: 400 * day}), nil); err != nil {
		t.Fatal(err)
	}
	clock.Advance(300 * day)
	if runs, err := s.ApplyRetention(ctx); err != nil || len(runs) != 0 {
		t.Fatalf("ApplyRetention after 333 days, with all-400d = %+v, %v; want nothing", runs, err)
	}
	clock.Advance(100 * day)
	runs, err = s.ApplyRetention(ctx)
	if err != nil || len(runs) != 1 || runs[0].Policy != "all-400d" || fmt.Sprint(runs[0].Ranges) != "[{1 1} {3 3} {5 5} {9 9}]" {
		t.Fatalf("ApplyRetention after 433 days = %+v, %v", runs, err)
	}
	// Held content (u3: 10, 11) and lifecycle records stay.
	present, _ = contentStates(t, s, int(runs[0].Index)+1)
	for _, i := range present {
		if i < len(people) && i != 10 && i != 11 {
			t.Errorf("event %d still present after 433 days", i)
		}
	}
	if !slices.Contains(present, 10) || !slices.Contains(present, 11) {
		t.Errorf("held events expired: present %v", present)
	}
	for i := len(people); i <= int(runs[0].Index); i++ {
		if !slices.Contains(present, i) {
			t.Errorf("lifecycle record %d lost its content", i)
		}
	}
	verifyOK(t, l, s)
}

func testRetentionPolicies(t *testing.T, h Harness) {
	l, s, _ := lifecycleLog(t, h)
	ctx := context.Background()
	day := 24 * time.Hour
	for _, bad := range [][]store.RetentionPolicy{
		{{Name: "short", KeepFor: 23 * time.Hour}},
		{{Name: "", KeepFor: day}},
		{{Name: "a b", KeepFor: day}},
		{{Name: "x", KeepFor: day}, {Name: "x", KeepFor: 2 * day}},
		{{Name: "x", KeepFor: day, Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ERASURE}}},
		{{Name: "x", KeepFor: day, Kinds: []agenttrailv1.EventKind{99}}},
		{{Name: "x", KeepFor: day, LabelValue: "v"}},
		{{Name: "x", KeepFor: day, AgentID: "bad agent"}},
	} {
		if _, err := s.SetRetention(ctx, "admin", bad, nil); !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("SetRetention(%+v) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if got := s.Retention(); got.Version != 0 || len(got.Policies) != 0 {
		t.Errorf("policies after refused changes: %+v", got)
	}
	v1, err := s.SetRetention(ctx, "admin", []store.RetentionPolicy{{Name: "a", KeepFor: 7 * day}}, nil)
	if err != nil || v1.Version != 1 {
		t.Fatalf("SetRetention = %+v, %v", v1, err)
	}
	stale := uint64(0)
	if _, err := s.SetRetention(ctx, "admin2", nil, &stale); !errors.Is(err, store.ErrConflict) {
		t.Errorf("SetRetention at a stale version = %v, want ErrConflict", err)
	}
	cur := uint64(1)
	v2, err := s.SetRetention(ctx, "admin2", []store.RetentionPolicy{{Name: "b", KeepFor: 9 * day, LabelKey: "env"}}, &cur)
	if err != nil || v2.Version != 2 {
		t.Fatalf("SetRetention at version 1 = %+v, %v", v2, err)
	}
	e, err := s.Get(ctx, v2.Index, store.HeaderOnly)
	if err != nil {
		t.Fatal(err)
	}
	c := e.Header.GetRetentionPolicy()
	if c.GetVersion() != 2 || c.GetPrincipal() != "admin2" || len(c.GetPolicies()) != 1 || c.GetPolicies()[0].GetName() != "b" {
		t.Errorf("the policy change event is %v", e.Header)
	}
	s.Close()
	s = l.Open(t, store.WithRetentionInterval(0))
	got := s.Retention()
	if got.Version != 2 || len(got.Policies) != 1 || got.Policies[0].Name != "b" || got.Policies[0].KeepFor != 9*day || got.SetBy != "admin2" || got.Index != v2.Index {
		t.Errorf("policies after reopening: %+v", got)
	}
}

// Content whose key is gone verifies only when a later Erasure or Retention
// event names it.
func testVerifyMissingContent(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Skip("the driver offers no raw access for tampering")
	}
	l, s, _ := lifecycleLog(t, h)
	if _, err := s.Erase(context.Background(), store.ErasureRequest{Principal: "dpo", Reason: "DSR", EventIDs: []string{eventtest.ID("e04")}}); err != nil {
		t.Fatal(err)
	}
	vk := s.VerifierKey().String()
	s.Close()
	tp, err := h.Tamper(l.URL, l.MasterKey(t).StorageKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.DeleteKey(store.EventKeyName(5)); err != nil {
		t.Fatal(err)
	}
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := store.VerifyStorage(context.Background(), l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	if err != nil || rep.OK() || rep.Problem.Index != 5 || !strings.Contains(rep.Problem.Reason, "no later erasure or retention event") {
		t.Errorf("VerifyStorage after deleting event 5's key = %+v, %v; want a problem at 5 (4 is erased by a logged event)", rep, err)
	}
}
