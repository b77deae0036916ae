package client_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

const testOrigin = "test.example/agenttrail"

// signedLog is a server whose signing key the test holds, so that it can
// forge checkpoints the key signs but the log never had.
func signedLog(t *testing.T) (*testServer, note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	ts := startStore(t, []store.Option{store.WithOrigin(testOrigin), store.WithSigningKey(skey)})
	return ts, signer, vkey
}

// forge signs a checkpoint of any size and root with the log's key.
func forge(t *testing.T, signer note.Signer, size uint64, root [32]byte) *agenttrailv1.Checkpoint {
	t.Helper()
	text := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, size, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return &agenttrailv1.Checkpoint{SignedNote: msg, Origin: testOrigin, TreeSize: size, RootHash: root[:]}
}

func TestVerifyEntry(t *testing.T) {
	ts, _, vkey := signedLog(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	appendAll(t, c, events("ver", 5))
	v, err := client.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.Origin() != testOrigin || v.Key() != vkey {
		t.Fatalf("verifier of %q, key %q", v.Origin(), v.Key())
	}
	entry, err := c.GetEventByIndex(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := c.InclusionProof(ctx, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	head, err := v.VerifyEntry(entry, nil, proof)
	if err != nil || head.Size != 5 {
		t.Fatalf("VerifyEntry = %+v, %v; want size 5", head, err)
	}
	if _, err := c.ProveEntry(ctx, v, entry); err != nil {
		t.Fatalf("ProveEntry: %v", err)
	}
	_, otherKey, _ := note.GenerateKey(rand.Reader, testOrigin)
	stranger, err := client.NewVerifier(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.InclusionProof(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		v      *client.Verifier
		change func(e *agenttrailv1.Entry, cp *agenttrailv1.Checkpoint, p *agenttrailv1.GetInclusionProofResponse) *agenttrailv1.GetInclusionProofResponse
		want   error
	}{
		{"tampered event", v, func(e *agenttrailv1.Entry, _ *agenttrailv1.Checkpoint, p *agenttrailv1.GetInclusionProofResponse) *agenttrailv1.GetInclusionProofResponse {
			e.GetEvent().GetToolCall().ToolName = "delete_everything"
			return p
		}, verify.ErrEventMismatch},
		{"tampered content", v, func(e *agenttrailv1.Entry, _ *agenttrailv1.Checkpoint, p *agenttrailv1.GetInclusionProofResponse) *agenttrailv1.GetInclusionProofResponse {
			e.GetCommitment().Content[len(e.GetCommitment().Content)-1] ^= 1
			return p
		}, verify.ErrDigestMismatch},
		{"another key", stranger, nil, verify.ErrNoSignature},
		{"proof of another entry", v, func(*agenttrailv1.Entry, *agenttrailv1.Checkpoint, *agenttrailv1.GetInclusionProofResponse) *agenttrailv1.GetInclusionProofResponse {
			return other
		}, verify.ErrBadProof},
		{"wrong audit path", v, func(_ *agenttrailv1.Entry, _ *agenttrailv1.Checkpoint, p *agenttrailv1.GetInclusionProofResponse) *agenttrailv1.GetInclusionProofResponse {
			p.Hashes[0][0] ^= 1
			return p
		}, verify.ErrBadProof},
		{"unsigned size disagrees", v, func(_ *agenttrailv1.Entry, cp *agenttrailv1.Checkpoint, p *agenttrailv1.GetInclusionProofResponse) *agenttrailv1.GetInclusionProofResponse {
			cp.TreeSize = 4
			return p
		}, verify.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := proto.Clone(entry).(*agenttrailv1.Entry)
			p := proto.Clone(proof).(*agenttrailv1.GetInclusionProofResponse)
			if tt.change != nil {
				p = tt.change(e, p.GetCheckpoint(), p)
			}
			_, err := tt.v.VerifyEntry(e, nil, p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyEntry = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyConsistency(t *testing.T) {
	ts, signer, vkey := signedLog(t)
	c := dial(t, ts.addr)
	ctx := context.Background()
	v, err := client.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, c, events("c1", 3))
	cp3, err := c.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, err := v.Checkpoint(cp3)
	if err != nil || old.Size != 3 {
		t.Fatalf("Checkpoint = %+v, %v", old, err)
	}
	appendAll(t, c, events("c2", 4))
	proof, err := c.ConsistencyProof(ctx, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	head, err := v.VerifyConsistency(old, nil, proof)
	if err != nil || head.Size != 7 {
		t.Fatalf("VerifyConsistency = %+v, %v; want size 7", head, err)
	}
	// From nothing (the first run of a verifier), and to the same size.
	if _, err := v.VerifyConsistency(verify.TreeHead{}, proof.GetCheckpoint(), nil); err != nil {
		t.Errorf("from the empty tree: %v", err)
	}
	if _, err := v.VerifyConsistency(head, proof.GetCheckpoint(), nil); err != nil {
		t.Errorf("to the same size: %v", err)
	}

	// A checkpoint the key signed, of a tree the log never had.
	forgedRoot := old.Root
	forgedRoot[0] ^= 1
	forged, err := v.Checkpoint(forge(t, signer, 3, forgedRoot))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyConsistency(forged, nil, proof); !errors.Is(err, verify.ErrBadProof) {
		t.Errorf("from a forged checkpoint: %v, want ErrBadProof", err)
	}
	sameSize, _ := v.Checkpoint(forge(t, signer, 7, forgedRoot))
	if _, err := v.VerifyConsistency(sameSize, proof.GetCheckpoint(), nil); !errors.Is(err, verify.ErrBadProof) {
		t.Errorf("same size, other root: %v, want ErrBadProof", err)
	}
	// A log that shrank since it was last seen.
	bigger, _ := v.Checkpoint(forge(t, signer, 9, forgedRoot))
	if _, err := v.VerifyConsistency(bigger, proof.GetCheckpoint(), nil); !errors.Is(err, verify.ErrBadProof) {
		t.Errorf("rolled back: %v, want ErrBadProof", err)
	}
}
