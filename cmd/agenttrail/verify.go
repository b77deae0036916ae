package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/evidence"
	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

func init() {
	register(command{name: "verify", summary: "verify the log: online, a stopped server's data, or an export", setup: verifyCommand})
}

func verifyCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	verifierKey := addVerifierKeyFlag(fs)
	var from, to optUint
	fs.Var(&from, "from", "online: the first log `index` to verify (default 0)")
	fs.Var(&to, "to", "online: verify up to this log `index`, exclusive (default: the latest checkpoint's size)")
	stateFile := fs.String("state", "", "online: JSON `file` keeping the last verified checkpoint and the key; the log must be\nconsistent with it, and it is updated when verification succeeds")
	var loc storeLocation
	loc.addFlags(fs, "", "offline: verify the data directory `dir` of a stopped server from its raw bytes", false)
	exportFile := fs.String("export", "", "offline: verify an export `file` written by agenttrail export")
	setUsage(fs, "agenttrail verify [--from I] [--to J] [--state FILE] | --data DIR | --export FILE [flags]", `
Verify the log; a failure is reported with the first bad log index and
exit status 1.

Online (the default), against a running server: check the latest signed
checkpoint with --verifier-key (or the key of the --state file, or else the
server's own key, trusted on first use, with a warning); check that the log
is consistent with the checkpoint kept in --state, if any; then fetch each
event of [--from, --to) and check its commitment (leaf hash, and content
digest when your view shows the content) and its inclusion proof against
the checkpoint. On success the --state file is updated to the checkpoint.

--data DIR: recompute the whole log of a stopped server from its stored
bytes (every leaf, content digest, tree hash and signed checkpoint).

--export FILE: check an export (the checkpoint's signature, and each
event's commitment and inclusion proof) without any server.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		online := from.set || to.set || *stateFile != ""
		switch {
		case loc.given() && *exportFile != "":
			return usageError{"--data and --export exclude each other"}
		case (loc.given() || *exportFile != "") && online:
			return usageError{"--from, --to and --state are for online verification, not with --data or --export"}
		case from.set && to.set && to.v <= from.v:
			return usageError{"--to must be greater than --from"}
		case loc.given():
			return verifyData(ctx, loc, *verifierKey, out, errOut)
		case *exportFile != "":
			f, err := os.Open(*exportFile)
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := evidence.Verify(f, *verifierKey)
			if rep.SelfKeyed {
				warnTOFU(errOut, rep.Key)
				fmt.Fprintln(errOut, "warning: with the export's own key, verification shows only that the export is consistent with itself")
			}
			if errors.Is(err, evidence.ErrBadKey) {
				return usageError{fmt.Sprintf("verifier key: %v", errors.Unwrap(err))}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "export verified: %s", count(rep.Events, "event"))
			if rep.Events > 0 {
				fmt.Fprintf(out, " (log indexes %d to %d, content checked for %d", rep.First, rep.Last, rep.ContentChecked)
				if rep.Erased > 0 {
					fmt.Fprintf(out, ", %d erased, each named by an erasure in the export", rep.Erased)
				}
				fmt.Fprint(out, ")")
			}
			fmt.Fprintf(out, " in the log %s of %s, root %x\nverified with %s\n", rep.Head.Origin, count(rep.Head.Size, "event"), rep.Head.Root, rep.Key)
			return nil
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		return verifyOnline(ctx, c, onlineOptions{key: *verifierKey, from: from.v, to: to, state: *stateFile}, out, errOut)
	}
}

// verifyData verifies a stopped server's storage.
func verifyData(ctx context.Context, loc storeLocation, key string, out, errOut io.Writer) error {
	storeURL, dir, err := loc.storeURL()
	if err != nil {
		return err
	}
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usageError{fmt.Sprintf("--data %s: not a directory", dir)}
		}
	}
	if key == "" {
		if key, err = loc.localVerifierKey(); err != nil {
			return err
		}
		fmt.Fprintf(errOut, "warning: no --verifier-key: checkpoint signatures are checked with the key kept beside the data itself\n")
	}
	var mk []store.Option
	if _, err := loc.masterKeyFile(); err == nil || os.Getenv(store.MasterKeyEnv) != "" {
		if mk, err = loc.masterKeyOptions(); err != nil {
			return err
		}
	}
	rep, err := store.VerifyStorage(ctx, storeURL, key, mk...)
	switch {
	case errors.Is(err, store.ErrInvalidArgument):
		return usageError{fmt.Sprintf("--verifier-key: %v", err)}
	case err != nil:
		return err
	}
	if rep.Problem != nil {
		fmt.Fprintf(out, "tree size %d: %s checked before the first problem\n", rep.TreeSize, count(rep.Checkpoints, "signed checkpoint"))
		return fmt.Errorf("event %d does not verify: %s", rep.Problem.Index, rep.Problem.Reason)
	}
	fmt.Fprintf(out, "tree size %d: recomputed events [%d, %d) and %s\n", rep.TreeSize, rep.From, rep.To, count(rep.Checkpoints, "signed checkpoint"))
	fmt.Fprintln(out, "data verified: every event agrees with the Merkle log and its signed checkpoints")
	return nil
}

type onlineOptions struct {
	key   string
	from  uint64
	to    optUint
	state string
}

// verifyOnline is verify against a running server.
func verifyOnline(ctx context.Context, c *client.Client, o onlineOptions, out, errOut io.Writer) error {
	var st *verifyState
	if o.state != "" {
		var err error
		if st, err = loadState(o.state); err != nil {
			return err
		}
	}
	key := o.key
	if st != nil {
		switch {
		case key == "":
			key = st.VerifierKey
		case key != st.VerifierKey:
			return fmt.Errorf("--verifier-key differs from the key the state file %s pins (%s); if the log's signing key was rotated on purpose, start a new state file", o.state, st.VerifierKey)
		}
	}
	v, err := verifierFor(ctx, c, key, errOut)
	if err != nil {
		return err
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return err
	}
	head, err := v.Checkpoint(cp)
	if err != nil {
		return fmt.Errorf("the latest checkpoint does not verify: %w", err)
	}
	fmt.Fprintf(out, "checkpoint: log %s, %s, root %x, signature verified\n", head.Origin, count(head.Size, "event"), head.Root)

	if st != nil {
		old, err := st.head(v)
		if err != nil {
			return fmt.Errorf("--state %s: %w", o.state, err)
		}
		var proof *agenttrailv1.GetConsistencyProofResponse
		if old.Size < head.Size {
			if proof, err = c.ConsistencyProof(ctx, old.Size, head.Size); err != nil {
				return err
			}
		}
		if _, err := v.VerifyConsistency(old, cp, proof); err != nil {
			return fmt.Errorf("the log is not consistent with the checkpoint in --state %s (%d events, root %x): %w", o.state, old.Size, old.Root, err)
		}
		fmt.Fprintf(out, "consistent with the checkpoint of %s in %s\n", count(old.Size, "event"), o.state)
	}

	to := head.Size
	if o.to.set {
		if o.to.v > head.Size {
			fmt.Fprintf(errOut, "warning: the latest signed checkpoint covers events below %d only; verifying up to it, not to --to %d\n", head.Size, o.to.v)
		} else {
			to = o.to.v
		}
	}
	rep, err := verifyRange(ctx, c, v, cp, head, o.from, to)
	if err != nil {
		return err
	}
	n, content := rep.events, rep.content
	switch {
	case n > 0 && content == n:
		fmt.Fprintf(out, "verified events [%d, %d): %s, content included", o.from, to, count(n, "event"))
	case n > 0:
		fmt.Fprintf(out, "verified events [%d, %d): %s, content checked for %d (the others are withheld or erased in your view; their headers verify)", o.from, to, count(n, "event"), content)
	case rep.withheld == 0:
		fmt.Fprintf(out, "no events in [%d, %d) to verify", o.from, to)
	default:
		fmt.Fprintf(out, "verified events [%d, %d): none shown to you", o.from, to)
	}
	if rep.withheld > 0 {
		what := "entries"
		if rep.withheld == 1 {
			what = "entry"
		}
		fmt.Fprintf(out, "; %d %s withheld from your view (index and leaf hash only, each proved to be in the log)", rep.withheld, what)
	}
	if rep.erased > 0 {
		fmt.Fprintf(out, "; %s erased, each named by a verified erasure or retention event", count(rep.erased, "event"))
	}
	fmt.Fprintln(out)
	if o.state != "" {
		if err := saveState(o.state, v, head, cp.GetSignedNote()); err != nil {
			return err
		}
		fmt.Fprintf(out, "state %s now holds the checkpoint of %s\n", o.state, count(head.Size, "event"))
	}
	return nil
}

// rangeReport is what verifyRange checked.
type rangeReport struct {
	// events is how many events were checked: their commitment and
	// inclusion proof.
	events int
	// content is how many of those had their content checked too.
	content int
	// withheld is how many entries the caller's view may not show: their
	// leaves were proved to be in the log, and nothing else.
	withheld int
	// erased is how many of the events checked had their content erased:
	// each is named by an Erasure or Retention event, verified too.
	erased int
}

// verifyRange fetches the events of [from, to) and checks each against
// the checkpoint, with its inclusion proof. An entry the caller's view may
// not show comes as a withheld leaf (index and leaf hash), whose inclusion
// is proved too; an index the server sends nothing for is a failure.
func verifyRange(ctx context.Context, c *client.Client, v *client.Verifier, cp *agenttrailv1.Checkpoint, head verify.TreeHead, from, to uint64) (rangeReport, error) {
	var rep rangeReport
	if from >= to {
		return rep, nil
	}
	next := from
	// check verifies the item at index with its inclusion proof.
	check := func(index uint64, prove func(*agenttrailv1.GetInclusionProofResponse) error) error {
		if index != next {
			return fmt.Errorf("event %d does not verify: the server skipped it (the next event it sent is %d)", next, index)
		}
		proof, err := c.InclusionProof(ctx, index, head.Size)
		if err != nil {
			return fmt.Errorf("event %d: %w", index, err)
		}
		if err := prove(proof); err != nil {
			return fmt.Errorf("event %d does not verify: %w", index, err)
		}
		next++
		return nil
	}
	var erased []*agenttrailv1.Entry
	erasures := map[uint64]*agenttrailv1.Entry{}
	var withheldErr error
	onWithheld := func(w *agenttrailv1.WithheldEntry) {
		if withheldErr != nil {
			return
		}
		withheldErr = check(w.GetLogIndex(), func(proof *agenttrailv1.GetInclusionProofResponse) error {
			_, err := v.VerifyWithheld(w, cp, proof)
			return err
		})
		if withheldErr == nil {
			rep.withheld++
		}
	}
	req := &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{FromIndex: &from, ToIndex: &to}}
	for e, err := range c.Query(ctx, req, client.WithResume(client.RetryPolicy{Initial: 200 * time.Millisecond, Attempts: 10}), client.WithWithheld(onWithheld)) {
		if withheldErr != nil {
			return rep, withheldErr
		}
		if err != nil {
			return rep, err
		}
		if err := check(e.GetStamp().GetLogIndex(), func(proof *agenttrailv1.GetInclusionProofResponse) error {
			_, err := v.VerifyEntry(e, cp, proof)
			return err
		}); err != nil {
			return rep, err
		}
		rep.events++
		if e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_PRESENT {
			rep.content++
		}
		if _, _, ok := verify.ErasedBy(e); ok {
			erased = append(erased, e)
		}
		if _, isErasure := verify.Names(e.GetEvent(), 0); isErasure {
			erasures[e.GetStamp().GetLogIndex()] = e
		}
	}
	if withheldErr != nil {
		return rep, withheldErr
	}
	if next != to {
		return rep, fmt.Errorf("event %d does not verify: the server did not send it (the log's checkpoint covers it)", next)
	}
	// Each erased entry's content is accounted for by the erasure its view
	// names: verified here when the range held it, fetched and proved
	// otherwise.
	for _, e := range erased {
		index := e.GetStamp().GetLogIndex()
		by, named, _ := verify.ErasedBy(e)
		if !named {
			return rep, fmt.Errorf("event %d does not verify: its content is erased, and its view names no erasure", index)
		}
		erasure, ok := erasures[by]
		if !ok {
			var err error
			if erasure, err = c.GetEventByIndex(ctx, by); err != nil {
				return rep, fmt.Errorf("event %d: fetching its erasure %d: %w", index, by, err)
			}
			proof, err := c.InclusionProof(ctx, by, head.Size)
			if err != nil {
				return rep, fmt.Errorf("event %d: %w", by, err)
			}
			if _, err := v.VerifyEntry(erasure, cp, proof); err != nil {
				return rep, fmt.Errorf("event %d does not verify: %w", by, err)
			}
			erasures[by] = erasure
		}
		if err := verify.CheckErasure(e, erasure); err != nil {
			return rep, fmt.Errorf("event %d does not verify: %w", index, err)
		}
		rep.erased++
	}
	return rep, nil
}
