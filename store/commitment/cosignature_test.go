package commitment_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/agenttrail/agenttrail/store/commitment"
)

func witness(t *testing.T, name string) (note.Signer, commitment.WitnessKey) {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, k, err := commitment.NewWitnessSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

func TestCosignedCheckpoint(t *testing.T) {
	const origin = "example.com/log"
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	logSigner, _, err := commitment.ParseSignerKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	w1, k1 := witness(t, "witness.example/w1")
	w2, k2 := witness(t, "witness.example/w2")
	head := commitment.TreeHead{Origin: origin, Size: 7, Root: [32]byte{7}}
	cp, err := commitment.SignCheckpoint(logSigner, head)
	if err != nil {
		t.Fatal(err)
	}
	one, err := commitment.Cosign(cp, w1)
	if err != nil {
		t.Fatal(err)
	}
	both, err := commitment.Cosign(one, w2)
	if err != nil {
		t.Fatal(err)
	}
	policy := func(q int) *commitment.WitnessPolicy {
		p, err := commitment.NewWitnessPolicy([]string{k1.String(), k2.String()}, q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, cosigs, err := commitment.OpenCosignedCheckpoint(both, vkey, origin, policy(2))
	if err != nil || got != head || len(cosigs) != 2 || cosigs[0].Witness != k1.Name || cosigs[1].Witness != k2.Name {
		t.Fatalf("OpenCosignedCheckpoint = %+v, %+v, %v", got, cosigs, err)
	}
	if _, _, err := commitment.OpenCosignedCheckpoint(one, vkey, origin, policy(1)); err != nil {
		t.Errorf("quorum 1 of a checkpoint cosigned once: %v", err)
	}
	if _, _, err := commitment.OpenCosignedCheckpoint(one, vkey, origin, policy(2)); !errors.Is(err, commitment.ErrNoQuorum) || !strings.Contains(err.Error(), "only witness.example/w1") {
		t.Errorf("quorum 2 of a checkpoint cosigned once: %v, want ErrNoQuorum naming w1", err)
	}
	if _, _, err := commitment.OpenCosignedCheckpoint(cp, vkey, origin, policy(1)); !errors.Is(err, commitment.ErrNoQuorum) {
		t.Errorf("a checkpoint no witness cosigned: %v, want ErrNoQuorum", err)
	}
	// The cosignatures of one tree copied onto a fork of it.
	fork, _ := commitment.SignCheckpoint(logSigner, commitment.TreeHead{Origin: origin, Size: 7, Root: [32]byte{8}})
	forged := append(fork, both[len(cp):]...)
	if _, _, err := commitment.OpenCosignedCheckpoint(forged, vkey, origin, policy(1)); !errors.Is(err, commitment.ErrBadSignature) {
		t.Errorf("cosignatures moved onto a fork: %v, want ErrBadSignature", err)
	}
	// A log key is no witness key.
	if _, err := commitment.NewWitnessPolicy([]string{vkey}, 1); !errors.Is(err, commitment.ErrMalformed) {
		t.Errorf("a log key as witness key: %v, want ErrMalformed", err)
	}

	// Another implementation of cosignature/v1 (filippo.io/torchwood)
	// verifies ours, and ours verifies its.
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	tw, err := torchwood.NewCosignatureSigner("witness.example/w3", priv)
	if err != nil {
		t.Fatal(err)
	}
	ours, k3, err := commitment.NewWitnessSigner(signerKey(t, "witness.example/w3", seed))
	if err != nil {
		t.Fatal(err)
	}
	if k3.String() != tw.Verifier().String() {
		t.Fatalf("witness key %s, torchwood says %s", k3, tw.Verifier())
	}
	byUs, _ := commitment.Cosign(cp, ours)
	if _, err := note.Open(byUs, note.VerifierList(tw.Verifier())); err != nil {
		t.Errorf("torchwood does not verify our cosignature: %v", err)
	}
	byThem, _ := commitment.Cosign(cp, tw)
	p3, _ := commitment.NewWitnessPolicy([]string{k3.String()}, 1)
	if _, _, err := commitment.OpenCosignedCheckpoint(byThem, vkey, origin, p3); err != nil {
		t.Errorf("we do not verify torchwood's cosignature: %v", err)
	}
}

// signerKey is the note signer key of an Ed25519 seed.
func signerKey(t *testing.T, name string, seed []byte) string {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	vk, err := commitment.NewVerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, vk.KeyHash, base64.StdEncoding.EncodeToString(append([]byte{1}, seed...)))
}
