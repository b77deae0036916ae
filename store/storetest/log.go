package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

func testAppendThenGet(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t)
	evs := Samples()
	receipts := AppendOK(t, s, evs...)
	for i, r := range receipts {
		if r.Index != uint64(i) {
			t.Errorf("receipt %d: index %d, want %d", i, r.Index, i)
		}
		if r.Duplicate {
			t.Errorf("receipt %d: Duplicate = true for a new event", i)
		}
		if !r.ReceivedAt.Equal(Now) {
			t.Errorf("receipt %d: received at %v, want %v", i, r.ReceivedAt, Now)
		}
	}
	if size, _ := s.Size(); size != uint64(len(evs)) {
		t.Fatalf("Size = %d, want %d", size, len(evs))
	}
	for i, ev := range evs {
		e, err := s.GetByID(context.Background(), ev.GetEventId(), store.HeaderAndContent)
		if err != nil {
			t.Fatalf("GetByID(%d): %v", i, err)
		}
		got, err := e.Event()
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, ev) {
			t.Errorf("event %d read back differs:\ngot  %v\nwant %v", i, got, ev)
		}
		if e.Principal != "agent-1" {
			t.Errorf("event %d: principal %q, want agent-1", i, e.Principal)
		}
		// The leaf is the RFC 6962 hash of the documented leaf data.
		ld := binary.BigEndian.AppendUint32(nil, uint32(len(e.HeaderBytes)))
		ld = append(append(ld, e.HeaderBytes...), e.ContentDigest[:]...)
		if got, want := e.LeafHash, tlog.RecordHash(ld); got != want {
			t.Errorf("event %d: leaf hash %x, want %x", i, got, want)
		}
		if got, want := e.LeafHash, receipts[i].LeafHash; got != want {
			t.Errorf("event %d: leaf hash %x, receipt says %x", i, got, want)
		}
		if got, want := sha256.Sum256(append(append([]byte{}, e.Salt...), e.Content...)), e.ContentDigest; got != want {
			t.Errorf("event %d: content digest mismatch", i)
		}
		byIndex, err := s.Get(context.Background(), uint64(i), store.HeaderOnly)
		if err != nil {
			t.Fatal(err)
		}
		if byIndex.ContentState != store.ContentNotRead || byIndex.Content != nil {
			t.Errorf("Get(HeaderOnly) read content")
		}
		header, _ := event.Split(ev)
		if !proto.Equal(byIndex.Header, header) {
			t.Errorf("event %d: header differs from the METADATA part of the event", i)
		}
	}
	if _, err := s.Get(context.Background(), 1000, store.HeaderOnly); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(1000) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetByID(context.Background(), "no-such-id", store.HeaderOnly); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetByID(unknown) = %v, want ErrNotFound", err)
	}
}

func testAppendIsIdempotent(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t)
	evs := Samples()
	first := AppendOK(t, s, evs...)

	again := AppendOK(t, s, evs...)
	for i := range again {
		if !again[i].Duplicate || again[i].Index != first[i].Index || again[i].LeafHash != first[i].LeafHash {
			t.Errorf("re-append %d: got %+v, want the original receipt marked duplicate", i, again[i])
		}
	}

	changed := proto.Clone(evs[2]).(*agenttrailv1.Event)
	changed.GetLlmCall().OutputText = "something else"
	res, err := s.Append(context.Background(), "agent-1", []*agenttrailv1.Event{changed})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, store.ErrAlreadyExists) {
		t.Errorf("changed duplicate: err = %v, want ErrAlreadyExists", res[0].Err)
	}

	// Within one batch: the first of two identical events wins, a changed
	// one is refused.
	fresh := proto.Clone(evs[3]).(*agenttrailv1.Event)
	fresh.EventId = "01963a4e-7c1b-7000-8000-0000000000ff"
	fresh2 := proto.Clone(fresh).(*agenttrailv1.Event)
	fresh3 := proto.Clone(fresh).(*agenttrailv1.Event)
	fresh3.GetToolCall().Result = "other"
	res, err = s.Append(context.Background(), "agent-1", []*agenttrailv1.Event{fresh, fresh2, fresh3})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[1].Err != nil || res[1].Receipt.Index != res[0].Receipt.Index || !res[1].Receipt.Duplicate {
		t.Errorf("identical events in one batch: got %+v and %+v", res[0], res[1])
	}
	if !errors.Is(res[2].Err, store.ErrAlreadyExists) {
		t.Errorf("changed event in the same batch: err = %v, want ErrAlreadyExists", res[2].Err)
	}

	size, _ := s.Size()
	if want := uint64(len(evs) + 1); size != want {
		t.Errorf("size = %d, want %d: duplicates must not be appended", size, want)
	}

	// And after reopening, from disk.
	s.Close()
	s = l.Open(t)
	again = AppendOK(t, s, evs[0])
	if !again[0].Duplicate || again[0].Index != first[0].Index {
		t.Errorf("after reopen: got %+v, want the original receipt", again[0])
	}
}

