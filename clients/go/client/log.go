package client

import (
	"context"
	"fmt"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Checkpoint returns the latest signed checkpoint. Check it with a
// [Verifier] before trusting what it says. An empty log has none: the
// server answers INVALID_ARGUMENT.
func (c *Client) Checkpoint(ctx context.Context) (*agenttrailv1.Checkpoint, error) {
	resp, err := c.log.GetCheckpoint(ctx, &agenttrailv1.GetCheckpointRequest{})
	if err != nil {
		return nil, fmt.Errorf("client: get checkpoint: %w", err)
	}
	return resp.GetCheckpoint(), nil
}

// CosignedCheckpoint returns the newest checkpoint that a quorum of the
// server's witnesses cosigned: its note carries their cosignature lines.
// Check it with [Verifier.CosignedCheckpoint]. A server without witnesses,
// or whose witnesses have not cosigned yet, answers FailedPrecondition.
func (c *Client) CosignedCheckpoint(ctx context.Context) (*agenttrailv1.Checkpoint, error) {
	resp, err := c.log.GetCheckpoint(ctx, &agenttrailv1.GetCheckpointRequest{Cosigned: true})
	if err != nil {
		return nil, fmt.Errorf("client: get cosigned checkpoint: %w", err)
	}
	return resp.GetCheckpoint(), nil
}

// CheckpointAt returns the checkpoint signed at a tree size. Not every size
// has one (the server signs at most once per interval): a size without one
// is a NotFound status.
func (c *Client) CheckpointAt(ctx context.Context, treeSize uint64) (*agenttrailv1.Checkpoint, error) {
	resp, err := c.log.GetCheckpoint(ctx, &agenttrailv1.GetCheckpointRequest{TreeSize: &treeSize})
	if err != nil {
		return nil, fmt.Errorf("client: get checkpoint of size %d: %w", treeSize, err)
	}
	return resp.GetCheckpoint(), nil
}

// InclusionProof returns the proof that the leaf at index is in the tree of
// treeSize leaves; treeSize 0 means the latest checkpoint's size. The
// response carries the checkpoint of that size when one was signed (always
// for treeSize 0). Check it with [Verifier.VerifyEntry].
func (c *Client) InclusionProof(ctx context.Context, index, treeSize uint64) (*agenttrailv1.GetInclusionProofResponse, error) {
	req := &agenttrailv1.GetInclusionProofRequest{LogIndex: index}
	if treeSize != 0 {
		req.TreeSize = &treeSize
	}
	resp, err := c.log.GetInclusionProof(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("client: get inclusion proof of %d: %w", index, err)
	}
	return resp, nil
}

// ConsistencyProof returns the proof that the tree of fromSize leaves is a
// prefix of the tree of toSize leaves; toSize 0 means the latest
// checkpoint's size. The response carries the checkpoint of toSize when
// one was signed (always for toSize 0). Check it with
// [Verifier.VerifyConsistency].
func (c *Client) ConsistencyProof(ctx context.Context, fromSize, toSize uint64) (*agenttrailv1.GetConsistencyProofResponse, error) {
	req := &agenttrailv1.GetConsistencyProofRequest{FromSize: fromSize}
	if toSize != 0 {
		req.ToSize = &toSize
	}
	resp, err := c.log.GetConsistencyProof(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("client: get consistency proof from %d: %w", fromSize, err)
	}
	return resp, nil
}

// VerifierKey returns the key the server says its checkpoints verify with.
// Trusting it is trust on first use: compare it with a copy obtained out of
// band (the operator prints it when the server starts) before relying on
// it, or pin it after first use.
func (c *Client) VerifierKey(ctx context.Context) (*agenttrailv1.GetVerifierKeyResponse, error) {
	resp, err := c.log.GetVerifierKey(ctx, &agenttrailv1.GetVerifierKeyRequest{})
	if err != nil {
		return nil, fmt.Errorf("client: get verifier key: %w", err)
	}
	return resp, nil
}
