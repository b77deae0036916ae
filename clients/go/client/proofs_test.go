package client_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// A query with proof_tree_size yields every entry of the range with its
// inclusion proof against the checkpoint of that size, which verifies; from
// a server that sends no proofs (one that predates the field: here its
// proofs are dropped on the way) the client fetches them.
func TestQueryWithInclusionProofs(t *testing.T) {
	ts, _, vkey := signedLog(t)
	appendAll(t, dial(t, ts.addr), events("qp", 700))
	v, err := client.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	dropProofs := grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		return &proofDropper{ClientStream: s, dropped: &dropped}, err
	})
	for _, tc := range []struct {
		name string
		opts []client.Option
	}{{"server proofs", nil}, {"fetched proofs", []client.Option{client.WithDialOptions(dropProofs)}}} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr, tc.opts...)
			ctx := context.Background()
			cp, err := c.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			size := cp.GetTreeSize()
			var proof *agenttrailv1.GetInclusionProofResponse
			req := &agenttrailv1.QueryRequest{ProofTreeSize: &size}
			n := uint64(0)
			for e, err := range c.Query(ctx, req, client.WithInclusionProofs(func(p *agenttrailv1.GetInclusionProofResponse) { proof = p })) {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.VerifyEntry(e, cp, proof); err != nil {
					t.Fatalf("entry %d: %v", e.GetStamp().GetLogIndex(), err)
				}
				n++
			}
			if n != size {
				t.Errorf("%d entries proved, want %d", n, size)
			}
		})
	}
	if dropped == 0 {
		t.Errorf("no proof was dropped: the fallback went untested")
	}
	// WithInclusionProofs needs proof_tree_size.
	for _, err := range dial(t, ts.addr).Query(context.Background(), &agenttrailv1.QueryRequest{}, client.WithInclusionProofs(func(*agenttrailv1.GetInclusionProofResponse) {})) {
		if !errors.Is(err, client.ErrInvalidOption) {
			t.Errorf("WithInclusionProofs without proof_tree_size: %v, want ErrInvalidOption", err)
		}
	}
}

// proofDropper removes the inclusion proofs of Query responses.
type proofDropper struct {
	grpc.ClientStream
	dropped *int
}

func (p *proofDropper) RecvMsg(m any) error {
	err := p.ClientStream.RecvMsg(m)
	if r, ok := m.(*agenttrailv1.QueryResponse); ok && err == nil {
		for _, item := range append([]*agenttrailv1.QueryResponse{r}, r.GetBatch()...) {
			if item.InclusionProof != nil {
				item.InclusionProof = nil
				*p.dropped++
			}
		}
	}
	return err
}