func testAppendRejectsBadEventsOneByOne(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t, store.WithMaxEventSize(4096))
	evs := Samples()
	bad := proto.Clone(evs[1]).(*agenttrailv1.Event)
	bad.EventId = "not an id"
	future := proto.Clone(evs[2]).(*agenttrailv1.Event)
	future.OccurredAt = timestamppb.New(Now.Add(48 * time.Hour))
	huge := proto.Clone(evs[3]).(*agenttrailv1.Event)
	huge.GetToolCall().Result = string(make([]byte, 8192))
	res, err := s.Append(context.Background(), "agent-1", []*agenttrailv1.Event{evs[0], bad, future, huge, evs[4]})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"valid first", res[0].Err, nil},
		{"bad id", res[1].Err, store.ErrInvalidEvent},
		{"future", res[2].Err, store.ErrInvalidEvent},
		{"too large", res[3].Err, store.ErrTooLarge},
		{"valid last", res[4].Err, nil},
	}
	for _, c := range checks {
		if c.want == nil && c.err != nil || c.want != nil && !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	var fe *event.FieldError
	if !errors.As(res[1].Err, &fe) || fe.Field != "event_id" {
		t.Errorf("bad id: err = %v, want a FieldError for event_id", res[1].Err)
	}
	if res[0].Receipt.Index != 0 || res[4].Receipt.Index != 1 {
		t.Errorf("valid events got indexes %d and %d, want 0 and 1 (no gaps)", res[0].Receipt.Index, res[4].Receipt.Index)
	}
}

func testCheckpointsAndProofs(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t, store.WithCheckpointInterval(0))
	var sizes []uint64
	for batch := 0; batch < 6; batch++ {
		var evs []*agenttrailv1.Event
		for i := 0; i <= batch*3; i++ {
			ev := proto.Clone(Samples()[i%9]).(*agenttrailv1.Event)
			ev.EventId = fmt.Sprintf("batch%d-event%d", batch, i)
			evs = append(evs, ev)
		}
		AppendOK(t, s, evs...)
		size, _ := s.Size()
		sizes = append(sizes, size)
	}
	vk := s.VerifierKey()
	verifier, err := note.NewVerifier(vk.String())
	if err != nil {
		t.Fatal(err)
	}
	latest := s.LatestCheckpoint()
	if latest.Size != sizes[len(sizes)-1] {
		t.Fatalf("latest checkpoint size %d, want %d (interval 0 signs every batch)", latest.Size, sizes[len(sizes)-1])
	}
	n, err := note.Open(latest.Note, note.VerifierList(verifier))
	if err != nil {
		t.Fatalf("checkpoint does not verify with the store's verifier key: %v", err)
	}
	if want := fmt.Sprintf("test.agenttrail/log\n%d\n", latest.Size); n.Text[:len(want)] != want {
		t.Errorf("checkpoint text %q, want it to start with %q", n.Text, want)
	}
	var stored []store.Checkpoint
	if err := s.Checkpoints(context.Background(), func(cp store.Checkpoint) bool { stored = append(stored, cp); return true }); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(sizes) {
		t.Fatalf("%d checkpoints stored, want %d", len(stored), len(sizes))
	}
	for i, cp := range stored {
		if cp.Size != sizes[i] {
			t.Errorf("checkpoint %d has size %d, want %d", i, cp.Size, sizes[i])
		}
		at, err := s.CheckpointAt(context.Background(), cp.Size)
		if err != nil || at.Root != cp.Root {
			t.Errorf("CheckpointAt(%d) = %v, %v", cp.Size, at, err)
		}
		// Every checkpoint is consistent with the latest.
		if cp.Size < latest.Size {
			p, err := s.ConsistencyProof(context.Background(), cp.Size, latest.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(tlog.TreeProof(toTlog(p)), int64(latest.Size), latest.Root, int64(cp.Size), cp.Root); err != nil {
				t.Errorf("consistency %d -> %d: %v", cp.Size, latest.Size, err)
			}
		}
		// Every event is included in every checkpoint that covers it.
		for idx := uint64(0); idx < cp.Size; idx += 3 {
			e, err := s.Get(context.Background(), idx, store.HeaderOnly)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.InclusionProof(context.Background(), idx, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(toTlog(p), int64(cp.Size), cp.Root, int64(idx), e.LeafHash); err != nil {
				t.Errorf("inclusion of %d in %d: %v", idx, cp.Size, err)
			}
		}
	}
	if _, err := s.CheckpointAt(context.Background(), 2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CheckpointAt(unsigned size) = %v, want ErrNotFound", err)
	}
	for _, bad := range []struct{ index, size uint64 }{{5, 5}, {0, latest.Size + 1}} {
		if _, err := s.InclusionProof(context.Background(), bad.index, bad.size); !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("InclusionProof(%d, %d) = %v, want ErrInvalidArgument", bad.index, bad.size, err)
		}
	}
	if _, err := s.ConsistencyProof(context.Background(), 0, 5); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("ConsistencyProof(0, 5) = %v, want ErrInvalidArgument", err)
	}
}

