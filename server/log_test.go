package server_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

func hashes(bs [][]byte) []tlog.Hash {
	var out []tlog.Hash
	for _, b := range bs {
		out = append(out, tlog.Hash(b))
	}
	return out
}

// Every LogService RPC, checked the way a verifier would: checkpoints by
// signature, proofs with tlog, and bad requests by status.
func TestLogServiceProofsVerify(t *testing.T) {
	h := start(t, nil)
	ctx := context.Background()
	if _, err := h.logs.GetCheckpoint(ctx, &agenttrailv1.GetCheckpointRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("checkpoint of an empty log: %v, want InvalidArgument", err)
	}
	var sizes []uint64
	for i := 0; i < 4; i++ {
		evs := numbered(10 + 7*i)
		for j, ev := range evs {
			ev.EventId = ev.GetEventId() + "-" + string(rune('a'+i)) + "-" + string(rune('a'+j%26))
		}
		appendAll(t, h.append, requests(evs))
		size, _ := h.st.Size()
		sizes = append(sizes, size)
	}
	vk, err := h.logs.GetVerifierKey(ctx, &agenttrailv1.GetVerifierKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vk.GetVerifierKey())
	if err != nil {
		t.Fatalf("verifier key %q: %v", vk.GetVerifierKey(), err)
	}
	if len(vk.GetPublicKey()) != 32 || vk.GetOrigin() == "" {
		t.Errorf("GetVerifierKey = %v", vk)
	}
	latest, err := h.logs.GetCheckpoint(ctx, &agenttrailv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(latest.GetCheckpoint().GetSignedNote(), note.VerifierList(verifier)); err != nil {
		t.Fatalf("latest checkpoint does not verify: %v", err)
	}
	if got := latest.GetCheckpoint().GetTreeSize(); got != sizes[len(sizes)-1] {
		t.Errorf("latest checkpoint size %d, want %d", got, sizes[len(sizes)-1])
	}
	for _, size := range sizes {
		cp, err := h.logs.GetCheckpoint(ctx, &agenttrailv1.GetCheckpointRequest{TreeSize: proto.Uint64(size)})
		if err != nil {
			t.Fatalf("checkpoint at %d: %v", size, err)
		}
		if _, err := note.Open(cp.GetCheckpoint().GetSignedNote(), note.VerifierList(verifier)); err != nil {
			t.Errorf("checkpoint at %d does not verify: %v", size, err)
		}
		if size < latest.GetCheckpoint().GetTreeSize() {
			p, err := h.logs.GetConsistencyProof(ctx, &agenttrailv1.GetConsistencyProofRequest{FromSize: size})
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(hashes(p.GetHashes()), int64(p.GetToSize()), tlog.Hash(p.GetCheckpoint().GetRootHash()), int64(size), tlog.Hash(cp.GetCheckpoint().GetRootHash())); err != nil {
				t.Errorf("consistency %d -> %d: %v", size, p.GetToSize(), err)
			}
		}
		for _, idx := range []uint64{0, size / 2, size - 1} {
			p, err := h.logs.GetInclusionProof(ctx, &agenttrailv1.GetInclusionProofRequest{LogIndex: idx, TreeSize: proto.Uint64(size)})
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(hashes(p.GetHashes()), int64(size), tlog.Hash(cp.GetCheckpoint().GetRootHash()), int64(idx), tlog.Hash(p.GetLeafHash())); err != nil {
				t.Errorf("inclusion of %d in %d: %v", idx, size, err)
			}
		}
	}
	// Batches form as the server receives the stream, so find a size with
	// no checkpoint rather than assume one.
	unsigned := uint64(0)
	for n := uint64(1); n < sizes[len(sizes)-1]; n++ {
		if _, err := h.st.CheckpointAt(ctx, n); errors.Is(err, store.ErrNotFound) {
			unsigned = n
			break
		}
	}
	if unsigned == 0 {
		t.Fatal("every size has a checkpoint: the test needs one that has none")
	}
	bad := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"checkpoint at an unsigned size", func() error {
			_, err := h.logs.GetCheckpoint(ctx, &agenttrailv1.GetCheckpointRequest{TreeSize: proto.Uint64(unsigned)})
			return err
		}, codes.NotFound},
		{"inclusion of an index beyond the tree", func() error {
			_, err := h.logs.GetInclusionProof(ctx, &agenttrailv1.GetInclusionProofRequest{LogIndex: 9999})
			return err
		}, codes.InvalidArgument},
		{"inclusion against a tree larger than the log", func() error {
			_, err := h.logs.GetInclusionProof(ctx, &agenttrailv1.GetInclusionProofRequest{LogIndex: 1, TreeSize: proto.Uint64(1 << 40)})
			return err
		}, codes.InvalidArgument},
		{"consistency from 0", func() error {
			_, err := h.logs.GetConsistencyProof(ctx, &agenttrailv1.GetConsistencyProofRequest{FromSize: 0})
			return err
		}, codes.InvalidArgument},
		{"consistency from beyond to", func() error {
			_, err := h.logs.GetConsistencyProof(ctx, &agenttrailv1.GetConsistencyProofRequest{FromSize: 20, ToSize: proto.Uint64(10)})
			return err
		}, codes.InvalidArgument},
		{"get without a key", func() error {
			_, err := h.query.GetEvent(ctx, &agenttrailv1.GetEventRequest{})
			return err
		}, codes.InvalidArgument},
		{"query following descending", func() error {
			s, err := h.query.Query(ctx, &agenttrailv1.QueryRequest{Follow: true, Order: agenttrailv1.Order_ORDER_DESCENDING})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, codes.InvalidArgument},
		{"query with an undefined kind", func() error {
			s, err := h.query.Query(ctx, &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{Kinds: []agenttrailv1.EventKind{77}}})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, codes.InvalidArgument},
	}
	for _, b := range bad {
		err := b.call()
		if status.Code(err) != b.want {
			t.Errorf("%s: %v, want %v", b.name, err, b.want)
		}
		if status.Convert(err).Message() == "" {
			t.Errorf("%s: no message", b.name)
		}
	}
}
