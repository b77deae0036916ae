package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// testProverMatchesInclusionProof checks that a Prover, which reads the
// stored hashes of a block of leaves at once, proves every leaf exactly as
// Store.InclusionProof does, in every tree size around the blocks' edges,
// walking the log in order and out of order, and that each proof checks
// against the root of its tree and fails once a hash of it is altered.
func testProverMatchesInclusionProof(t *testing.T, h Harness) {
	ctx := context.Background()
	s := NewLog(t, h).Open(t, store.WithCheckpointInterval(0))
	// Batches of 97 leaves: hash bundles straddle the 256-leaf blocks.
	for batch := 0; batch < 6; batch++ {
		var evs []*agenttrailv1.Event
		for i := range 97 {
			ev := proto.Clone(Samples()[i%9]).(*agenttrailv1.Event)
			ev.EventId = eventtest.ID(fmt.Sprintf("prover-%d-%d", batch, i))
			evs = append(evs, ev)
		}
		AppendOK(t, s, evs...)
	}
	size, _ := s.Size()
	leaves := make([][32]byte, size)
	for i := range leaves {
		e, err := s.Get(ctx, uint64(i), store.HeaderOnly)
		if err != nil {
			t.Fatal(err)
		}
		leaves[i] = e.LeafHash
	}
	for _, treeSize := range []uint64{1, 2, 255, 256, 257, 511, 512, 513, size - 1, size} {
		root, err := s.RootAt(ctx, treeSize)
		if err != nil {
			t.Fatal(err)
		}
		inOrder := make([]uint64, treeSize)
		for i := range inOrder {
			inOrder[i] = uint64(i)
		}
		// Backwards, and hopping between blocks.
		outOfOrder := slices.Clone(inOrder)
		slices.Reverse(outOfOrder)
		for i := 0; i+1 < len(outOfOrder); i += 2 {
			outOfOrder[i], outOfOrder[len(outOfOrder)-1-i] = outOfOrder[len(outOfOrder)-1-i], outOfOrder[i]
		}
		for _, order := range [][]uint64{inOrder, outOfOrder} {
			p, err := s.Prover(treeSize)
			if err != nil {
				t.Fatal(err)
			}
			for _, idx := range order {
				got, err := p.InclusionProof(ctx, idx)
				if err != nil {
					t.Fatalf("Prover(%d).InclusionProof(%d): %v", treeSize, idx, err)
				}
				want, err := s.InclusionProof(ctx, idx, treeSize)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("Prover(%d).InclusionProof(%d) = %x, want %x (Store.InclusionProof)", treeSize, idx, got, want)
				}
				if err := tlog.CheckRecord(toTlog(got), int64(treeSize), root, int64(idx), leaves[idx]); err != nil {
					t.Fatalf("inclusion of %d in %d: %v", idx, treeSize, err)
				}
				if len(got) > 0 {
					bad := slices.Clone(got)
					bad[len(bad)/2][idx%32] ^= 1
					if tlog.CheckRecord(toTlog(bad), int64(treeSize), root, int64(idx), leaves[idx]) == nil {
						t.Fatalf("inclusion of %d in %d checks with an altered hash", idx, treeSize)
					}
				}
			}
		}
	}
	p, err := s.Prover(size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.InclusionProof(ctx, size); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("InclusionProof(tree size) = %v, want ErrInvalidArgument", err)
	}
	for _, bad := range []uint64{0, size + 1} {
		if _, err := s.Prover(bad); !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("Prover(%d) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}
