package verify_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// What the store writes is what the verifier checks: entries read back from
// a real store, in the full and the metadata view, pass CheckEntry and
// their inclusion proofs against the store's signed checkpoint, which
// opens with the store's verifier key.
func TestStoreWrittenEntriesVerify(t *testing.T) {
	dir := t.TempDir()
	l := storetest.Log{URL: badger.URL(dir), KeyFile: filepath.Join(dir, "checkpoint-signing.key")}
	s := l.Open(t, store.WithCheckpointInterval(0))
	storetest.AppendOK(t, s, storetest.Samples()...)
	ctx := context.Background()
	cp := s.LatestCheckpoint()
	head, err := verify.OpenCheckpoint(cp.Note, s.VerifierKey().String(), s.Origin())
	if err != nil {
		t.Fatalf("the store's checkpoint does not open: %v", err)
	}
	if head.Size != cp.Size || head.Root != cp.Root {
		t.Fatalf("checkpoint states %d %x, the store says %d %x", head.Size, head.Root, cp.Size, cp.Root)
	}
	for i := range head.Size {
		e, err := s.Get(ctx, i, store.HeaderAndContent)
		if err != nil {
			t.Fatal(err)
		}
		for _, view := range []server.View{server.FullView{}, server.MetadataView{}} {
			rendered, err := view.Render(e)
			if err != nil {
				t.Fatal(err)
			}
			if err := verify.CheckEntry(rendered); err != nil {
				t.Errorf("event %d in the %v view: %v", i, view.Kind(), err)
			}
		}
		proof, err := s.InclusionProof(ctx, i, head.Size)
		if err != nil {
			t.Fatal(err)
		}
		hashes := make([][]byte, len(proof))
		for k := range proof {
			hashes[k] = proof[k][:]
		}
		if err := verify.CheckInclusion(i, head.Size, e.LeafHash, hashes, head.Root); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
}

// Erased entries, in the full, redacted and metadata views, still pass
// CheckEntry, and CheckErasure accepts the erasure that names them and
// refuses any other entry.
func TestStoreErasedEntriesVerify(t *testing.T) {
	dir := t.TempDir()
	l := storetest.Log{URL: badger.URL(dir), KeyFile: filepath.Join(dir, "checkpoint-signing.key")}
	s := l.Open(t, store.WithCheckpointInterval(0), store.WithRetentionInterval(0))
	ctx := context.Background()
	var people []storetest.Person
	for i := range 6 {
		people = append(people, storetest.Person{ID: fmt.Sprintf("p%d", i), Session: "s", User: fmt.Sprintf("u%d", i%2), Agent: "a"})
		storetest.AppendOK(t, s, storetest.PersonEvent(people[i]))
	}
	res, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR", UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	erasure, err := s.Get(ctx, res.Index, store.HeaderAndContent)
	if err != nil {
		t.Fatal(err)
	}
	views := []server.View{server.FullView{}, server.RedactedView{Redactor: red, Viewer: "dev"}, server.MetadataView{}}
	for _, view := range views {
		er, err := view.Render(erasure)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := view.Render(mustGet(t, s, 0))
		for i := range uint64(6) {
			e := mustGet(t, s, i)
			rendered, err := view.Render(e)
			if err != nil {
				t.Fatal(err)
			}
			if err := verify.CheckEntry(rendered); err != nil {
				t.Errorf("event %d in the %v view: %v", i, view.Kind(), err)
			}
			by, named, erased := verify.ErasureOf(rendered)
			if erased != (i%2 == 1) || (erased && (!named || by != res.Index)) {
				t.Errorf("event %d in the %v view: ErasedBy = %d, %v, %v", i, view.Kind(), by, named, erased)
			}
			if !erased {
				continue
			}
			if err := verify.CheckErasure(rendered, er); err != nil {
				t.Errorf("event %d in the %v view: CheckErasure: %v", i, view.Kind(), err)
			}
			if err := verify.CheckErasure(rendered, other); !errors.Is(err, verify.ErrEventMismatch) {
				t.Errorf("CheckErasure with an entry that is no erasure = %v, want ErrEventMismatch", err)
			}
		}
	}
}

func mustGet(t *testing.T, s *store.Store, i uint64) *store.Entry {
	t.Helper()
	e, err := s.Get(context.Background(), i, store.HeaderAndContent)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