func toTlog(p [][32]byte) tlog.RecordProof {
	out := make(tlog.RecordProof, len(p))
	for i := range p {
		out[i] = p[i]
	}
	return out
}

func testCheckpointIntervalCoversIdleTail(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s, err := store.Open(context.Background(), l.URL, store.WithSigningKeyFile(l.KeyFile), store.WithMasterKeyFile(l.MasterKeyPath()), store.WithCheckpointInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ev := proto.Clone(Samples()[0]).(*agenttrailv1.Event)
	ev.OccurredAt = timestamppb.Now()
	AppendOK(t, s, ev)
	deadline := time.Now().Add(10 * time.Second)
	for s.LatestCheckpoint().Size != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covers the last event after 10s (interval 50ms)")
		}
		_, ch := s.Watch()
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func testReopenKeepsTreeAndKey(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t)
	AppendOK(t, s, Samples()...)
	size, root := s.Size()
	vk := s.VerifierKey()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(l.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("signing key mode %v, want 0600", got)
	}

	s = l.Open(t)
	if gotSize, gotRoot := s.Size(); gotSize != size || gotRoot != root {
		t.Errorf("after reopen: size %d root %x, want %d %x", gotSize, gotRoot, size, root)
	}
	if got := s.VerifierKey(); got.String() != vk.String() {
		t.Errorf("verifier key changed across reopen: %s, want %s", got, vk)
	}
	if cp := s.LatestCheckpoint(); cp.Size != size || cp.Root != root {
		t.Errorf("latest checkpoint %d %x, want the tree %d %x (Close signs a final checkpoint)", cp.Size, cp.Root, size, root)
	}
	s.Close()

	if _, err := store.Open(context.Background(), l.URL, store.WithSigningKeyFile(l.KeyFile), store.WithMasterKeyFile(l.MasterKeyPath()), store.WithOrigin("other.origin/log")); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("Open with another origin = %v, want ErrInvalidArgument", err)
	}
}

