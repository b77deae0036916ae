package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/evidence"
	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
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
	anchors := addAnchorFlags(fs)
	output := addOutputFlag(fs, "text", "text", "json")
	profile := addCPUProfileFlag(fs, "the verification (this process)")
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
bytes (every leaf, content digest, tree hash and signed checkpoint), check
that content is missing only where a later erasure or retention event names
it, and that the secondary indexes file every event under exactly the
values of its header. An empty log fails. Events beyond the newest signed
checkpoint are reported as an unsigned tail, not as verified.

What an auditor trusts beyond the verifier key: --checkpoint FILE (a
checkpoint saved earlier or fetched from a witness) and --state FILE; the
log must extend each (offline: the stored tree must not be shorter than it,
and must hash to its root at its size). With --witness-key (repeatable) and
--quorum, trusted checkpoints, and online the latest checkpoint, must carry
cosignatures of a quorum of those witnesses.

--export FILE: check an export (the checkpoint's signature, and each
event's commitment and inclusion proof) without any server.

--output json prints one JSON object instead of the lines of text, on
success and on failure alike: verified (true or false), mode (online, data
or export), origin, tree_size, root_hash, from and to (the events checked),
events, content_checked, withheld, erased, the checkpoints and states the
log was found consistent with, and error and problem_index on failure. When
standard error is a terminal, a progress line shows the events checked.`)
	return func(ctx context.Context, args []string) (err error) {
		stopProfile, err := profile.start()
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stopProfile()) }()
		rep := &verifyReport{}
		w := out
		if output.v == "json" {
			w = io.Discard
		}
		err = runVerify(ctx, args, w, errOut, rep, conn, verifierKey, &from, &to, stateFile, loc, exportFile, anchors)
		var ue usageError
		if output.v == "json" && !errors.As(err, &ue) {
			rep.Verified = err == nil
			if err != nil {
				rep.Error = err.Error()
			}
			if jerr := json.NewEncoder(out).Encode(rep); jerr != nil && err == nil {
				err = jerr
			}
		}
		return err
	}
}

// verifyReport is what verify found, for --output json.
type verifyReport struct {
	Verified    bool   `json:"verified"`
	Mode        string `json:"mode"`
	Origin      string `json:"origin,omitempty"`
	TreeSize    uint64 `json:"tree_size"`
	RootHash    string `json:"root_hash,omitempty"`
	VerifierKey string `json:"verifier_key,omitempty"`
	// CosignedBy names the witnesses whose cosignatures were verified.
	CosignedBy []string `json:"cosigned_by,omitempty"`
	// From and To bound the events checked: [from, to).
	From           uint64 `json:"from"`
	To             uint64 `json:"to"`
	Events         int    `json:"events"`
	ContentChecked int    `json:"content_checked"`
	Withheld       int    `json:"withheld,omitempty"`
	Erased         int    `json:"erased,omitempty"`
	// Checkpoints and Postings: --data checked that many signed
	// checkpoints and secondary index postings.
	Checkpoints int `json:"checkpoints,omitempty"`
	Postings    int `json:"postings,omitempty"`
	// UnsignedTail is [from, to) of events beyond the newest signed
	// checkpoint (--data).
	UnsignedTail []uint64 `json:"unsigned_tail,omitempty"`
	// ConsistentWith lists the trusted checkpoints and state the log was
	// proved to extend.
	ConsistentWith []consistency `json:"consistent_with,omitempty"`
	// State is the state file updated (online).
	State        string  `json:"state,omitempty"`
	Error        string  `json:"error,omitempty"`
	ProblemIndex *uint64 `json:"problem_index,omitempty"`
}

// consistency is one trusted tree the log was proved to extend.
type consistency struct {
	Source   string `json:"source"`
	TreeSize uint64 `json:"tree_size"`
	RootHash string `json:"root_hash"`
}

// runVerify runs verify, printing text to out and filling rep.
func runVerify(ctx context.Context, args []string, out, errOut io.Writer, rep *verifyReport, conn *connFlags, verifierKey *string, fromFlag, toFlag *optUint, stateFile *string, loc storeLocation, exportFile *string, anchors *anchorFlags) error {
	from, to := *fromFlag, *toFlag
	if err := noArgs(args); err != nil {
		return err
	}
	online := from.set || to.set
	policy, err := anchors.policy()
	if err != nil {
		return err
	}
	switch {
	case loc.given() && *exportFile != "":
		return usageError{"--data and --export exclude each other"}
	case (loc.given() || *exportFile != "") && online:
		return usageError{"--from and --to are for online verification, not with --data or --export"}
	case *exportFile != "" && (*stateFile != "" || len(anchors.checkpoints) > 0 || policy != nil):
		return usageError{"--state, --checkpoint and --witness-key are for online verification and --data, not with --export"}
	case from.set && to.set && to.v <= from.v:
		return usageError{"--to must be greater than --from"}
	case loc.given():
		rep.Mode = "data"
		return verifyData(ctx, loc, *verifierKey, *stateFile, anchors, policy, out, errOut, rep)
	case *exportFile != "":
		rep.Mode = "export"
		f, err := os.Open(*exportFile)
		if err != nil {
			return err
		}
		defer f.Close()
		report := rep
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
		report.Origin, report.TreeSize, report.RootHash, report.VerifierKey = rep.Head.Origin, rep.Head.Size, fmt.Sprintf("%x", rep.Head.Root), rep.Key
		report.Events, report.ContentChecked = rep.Events, rep.ContentChecked
		if rep.Events > 0 {
			report.From, report.To = rep.First, rep.Last+1
		}
		report.Erased = rep.Erased
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
	rep.Mode = "online"
	c, err := conn.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return verifyOnline(ctx, c, onlineOptions{key: *verifierKey, from: from.v, to: to, state: *stateFile, anchors: anchors, policy: policy}, out, errOut, rep)
}

// verifyData verifies a stopped server's storage.
func verifyData(ctx context.Context, loc storeLocation, key, stateFile string, anchors *anchorFlags, policy *commitment.WitnessPolicy, out, errOut io.Writer, report *verifyReport) error {
	storeURL, dir, err := loc.storeURL()
	if err != nil {
		return err
	}
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usageError{fmt.Sprintf("--data %s: not a directory", dir)}
		}
	}
	var st *verifyState
	if stateFile != "" {
		if st, err = loadState(stateFile); err != nil {
			return err
		}
		if st == nil {
			return usageError{fmt.Sprintf("--state %s does not exist: offline, a state file is read, never written", stateFile)}
		}
		switch {
		case key == "":
			key = st.VerifierKey
		case key != st.VerifierKey:
			return fmt.Errorf("--verifier-key differs from the key the state file %s pins (%s)", stateFile, st.VerifierKey)
		}
	}
	if key == "" {
		if key, err = loc.localVerifierKey(); err != nil {
			return err
		}
		fmt.Fprintf(errOut, "warning: no --verifier-key: checkpoint signatures are checked with the key kept beside the data itself\n")
	}
	if _, err := commitment.ParseVerifierKey(key); err != nil {
		return usageError{fmt.Sprintf("--verifier-key: %v", err)}
	}
	if policy != nil && len(anchors.checkpoints) == 0 {
		return usageError{"--witness-key: offline, witness keys check the cosignatures of a --checkpoint file (one fetched from a witness or the server); give one"}
	}
	trusted, err := anchors.trusted(key, policy)
	if err != nil {
		return err
	}
	if st != nil {
		v, err := client.NewVerifier(key)
		if err != nil {
			return usageError{fmt.Sprintf("--verifier-key: %v", err)}
		}
		h, err := st.head(v)
		if err != nil {
			return fmt.Errorf("--state %s: %w", stateFile, err)
		}
		trusted = append(trusted, h)
	}
	p := startProgress(errOut, "verify", "events", 0)
	defer p.Stop()
	var shown uint64
	opts := append(loc.verifyMasterKey(), store.VerifyProgress(func(done, total uint64) {
		p.SetTotal(total)
		p.Add(done - shown)
		shown = done
	}))
	for _, h := range trusted {
		opts = append(opts, store.TrustCheckpoint(h))
	}
	rep, err := store.VerifyStorage(ctx, storeURL, key, opts...)
	p.Stop()
	report.VerifierKey, report.TreeSize, report.From, report.To = key, rep.TreeSize, rep.From, rep.To
	report.Checkpoints, report.Postings, report.Erased = rep.Checkpoints, rep.Postings, rep.Erased
	switch {
	case errors.Is(err, store.ErrInvalidArgument):
		return usageError{fmt.Sprintf("--verifier-key, --checkpoint: %v", err)}
	case err != nil:
		return err
	}
	if rep.Problem != nil {
		if !rep.Problem.Tree {
			i := rep.Problem.Index
			report.ProblemIndex = &i
		}
		if rep.Problem.Tree {
			return fmt.Errorf("the data does not verify: %s", rep.Problem.Reason)
		}
		fmt.Fprintf(out, "tree size %d: %s checked before the first problem\n", rep.TreeSize, count(rep.Checkpoints, "signed checkpoint"))
		return fmt.Errorf("event %d does not verify: %s", rep.Problem.Index, rep.Problem.Reason)
	}
	fmt.Fprintf(out, "tree size %d: recomputed events [%d, %d), %s and %s\n", rep.TreeSize, rep.From, rep.To,
		count(rep.Checkpoints, "signed checkpoint"), count(rep.Postings, "secondary index posting"))
	if rep.Erased > 0 {
		fmt.Fprintf(out, "%s with erased content, each named by a later erasure or retention event\n", count(rep.Erased, "event"))
	}
	for _, h := range trusted {
		fmt.Fprintf(out, "extends the trusted checkpoint of %s (root %x)\n", count(h.Size, "event"), h.Root)
		report.ConsistentWith = append(report.ConsistentWith, consistency{Source: "trusted checkpoint", TreeSize: h.Size, RootHash: fmt.Sprintf("%x", h.Root)})
	}
	report.Events, report.ContentChecked = int(rep.To-rep.From), int(rep.To-rep.From)-rep.Erased
	if rep.AggregateProblem != "" {
		return fmt.Errorf("the events verify, but the statistics do not: %s", rep.AggregateProblem)
	}
	switch {
	case rep.AggregatesAbsent:
		fmt.Fprintln(out, "statistics: none stored yet (the log was written by an older build; the server computes them when it next opens it)")
	case rep.AggregateHours > 0:
		fmt.Fprintf(out, "statistics recomputed for %s: they agree\n", count(rep.AggregateHours, "cube-hour"))
	}
	if from, to := rep.UnsignedTail(); from < to {
		report.UnsignedTail = []uint64{from, to}
		fmt.Fprintf(out, "data verified up to event %d, the newest signed checkpoint; events [%d, %d) are an unsigned tail: their bytes agree with the stored tree, but no signature covers them\n", from, from, to)
		return nil
	}
	fmt.Fprintln(out, "data verified: every event agrees with the Merkle log and its signed checkpoints")
	return nil
}

type onlineOptions struct {
	key     string
	from    uint64
	to      optUint
	state   string
	anchors *anchorFlags
	policy  *commitment.WitnessPolicy
}

// verifyOnline is verify against a running server.
func verifyOnline(ctx context.Context, c *client.Client, o onlineOptions, out, errOut io.Writer, report *verifyReport) error {
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
	var cp *agenttrailv1.Checkpoint
	var head verify.TreeHead
	if o.policy != nil {
		// The newest checkpoint a quorum of the trusted witnesses cosigned.
		if cp, err = c.CosignedCheckpoint(ctx); err != nil {
			return fmt.Errorf("no checkpoint cosigned by the witnesses: %w", err)
		}
		var cosigs []verify.Cosignature
		if head, cosigs, err = v.CosignedCheckpoint(cp, o.policy); err != nil {
			return fmt.Errorf("the cosigned checkpoint does not verify: %w", err)
		}
		var names []string
		for _, c := range cosigs {
			names = append(names, c.Witness)
		}
		fmt.Fprintf(out, "checkpoint: log %s, %s, root %x, signature verified, cosigned by %s (quorum %d of %d)\n",
			head.Origin, count(head.Size, "event"), head.Root, strings.Join(names, ", "), o.policy.Quorum, len(o.policy.Witnesses))
		report.CosignedBy = names
	} else {
		if cp, err = c.Checkpoint(ctx); err != nil {
			return err
		}
		if head, err = v.Checkpoint(cp); err != nil {
			return fmt.Errorf("the latest checkpoint does not verify: %w", err)
		}
		fmt.Fprintf(out, "checkpoint: log %s, %s, root %x, signature verified\n", head.Origin, count(head.Size, "event"), head.Root)
	}
	report.Origin, report.TreeSize, report.RootHash, report.VerifierKey = head.Origin, head.Size, fmt.Sprintf("%x", head.Root), v.Key()
	trusted, err := o.anchors.trusted(v.Key(), o.policy)
	if err != nil {
		return err
	}
	for i, t := range trusted {
		var proof *agenttrailv1.GetConsistencyProofResponse
		if t.Size > 0 && t.Size < head.Size {
			if proof, err = c.ConsistencyProof(ctx, t.Size, head.Size); err != nil {
				return err
			}
		}
		if _, err := v.VerifyConsistency(t, cp, proof); err != nil {
			return fmt.Errorf("the log is not consistent with the trusted checkpoint %s (%d events, root %x): %w", o.anchors.checkpoints[i], t.Size, t.Root, err)
		}
		fmt.Fprintf(out, "consistent with the trusted checkpoint of %s in %s\n", count(t.Size, "event"), o.anchors.checkpoints[i])
		report.ConsistentWith = append(report.ConsistentWith, consistency{Source: o.anchors.checkpoints[i], TreeSize: t.Size, RootHash: fmt.Sprintf("%x", t.Root)})
	}

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
		report.ConsistentWith = append(report.ConsistentWith, consistency{Source: o.state, TreeSize: old.Size, RootHash: fmt.Sprintf("%x", old.Root)})
	}

	to := head.Size
	if o.to.set {
		if o.to.v > head.Size {
			fmt.Fprintf(errOut, "warning: the latest signed checkpoint covers events below %d only; verifying up to it, not to --to %d\n", head.Size, o.to.v)
		} else {
			to = o.to.v
		}
	}
	report.From, report.To = o.from, to
	p := startProgress(errOut, "verify", "events", to-min(o.from, to))
	rep, err := verifyRange(ctx, c, v, cp, head, o.from, to, p)
	p.Stop()
	report.Events, report.ContentChecked, report.Withheld = rep.events, rep.content, rep.withheld
	if err != nil {
		if i, ok := problemIndex(err); ok {
			report.ProblemIndex = &i
		}
		return err
	}
	if err := proveErasures(ctx, c, v, cp, head, to, &rep.erasures); err != nil {
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
	fmt.Fprintln(out)
	if n := rep.erasures.Erased(); n > 0 {
		fmt.Fprintf(out, "%s with erased content, each named by a later erasure or retention event\n", count(n, "event"))
	}
	if o.state != "" {
		if err := saveState(o.state, v, head, cp.GetSignedNote()); err != nil {
			return err
		}
		fmt.Fprintf(out, "state %s now holds the checkpoint of %s\n", o.state, count(head.Size, "event"))
		report.State = o.state
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
	// erasures holds the erased entries seen and what the erasure and
	// retention entries seen name.
	erasures verify.ErasureLedger
}

// verifyRange fetches the events of [from, to) and checks each against
// the checkpoint, with its inclusion proof. An entry the caller's view may
// not show comes as a withheld leaf (index and leaf hash), whose inclusion
// is proved too; an index the server sends nothing for is a failure.
func verifyRange(ctx context.Context, c *client.Client, v *client.Verifier, cp *agenttrailv1.Checkpoint, head verify.TreeHead, from, to uint64, p *progress) (rangeReport, error) {
	var rep rangeReport
	if from >= to {
		return rep, nil
	}
	next := from
	// The server sends each item's inclusion proof against the checkpoint
	// just before the item: the range is read and proved in one call.
	// Items are checked on every core (work) and counted in log order
	// (done), so that the first that fails in log order is the one named.
	work := func(it *verifyItem) {
		if it.w != nil {
			_, it.err = v.VerifyWithheld(it.w, cp, it.proof)
		} else {
			_, it.err = v.VerifyEntry(it.e, cp, it.proof)
		}
	}
	done := func(it *verifyItem) error {
		index := it.index()
		if index != next {
			return fmt.Errorf("event %d does not verify: the server skipped it (the next event it sent is %d)", next, index)
		}
		if it.err != nil {
			return fmt.Errorf("event %d does not verify: %w", index, it.err)
		}
		next++
		p.Add(1)
		if it.w != nil {
			rep.withheld++
			return nil
		}
		e := it.e
		rep.events++
		if e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_PRESENT {
			rep.content++
		}
		rep.erasures.Note(index, e.GetEvent(), e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_ERASED)
		return nil
	}
	pl := newPipeline(work, done)
	var proof *agenttrailv1.GetInclusionProofResponse
	proved := client.WithInclusionProofs(func(p *agenttrailv1.GetInclusionProofResponse) { proof = p })
	var addErr error
	onWithheld := func(w *agenttrailv1.WithheldEntry) {
		if addErr == nil {
			addErr = pl.add(verifyItem{w: w, proof: proof})
		}
	}
	req := &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{FromIndex: &from, ToIndex: &to}, ProofTreeSize: &head.Size}
	var streamErr error
	for e, err := range c.Query(ctx, req, client.WithResume(client.RetryPolicy{Initial: 200 * time.Millisecond, Attempts: 10}), client.WithWithheld(onWithheld), proved) {
		if addErr != nil {
			break
		}
		if err != nil {
			streamErr = err
			break
		}
		if addErr = pl.add(verifyItem{e: e, proof: proof}); addErr != nil {
			break
		}
	}
	// What the items received before a failure show comes first, as when
	// checked one by one.
	if err := pl.close(); err != nil {
		return rep, err
	}
	if streamErr != nil {
		return rep, streamErr
	}
	if next != to {
		return rep, fmt.Errorf("event %d does not verify: the server did not send it (the log's checkpoint covers it)", next)
	}
	return rep, nil
}

// verifyItem is an entry, or a withheld one, of an online verification on
// its way through the pipeline, with its proof and, once checked, what is
// wrong with it.
type verifyItem struct {
	e     *agenttrailv1.Entry
	w     *agenttrailv1.WithheldEntry
	proof *agenttrailv1.GetInclusionProofResponse
	err   error
}

func (it *verifyItem) index() uint64 {
	if it.w != nil {
		return it.w.GetLogIndex()
	}
	return it.e.GetStamp().GetLogIndex()
}

// problemIndex finds the log index an error of verifyRange names: "event
// N does not verify: ...".
func problemIndex(err error) (uint64, bool) {
	var i uint64
	if !strings.Contains(err.Error(), " does not verify") {
		return 0, false
	}
	_, serr := fmt.Sscanf(err.Error(), "event %d ", &i)
	return i, serr == nil
}

// proveErasures demands that every erased entry seen is named by a later
// erasure or retention entry of the log, reading those beyond the range
// verified (each checked with its inclusion proof) when it must.
func proveErasures(ctx context.Context, c *client.Client, v *client.Verifier, cp *agenttrailv1.Checkpoint, head verify.TreeHead, to uint64, l *verify.ErasureLedger) error {
	if len(l.Unproven()) > 0 && to < head.Size {
		kinds := []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ERASURE, agenttrailv1.EventKind_EVENT_KIND_RETENTION}
		req := &agenttrailv1.QueryRequest{Filter: &agenttrailv1.Filter{FromIndex: &to, ToIndex: &head.Size, Kinds: kinds}, ProofTreeSize: &head.Size}
		var proof *agenttrailv1.GetInclusionProofResponse
		for e, err := range c.Query(ctx, req, client.WithInclusionProofs(func(p *agenttrailv1.GetInclusionProofResponse) { proof = p })) {
			if err != nil {
				return err
			}
			index := e.GetStamp().GetLogIndex()
			if _, err := v.VerifyEntry(e, cp, proof); err != nil {
				return fmt.Errorf("event %d does not verify: %w", index, err)
			}
			l.Note(index, e.GetEvent(), false)
		}
	}
	if u := l.Unproven(); len(u) > 0 {
		return fmt.Errorf("event %d does not verify: %w", u[0], l.Check())
	}
	return nil
}
