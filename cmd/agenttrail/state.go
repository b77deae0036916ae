package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// verifyState is what verify --state keeps between runs: the key it
// trusts and the last checkpoint it verified. Only the signed note counts;
// tree_size and root_hash are there for people, and must agree with it.
type verifyState struct {
	VerifierKey string `json:"verifier_key"`
	Origin      string `json:"origin"`
	TreeSize    uint64 `json:"tree_size"`
	RootHash    string `json:"root_hash"`
	Checkpoint  string `json:"checkpoint"`
}

// loadState reads a state file; a missing file is a first run (nil, nil).
func loadState(path string) (*verifyState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--state: %w", err)
	}
	var st verifyState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("--state %s is not a verify state file: %v", path, err)
	}
	if st.VerifierKey == "" || st.Checkpoint == "" {
		return nil, fmt.Errorf("--state %s has no verifier_key or checkpoint", path)
	}
	return &st, nil
}

// head verifies the state's checkpoint with v and returns its tree head.
func (st *verifyState) head(v *client.Verifier) (verify.TreeHead, error) {
	head, err := v.Checkpoint(&agenttrailv1.Checkpoint{SignedNote: []byte(st.Checkpoint)})
	if err != nil {
		return verify.TreeHead{}, fmt.Errorf("the checkpoint in the state file does not verify: %w", err)
	}
	if st.TreeSize != head.Size || st.RootHash != hex.EncodeToString(head.Root[:]) || st.Origin != head.Origin {
		return verify.TreeHead{}, fmt.Errorf("the state file's tree_size, root_hash or origin disagree with its signed checkpoint (size %d, root %x): it was edited", head.Size, head.Root)
	}
	return head, nil
}

// saveState writes the state atomically: a new file renamed over the old.
func saveState(path string, v *client.Verifier, head verify.TreeHead, note []byte) error {
	st := verifyState{VerifierKey: v.Key(), Origin: head.Origin, TreeSize: head.Size, RootHash: hex.EncodeToString(head.Root[:]), Checkpoint: string(note)}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".agenttrail-state-*")
	if err != nil {
		return fmt.Errorf("writing --state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing --state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing --state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing --state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing --state: %w", err)
	}
	return nil
}
