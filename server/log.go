package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

type logService struct {
	agenttrailv1.UnimplementedLogServiceServer
	s *Server
}

func checkpointMessage(cp store.Checkpoint) *agenttrailv1.Checkpoint {
	return &agenttrailv1.Checkpoint{SignedNote: cp.Note, Origin: cp.Origin, TreeSize: cp.Size, RootHash: cp.Root[:]}
}

// checkpointAt returns the latest checkpoint, or the one signed at size.
// The latest comes with its witnesses' cosignatures when a quorum cosigned
// it.
func (l *logService) checkpointAt(ctx context.Context, size *uint64) (store.Checkpoint, error) {
	if size == nil {
		cp := l.s.st.LatestCheckpoint()
		if cp.Note == nil {
			return cp, badRequest("tree_size", "the log is empty: no checkpoint has been signed yet")
		}
		if c := l.cosigned(); c.Note != nil && c.Size == cp.Size && c.Root == cp.Root {
			return c, nil
		}
		return cp, nil
	}
	return l.s.st.CheckpointAt(ctx, *size)
}

// cosigned returns the newest checkpoint a quorum of witnesses cosigned.
func (l *logService) cosigned() store.Checkpoint {
	if l.s.cfg.cosigned == nil {
		return store.Checkpoint{}
	}
	return l.s.cfg.cosigned()
}

// GetCheckpoint implements agenttrailv1.LogServiceServer.
func (l *logService) GetCheckpoint(ctx context.Context, req *agenttrailv1.GetCheckpointRequest) (*agenttrailv1.GetCheckpointResponse, error) {
	if req.GetCosigned() {
		if req.TreeSize != nil {
			return nil, statusError(ctx, l.s.log, badRequest("cosigned", "asks for the newest cosigned checkpoint, not one of a tree_size"))
		}
		if l.s.cfg.cosigned == nil {
			return nil, status.Error(codes.FailedPrecondition, "cosigned: this server has no witnesses (serve --witness)")
		}
		cp := l.cosigned()
		if cp.Note == nil {
			return nil, status.Error(codes.FailedPrecondition, "cosigned: no checkpoint has been cosigned by a quorum of the witnesses yet")
		}
		return &agenttrailv1.GetCheckpointResponse{Checkpoint: checkpointMessage(cp)}, nil
	}
	cp, err := l.checkpointAt(ctx, req.TreeSize)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	return &agenttrailv1.GetCheckpointResponse{Checkpoint: checkpointMessage(cp)}, nil
}

// GetInclusionProof implements agenttrailv1.LogServiceServer. Without a
// tree size it proves against the latest checkpoint and returns it.
func (l *logService) GetInclusionProof(ctx context.Context, req *agenttrailv1.GetInclusionProofRequest) (*agenttrailv1.GetInclusionProofResponse, error) {
	resp := &agenttrailv1.GetInclusionProofResponse{LogIndex: req.GetLogIndex()}
	size, cp, err := l.proofSize(ctx, req.TreeSize)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	if req.GetLogIndex() >= size {
		return nil, statusError(ctx, l.s.log, badRequest("log_index", "must be below the tree size proved against"))
	}
	e, err := l.s.st.Get(ctx, req.GetLogIndex(), store.HeaderOnly)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	proof, err := l.s.st.InclusionProof(ctx, req.GetLogIndex(), size)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	resp.TreeSize, resp.LeafHash, resp.Hashes, resp.Checkpoint = size, e.LeafHash[:], hashList(proof), cp
	return resp, nil
}

// maxProofsPerCall bounds GetInclusionProofs.
const maxProofsPerCall = 1000

// GetInclusionProofs implements agenttrailv1.LogServiceServer.
func (l *logService) GetInclusionProofs(ctx context.Context, req *agenttrailv1.GetInclusionProofsRequest) (*agenttrailv1.GetInclusionProofsResponse, error) {
	n := len(req.GetLogIndexes())
	if n < 1 || n > maxProofsPerCall {
		return nil, statusError(ctx, l.s.log, badRequest("log_indexes", "must hold 1 to 1000 log indexes"))
	}
	size, cp, err := l.proofSize(ctx, req.TreeSize)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	resp := &agenttrailv1.GetInclusionProofsResponse{TreeSize: size, Checkpoint: cp, Proofs: make([]*agenttrailv1.GetInclusionProofResponse, 0, n)}
	prover, err := l.s.st.Prover(size)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	for _, index := range req.GetLogIndexes() {
		if index >= size {
			return nil, statusError(ctx, l.s.log, badRequest("log_indexes", "each must be below the tree size proved against"))
		}
		e, err := l.s.st.Get(ctx, index, store.HeaderOnly)
		if err != nil {
			return nil, statusError(ctx, l.s.log, err)
		}
		proof, err := prover.InclusionProof(ctx, index)
		if err != nil {
			return nil, statusError(ctx, l.s.log, err)
		}
		resp.Proofs = append(resp.Proofs, &agenttrailv1.GetInclusionProofResponse{LogIndex: index, TreeSize: size, LeafHash: e.LeafHash[:], Hashes: hashList(proof)})
	}
	return resp, nil
}

// GetConsistencyProof implements agenttrailv1.LogServiceServer.
func (l *logService) GetConsistencyProof(ctx context.Context, req *agenttrailv1.GetConsistencyProofRequest) (*agenttrailv1.GetConsistencyProofResponse, error) {
	size, cp, err := l.proofSize(ctx, req.ToSize)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	if req.GetFromSize() < 1 || req.GetFromSize() > size {
		return nil, statusError(ctx, l.s.log, badRequest("from_size", "must be between 1 and the larger tree size"))
	}
	proof, err := l.s.st.ConsistencyProof(ctx, req.GetFromSize(), size)
	if err != nil {
		return nil, statusError(ctx, l.s.log, err)
	}
	return &agenttrailv1.GetConsistencyProofResponse{FromSize: req.GetFromSize(), ToSize: size, Hashes: hashList(proof), Checkpoint: cp}, nil
}

// proofSize resolves the tree size of a proof: the given one (with its
// checkpoint, when one was signed at that size) or the latest checkpoint's.
func (l *logService) proofSize(ctx context.Context, size *uint64) (uint64, *agenttrailv1.Checkpoint, error) {
	if size == nil {
		cp, err := l.checkpointAt(ctx, nil)
		if err != nil {
			return 0, nil, err
		}
		return cp.Size, checkpointMessage(cp), nil
	}
	if cur, _ := l.s.st.Size(); *size > cur {
		return 0, nil, badRequest("tree_size", "is larger than the log")
	}
	if cp, err := l.s.st.CheckpointAt(ctx, *size); err == nil {
		return *size, checkpointMessage(cp), nil
	}
	return *size, nil, nil
}

// GetVerifierKey implements agenttrailv1.LogServiceServer.
func (l *logService) GetVerifierKey(ctx context.Context, _ *agenttrailv1.GetVerifierKeyRequest) (*agenttrailv1.GetVerifierKeyResponse, error) {
	vk := l.s.st.VerifierKey()
	return &agenttrailv1.GetVerifierKeyResponse{Origin: l.s.st.Origin(), VerifierKey: vk.String(), PublicKey: vk.PublicKey}, nil
}

func hashList(hs [][32]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
