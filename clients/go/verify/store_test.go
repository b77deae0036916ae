package verify_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	"github.com/agenttrail/agenttrail/server"
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
