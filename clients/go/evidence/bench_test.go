package evidence_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/agenttrail/agenttrail/clients/go/evidence"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// BenchmarkWriterAdd writes one line of a bundle: an entry of about 1 KiB
// and its proof in a tree of about a million events.
func BenchmarkWriterAdd(b *testing.B) {
	e := &agenttrailv1.Entry{
		Event: &agenttrailv1.Event{
			EventId: "0190a8f6-0c2e-7b1a-9d4e-3f2a1b0c9d8e", SessionId: "s-1", AgentId: "bench-agent", Step: 7,
			OccurredAt: timestamppb.New(time.Unix(1700000000, 0)),
			Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{
				ToolName: "search", Arguments: `{"q":"` + strings.Repeat("x", 900) + `"}`, Result: `{"ok":true}`,
			}},
		},
		Stamp:      &agenttrailv1.Stamp{LogIndex: 123456},
		Commitment: &agenttrailv1.Commitment{LeafHash: make([]byte, 32)},
	}
	proof := &agenttrailv1.GetInclusionProofResponse{LogIndex: 123456, TreeSize: 1 << 20, LeafHash: make([]byte, 32)}
	for range 20 {
		proof.Hashes = append(proof.Hashes, make([]byte, 32))
	}
	w, err := evidence.NewWriter(io.Discard, "k", &agenttrailv1.Checkpoint{TreeSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Add(e, proof); err != nil {
			b.Fatal(err)
		}
	}
}
