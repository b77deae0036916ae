package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "checkpoint", summary: "print a signed checkpoint of the log", setup: checkpointCommand})
}

func checkpointCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	var size optUint
	fs.Var(&size, "size", "the checkpoint signed at this tree `size` (default: the latest)")
	verifierKey := addVerifierKeyFlag(fs)
	output := addOutputFlag(fs, "text", "text", "json", "note")
	cosigned := fs.Bool("cosigned", false, "the newest checkpoint the server's witnesses cosigned (serve --witness), with their cosignatures")
	setUsage(fs, "agenttrail checkpoint [flags]", `
Print the latest signed checkpoint of the log, or the one signed at --size:
its origin, tree size and root hash, and the signed note itself (a C2SP
tlog-checkpoint). With --verifier-key the signature is checked, and a
checkpoint that does not verify is an error (status 1); without it, the
signature is not checked. --output note prints the signed note alone, to
keep as a trusted checkpoint (verify --checkpoint FILE).`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		var cp *agenttrailv1.Checkpoint
		if *cosigned && size.set {
			return usageError{"--cosigned and --size exclude each other"}
		}
		if *cosigned {
			cp, err = c.CosignedCheckpoint(ctx)
		} else if size.set {
			cp, err = c.CheckpointAt(ctx, size.v)
		} else {
			cp, err = c.Checkpoint(ctx)
		}
		if err != nil {
			return err
		}
		report := checkpointReport{Origin: cp.GetOrigin(), TreeSize: cp.GetTreeSize(), RootHash: hex.EncodeToString(cp.GetRootHash()), SignedNote: string(cp.GetSignedNote())}
		if *verifierKey != "" {
			v, err := verifierFor(ctx, c, *verifierKey, errOut)
			if err != nil {
				return err
			}
			head, err := v.Checkpoint(cp)
			if err != nil {
				return fmt.Errorf("the checkpoint does not verify with --verifier-key: %w", err)
			}
			report.Origin, report.TreeSize, report.RootHash = head.Origin, head.Size, hex.EncodeToString(head.Root[:])
			report.VerifiedWith = v.Key()
		}
		if output.v == "note" {
			_, err = io.WriteString(out, report.SignedNote)
			return err
		}
		if output.v == "json" {
			b, err := json.Marshal(report)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "%s\n", b)
			return err
		}
		signature := "not checked (pass --verifier-key to check it)"
		if report.VerifiedWith != "" {
			signature = "verified with " + report.VerifiedWith
		}
		_, err = fmt.Fprintf(out, "origin:    %s\ntree size: %d\nroot hash: %s\nsignature: %s\n\n%s",
			report.Origin, report.TreeSize, report.RootHash, signature, report.SignedNote)
		return err
	}
}

// checkpointReport is the JSON output of checkpoint.
type checkpointReport struct {
	Origin       string `json:"origin"`
	TreeSize     uint64 `json:"tree_size"`
	RootHash     string `json:"root_hash"`
	SignedNote   string `json:"signed_note"`
	VerifiedWith string `json:"verified_with,omitempty"`
}
