package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/evidence"
	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "export", summary: "write matching events with proofs, to verify without the server", setup: exportCommand})
}

func exportCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	filter := addFilterFlags(fs)
	verifierKey := addVerifierKeyFlag(fs)
	setUsage(fs, "agenttrail export [flags] > FILE", `
Write the events that match the filter flags, in log order, as JSON lines
that anyone can verify without the server (agenttrail verify --export FILE
does): a first line with the latest signed checkpoint and the log's
verifier key, then one line per event with its agenttrail.v1.Entry (in your
view) and its inclusion proof against that checkpoint. Events newer than
the checkpoint are left out. Each entry is verified before it is written.
An erased entry (its content destroyed by an erasure or a retention policy)
brings along the Erasure or Retention event that names it, so that the file
proves the content is gone by a logged erasure.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		f, err := filter.filter()
		if err != nil {
			return err
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
		n, size, err := export(ctx, c, v, f, out)
		if err != nil {
			return err
		}
		fmt.Fprintf(errOut, "exported %s with proofs against the checkpoint of tree size %d\n", count(n, "event"), size)
		return nil
	}
}

// export writes the header line and an entry line for every match below
// the latest checkpoint's size, and returns how many and that size.
func export(ctx context.Context, c *client.Client, v *client.Verifier, f *agenttrailv1.Filter, out io.Writer) (int, uint64, error) {
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return 0, 0, err
	}
	head, err := v.Checkpoint(cp)
	if err != nil {
		return 0, 0, fmt.Errorf("the latest checkpoint does not verify: %w", err)
	}
	w, err := evidence.NewWriter(out, v.Key(), cp)
	if err != nil {
		return 0, 0, err
	}
	defer w.Flush()
	// Only what the checkpoint covers can be proved against it.
	if f.ToIndex == nil || *f.ToIndex > head.Size {
		size := head.Size
		f.ToIndex = &size
	}
	if *f.ToIndex <= f.GetFromIndex() {
		return 0, head.Size, w.Flush()
	}
	n := 0
	last := int64(-1)
	add := func(e *agenttrailv1.Entry) error {
		index := e.GetStamp().GetLogIndex()
		proof, err := c.InclusionProof(ctx, index, head.Size)
		if err != nil {
			return err
		}
		if _, err := v.VerifyEntry(e, cp, proof); err != nil {
			return fmt.Errorf("event %d as the server sent it does not verify: %w", index, err)
		}
		if err := w.Add(e, proof); err != nil {
			return err
		}
		last = int64(index)
		n++
		return nil
	}
	// The bundle carries the Erasure and Retention events that name its
	// erased entries, in log order among the others, so that it verifies
	// offline that each one's content is gone by a logged erasure.
	var erasures []uint64 // still to write, increasing
	flushErasures := func(before uint64) error {
		for len(erasures) > 0 && erasures[0] < before {
			by := erasures[0]
			erasures = erasures[1:]
			if int64(by) <= last {
				continue // written as a match of the filter
			}
			e, err := c.GetEventByIndex(ctx, by)
			if err != nil {
				return fmt.Errorf("fetching erasure %d: %w", by, err)
			}
			if err := add(e); err != nil {
				return err
			}
		}
		return nil
	}
	req := &agenttrailv1.QueryRequest{Filter: f}
	for e, err := range c.Query(ctx, req, client.WithResume(client.RetryPolicy{Initial: 200 * time.Millisecond, Attempts: 10})) {
		if err != nil {
			return n, head.Size, err
		}
		index := e.GetStamp().GetLogIndex()
		if err := flushErasures(index); err != nil {
			return n, head.Size, err
		}
		if err := add(e); err != nil {
			return n, head.Size, err
		}
		if by, named, ok := verify.ErasedBy(e); ok && named {
			if by >= head.Size {
				return n, head.Size, fmt.Errorf("event %d was erased by event %d, which the latest checkpoint does not cover yet: export again in a moment", index, by)
			}
			if k, found := slices.BinarySearch(erasures, by); !found {
				erasures = slices.Insert(erasures, k, by)
			}
		}
	}
	if err := flushErasures(head.Size); err != nil {
		return n, head.Size, err
	}
	return n, head.Size, w.Flush()
}