func testClosedStore(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t)
	AppendOK(t, s, Samples()[0])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), "agent-1", Samples()[1:2]); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Get(context.Background(), 0, store.HeaderOnly); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func testVerifyCleanStore(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0), store.WithBatchLimits(4, 1<<20, 0))
	for i := 0; i < 5; i++ {
		var evs []*agenttrailv1.Event
		for j, ev := range Samples() {
			ev.EventId = fmt.Sprintf("r%d-e%d", i, j)
			evs = append(evs, ev)
		}
		AppendOK(t, s, evs[:4]...)
		AppendOK(t, s, evs[4:8]...)
	}
	rep, err := s.Verify(context.Background(), 0, 0)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v; want OK", rep, err)
	}
	if rep.Checkpoints == 0 || rep.To != 40 {
		t.Errorf("Verify checked %d checkpoints up to %d, want some checkpoints and 40 events", rep.Checkpoints, rep.To)
	}
	rep, err = s.Verify(context.Background(), 17, 33)
	if err != nil || !rep.OK() || rep.From != 17 || rep.To != 33 {
		t.Errorf("Verify(17, 33) = %+v, %v", rep, err)
	}
	vk := s.VerifierKey().String()
	s.Close()
	rep, err = store.VerifyStorage(context.Background(), l.URL, vk, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	if err != nil || !rep.OK() || rep.TreeSize != 40 {
		t.Errorf("VerifyStorage = %+v, %v; want OK over 40 events", rep, err)
	}
}

// The header bytes the store commits are exactly the deterministic encoding
// of the EventHeader message, so any client can decode them and an encoder
// of the same message produces them.
func testHeaderBytesAreTheEventHeaderEncoding(t *testing.T, h Harness) {
	s := NewLog(t, h).Open(t)
	AppendOK(t, s, Samples()...)
	for i := range Samples() {
		e, err := s.Get(context.Background(), uint64(i), store.HeaderOnly)
		if err != nil {
			t.Fatal(err)
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(&agenttrailv1.EventHeader{
			Event: e.Header, ReceivedAt: timestamppb.New(e.ReceivedAt), Principal: e.Principal,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytesEqual(e.HeaderBytes, want) {
			t.Errorf("event %d: header bytes differ from Marshal(EventHeader)", i)
		}
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// A store opened read-only with the log's verifier key reads everything a
// writer's store does, writes nothing, and refuses a key that does not
// verify the log's checkpoints.
func testReadOnlyStore(t *testing.T, h Harness) {
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0))
	evs := Corpus(30)
	AppendOK(t, s, evs[:20]...)
	AppendOK(t, s, evs[20:]...)
	size, root := s.Size()
	latest := s.LatestCheckpoint()
	vk := s.VerifierKey().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := store.Open(context.Background(), l.URL, store.WithReadOnly(vk), store.WithMasterKeyFile(l.MasterKeyPath()))
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	defer ro.Close()
	if gotSize, gotRoot := ro.Size(); gotSize != size || gotRoot != root {
		t.Errorf("read-only: tree %d %x, want %d %x", gotSize, gotRoot, size, root)
	}
	if cp := ro.LatestCheckpoint(); cp.Size != latest.Size || string(cp.Note) != string(latest.Note) {
		t.Errorf("read-only: latest checkpoint of size %d, want %d", cp.Size, latest.Size)
	}
	n := 0
	for e, err := range ro.Scan(context.Background(), store.Query{Read: store.HeaderAndContent}) {
		if err != nil {
			t.Fatal(err)
		}
		p, err := ro.InclusionProof(context.Background(), e.Index, latest.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(toTlog(p), int64(latest.Size), latest.Root, int64(e.Index), e.LeafHash); err != nil {
			t.Errorf("inclusion of %d: %v", e.Index, err)
		}
		n++
	}
	if n != len(evs) {
		t.Errorf("read-only scan returned %d events, want %d", n, len(evs))
	}
	if _, err := ro.Append(context.Background(), "agent-1", Samples()[:1]); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("Append to a read-only store = %v, want ErrInvalidArgument", err)
	}
	if err := ro.AddCredential(context.Background(), store.Credential{ID: "00000000000000aa", Principal: "p", Role: "agent", CreatedAt: Now, Hash: make([]byte, 32)}); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("AddCredential to a read-only store = %v, want ErrInvalidArgument", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}

	// Another log's key does not verify this one's checkpoints.
	other := NewLog(t, h)
	o := other.Open(t)
	otherKey := o.VerifierKey().String()
	o.Close()
	if _, err := store.Open(context.Background(), l.URL, store.WithReadOnly(otherKey), store.WithMasterKeyFile(l.MasterKeyPath())); err == nil {
		t.Errorf("Open read-only with another log's verifier key succeeded")
	}
	if h.WrittenOnce != nil {
		h.WrittenOnce(t, l.URL, l.MasterKey(t).StorageKey())
	}
}
