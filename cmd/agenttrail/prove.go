package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/agenttrail/agenttrail/clients/go/client"
)

func init() {
	register(command{name: "prove", summary: "get an inclusion or consistency proof and check it locally", setup: proveCommand})
}

func proveCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	var index, size, from, to optUint
	fs.Var(&index, "index", "inclusion: prove the event at this log `index`")
	fs.Var(&size, "size", "inclusion: against the checkpoint signed at this tree `size` (default: the latest)")
	fs.Var(&from, "from", "consistency: from the checkpoint signed at this tree `size`")
	fs.Var(&to, "to", "consistency: to the checkpoint signed at this tree `size` (default: the latest)")
	verifierKey := addVerifierKeyFlag(fs)
	output := addOutputFlag(fs, "text", "text", "json")
	setUsage(fs, "agenttrail prove (--index N [--size S] | --from A [--to B]) [flags]", `
Get a proof from the server and check it here, with the checkpoints' signatures:

  --index N [--size S]  that the event at index N is in the log of the
                        checkpoint (the event's commitment is checked too);
  --from A [--to B]     that the log of checkpoint A is a prefix of the log
                        of checkpoint B: nothing in it was changed or dropped.

Proofs are against signed checkpoints; the server signs one at most every
checkpoint interval, so not every size has one (see checkpoint --size).
A proof that does not verify is an error (status 1).`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		switch {
		case index.set == from.set:
			return usageError{"give either --index (inclusion) or --from (consistency)"}
		case index.set && to.set, from.set && size.set:
			return usageError{"--size goes with --index, --to with --from"}
		case from.set && from.v == 0:
			return usageError{"--from must be at least 1: every log extends the empty one"}
		case from.set && to.set && to.v < from.v:
			return usageError{"--to must not be below --from"}
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		v, err := verifierFor(ctx, c, *verifierKey, errOut)
		if err != nil {
			return err
		}
		var rep proofReport
		if index.set {
			rep, err = proveInclusion(ctx, c, v, index.v, size.v)
		} else {
			rep, err = proveConsistency(ctx, c, v, from.v, to.v)
		}
		if err != nil {
			return err
		}
		rep.VerifiedWith = v.Key()
		if output.v == "json" {
			b, err := json.Marshal(rep)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "%s\n", b)
			return err
		}
		_, err = io.WriteString(out, rep.text())
		return err
	}
}

// proofReport is what prove checked, for output.
type proofReport struct {
	Kind         string   `json:"kind"` // "inclusion" or "consistency"
	LogIndex     *uint64  `json:"log_index,omitempty"`
	EventID      string   `json:"event_id,omitempty"`
	LeafHash     string   `json:"leaf_hash,omitempty"`
	FromSize     uint64   `json:"from_size,omitempty"`
	FromRoot     string   `json:"from_root_hash,omitempty"`
	TreeSize     uint64   `json:"tree_size"`
	RootHash     string   `json:"root_hash"`
	Hashes       []string `json:"hashes"`
	VerifiedWith string   `json:"verified_with"`
}

func (r proofReport) text() string {
	var b strings.Builder
	if r.Kind == "inclusion" {
		fmt.Fprintf(&b, "event %d (%s) is in the log of %s\n", *r.LogIndex, r.EventID, count(r.TreeSize, "event"))
		fmt.Fprintf(&b, "leaf hash:  %s\n", r.LeafHash)
	} else {
		fmt.Fprintf(&b, "the log of %s is a prefix of the log of %s\n", count(r.FromSize, "event"), count(r.TreeSize, "event"))
		fmt.Fprintf(&b, "old root:   %s (tree size %d)\n", r.FromRoot, r.FromSize)
	}
	fmt.Fprintf(&b, "root hash:  %s (tree size %d)\n", r.RootHash, r.TreeSize)
	fmt.Fprintf(&b, "proof:      %d hashes\n", len(r.Hashes))
	for _, h := range r.Hashes {
		fmt.Fprintf(&b, "  %s\n", h)
	}
	fmt.Fprintf(&b, "verified with %s\n", r.VerifiedWith)
	return b.String()
}

func hexes(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// proveInclusion checks the event at index against the checkpoint of size
// (0: the latest).
func proveInclusion(ctx context.Context, c *client.Client, v *client.Verifier, index, size uint64) (proofReport, error) {
	proof, err := c.InclusionProof(ctx, index, size)
	if status.Code(err) == codes.InvalidArgument && size == 0 {
		return proofReport{}, fmt.Errorf("%w (an event newer than the latest checkpoint can be proved once the next one is signed)", err)
	}
	if err != nil {
		return proofReport{}, err
	}
	if proof.GetCheckpoint() == nil {
		return proofReport{}, usageError{fmt.Sprintf("--size %d: no checkpoint was signed at that size; use the size of a signed checkpoint (or leave --size out)", size)}
	}
	entry, err := c.GetEventByIndex(ctx, index)
	if err != nil {
		return proofReport{}, err
	}
	head, err := v.VerifyEntry(entry, proof.GetCheckpoint(), proof)
	if err != nil {
		return proofReport{}, err
	}
	return proofReport{Kind: "inclusion", LogIndex: &index, EventID: entry.GetEvent().GetEventId(),
		LeafHash: hex.EncodeToString(entry.GetCommitment().GetLeafHash()), TreeSize: head.Size,
		RootHash: hex.EncodeToString(head.Root[:]), Hashes: hexes(proof.GetHashes())}, nil
}

// proveConsistency checks that the checkpoint of size from is a prefix of
// the one of size to (0: the latest).
func proveConsistency(ctx context.Context, c *client.Client, v *client.Verifier, from, to uint64) (proofReport, error) {
	oldCp, err := c.CheckpointAt(ctx, from)
	if status.Code(err) == codes.NotFound {
		return proofReport{}, usageError{fmt.Sprintf("--from %d: no checkpoint was signed at that size; use the size of a signed checkpoint, such as the one verify --state keeps", from)}
	}
	if err != nil {
		return proofReport{}, err
	}
	old, err := v.Checkpoint(oldCp)
	if err != nil {
		return proofReport{}, fmt.Errorf("the checkpoint of size %d: %w", from, err)
	}
	proof, err := c.ConsistencyProof(ctx, from, to)
	if err != nil {
		return proofReport{}, err
	}
	if proof.GetCheckpoint() == nil {
		return proofReport{}, usageError{fmt.Sprintf("--to %d: no checkpoint was signed at that size; use the size of a signed checkpoint (or leave --to out)", to)}
	}
	head, err := v.VerifyConsistency(old, proof.GetCheckpoint(), proof)
	if err != nil {
		return proofReport{}, err
	}
	return proofReport{Kind: "consistency", FromSize: old.Size, FromRoot: hex.EncodeToString(old.Root[:]),
		TreeSize: head.Size, RootHash: hex.EncodeToString(head.Root[:]), Hashes: hexes(proof.GetHashes())}, nil
}
