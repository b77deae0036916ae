package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/agenttrail/agenttrail/clients/go/verify"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	if s == "" {
		return fmt.Errorf("empty value")
	}
	*l = append(*l, s)
	return nil
}

// anchorFlags are what an auditor trusts besides the log's verifier key:
// checkpoints saved earlier or fetched from witnesses, and the witnesses'
// keys with how many of them must have cosigned.
type anchorFlags struct {
	checkpoints listFlag
	witnessKeys listFlag
	quorum      int
}

func addAnchorFlags(fs *flag.FlagSet) *anchorFlags {
	a := &anchorFlags{}
	fs.Var(&a.checkpoints, "checkpoint", "a trusted checkpoint `file`, repeatable: a signed or cosigned checkpoint saved earlier\n(agenttrail checkpoint --output note) or fetched from a witness; the log must extend it")
	fs.Var(&a.witnessKeys, "witness-key", "a trusted witness's cosignature verifier `key` (<name>+<hash>+<base64>), repeatable;\nthe checkpoints trusted must be cosigned by --quorum of them")
	fs.IntVar(&a.quorum, "quorum", 0, "how many of the --witness-key witnesses must have cosigned (default: all of them)")
	return a
}

// policy returns the witness policy of the flags, or nil without witness
// keys.
func (a *anchorFlags) policy() (*commitment.WitnessPolicy, error) {
	if len(a.witnessKeys) == 0 {
		if a.quorum != 0 {
			return nil, usageError{"--quorum needs --witness-key"}
		}
		return nil, nil
	}
	p, err := commitment.NewWitnessPolicy(a.witnessKeys, a.quorum)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--witness-key, --quorum: %v", err)}
	}
	return p, nil
}

// openCheckpoint opens a trusted checkpoint with the log's key, and with
// the witness policy when there is one.
func openCheckpoint(note []byte, key string, p *commitment.WitnessPolicy) (verify.TreeHead, []commitment.Cosignature, error) {
	vk, err := commitment.ParseVerifierKey(key)
	if err != nil {
		return verify.TreeHead{}, nil, err
	}
	if p == nil {
		h, err := commitment.OpenCheckpoint(note, key, vk.Name)
		return h, nil, err
	}
	return commitment.OpenCosignedCheckpoint(note, key, vk.Name, p)
}

// trusted opens every --checkpoint file with the log's key, and each must
// meet the witness policy when there is one.
func (a *anchorFlags) trusted(key string, p *commitment.WitnessPolicy) ([]verify.TreeHead, error) {
	var out []verify.TreeHead
	for _, f := range a.checkpoints {
		note, err := readCheckpointFile(f)
		if err != nil {
			return nil, err
		}
		h, _, err := openCheckpoint(note, key, p)
		if err != nil {
			return nil, fmt.Errorf("--checkpoint %s does not verify: %w", f, err)
		}
		out = append(out, h)
	}
	return out, nil
}

// readCheckpointFile reads a signed note from a file: the note itself, the
// output of agenttrail checkpoint (text or JSON), or a verify --state file.
func readCheckpointFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--checkpoint: %w", err)
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var j struct {
			SignedNote string `json:"signed_note"`
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(t, &j); err != nil || j.SignedNote == "" && j.Checkpoint == "" {
			return nil, fmt.Errorf("--checkpoint %s: a JSON file must be agenttrail checkpoint's (signed_note) or a verify state (checkpoint)", path)
		}
		if j.SignedNote != "" {
			return []byte(j.SignedNote), nil
		}
		return []byte(j.Checkpoint), nil
	}
	if bytes.HasPrefix(b, []byte("origin:")) {
		// agenttrail checkpoint's text output: a summary, a blank line, the note.
		if _, note, ok := bytes.Cut(b, []byte("\n\n")); ok {
			return note, nil
		}
	}
	return b, nil
}
