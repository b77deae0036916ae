package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/clients/go/evidence"
	"github.com/agenttrail/agenttrail/clients/go/verify"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store"
)

func init() {
	register(command{name: "export", summary: "write matching events with proofs, to verify without the server", setup: exportCommand})
}

func exportCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	filter := addFilterFlags(fs)
	verifierKey := addVerifierKeyFlag(fs)
	var loc storeLocation
	loc.addFlags(fs, "", "offline: export from the data `directory` of a stopped server instead of a running one", false)
	output := addOutputFlag(fs, "text", "text", "json")
	profile := addCPUProfileFlag(fs, "the export (this process)")
	setUsage(fs, "agenttrail export [flags] > FILE", `
Write the events that match the filter flags, in log order, as JSON lines
that anyone can verify without the server (agenttrail verify --export FILE
does): a first line with the latest signed checkpoint and the log's
verifier key, then one line per event with its agenttrail.v1.Entry (in your
view) and its inclusion proof against that checkpoint. Events newer than
the checkpoint are left out. Each entry is verified before it is written.
An erased entry (its content destroyed by an erasure or a retention policy)
brings along the Erasure or Retention event that names it, so that the file
proves the content is gone by a logged erasure.

Offline, --data DIR or --store URL reads the storage directly, in the full
view, without a server (and so without an access record in the trail):
a stopped server's data directory, or a PostgreSQL database, for which a
role that may only SELECT is enough. --verifier-key is then required for
--store.

The export goes to standard output; what was exported is reported on
standard error, as a line of text or, with --output json, as a JSON object
(events, tree_size, origin, verifier_key). When standard error is a
terminal, a progress line shows the events written so far.`)
	return func(ctx context.Context, args []string) (err error) {
		if err := noArgs(args); err != nil {
			return err
		}
		stopProfile, err := profile.start()
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stopProfile()) }()
		f, err := filter.filter()
		if err != nil {
			return err
		}
		p := startProgress(errOut, "export", "events", 0)
		defer p.Stop()
		if loc.given() {
			rep, err := exportStorage(ctx, loc, *verifierKey, f, out, errOut, p)
			p.Stop()
			if err != nil {
				return err
			}
			return rep.print(errOut, output.v, "from storage ")
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
		rep, err := export(ctx, c, v, f, out, p)
		p.Stop()
		if err != nil {
			return err
		}
		return rep.print(errOut, output.v, "")
	}
}

// exportReport is what an export wrote.
type exportReport struct {
	Events      int    `json:"events"`
	TreeSize    uint64 `json:"tree_size"`
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
}

// print reports the export on w, as text or JSON.
func (r exportReport) print(w io.Writer, format, from string) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(r)
	}
	if r.Events == 0 {
		_, err := fmt.Fprintf(w, "no events match: the export holds only the checkpoint of tree size %d\n", r.TreeSize)
		return err
	}
	_, err := fmt.Fprintf(w, "exported %s %swith proofs against the checkpoint of tree size %d\n", count(r.Events, "event"), from, r.TreeSize)
	return err
}

// export writes the header line and an entry line for every match below
// the latest checkpoint's size, counting each on p, and reports how many.
func export(ctx context.Context, c *client.Client, v *client.Verifier, f *agenttrailv1.Filter, out io.Writer, p *progress) (exportReport, error) {
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return exportReport{}, err
	}
	head, err := v.Checkpoint(cp)
	if err != nil {
		return exportReport{}, fmt.Errorf("the latest checkpoint does not verify: %w", err)
	}
	rep := exportReport{TreeSize: head.Size, Origin: head.Origin, VerifierKey: v.Key()}
	n, err := exportEntries(ctx, c, v, cp, head.Size, f, out, p)
	rep.Events = n
	return rep, err
}

// exportEntries is export once the checkpoint is verified.
func exportEntries(ctx context.Context, c *client.Client, v *client.Verifier, cp *agenttrailv1.Checkpoint, size uint64, f *agenttrailv1.Filter, out io.Writer, p *progress) (int, error) {
	head := struct{ Size uint64 }{size}
	w, err := evidence.NewWriter(out, v.Key(), cp)
	if err != nil {
		return 0, err
	}
	defer w.Flush()
	// Only what the checkpoint covers can be proved against it.
	if f.ToIndex == nil || *f.ToIndex > head.Size {
		size := head.Size
		f.ToIndex = &size
	}
	if *f.ToIndex <= f.GetFromIndex() {
		return 0, w.Flush()
	}
	// One call reads the range with every entry's proof against the
	// checkpoint: one access record, one call against the rate limit. The
	// erasures that erased entries name are fetched with their proofs.
	// Entries are checked and rendered on every core (work) and written in
	// log order (done); ready is the entry done is writing.
	var ready *exportItem
	add := func(e *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) error {
		if ready != nil && ready.e == e {
			if ready.err != nil {
				return ready.err
			}
			return w.AddLine(ready.line)
		}
		if err := checkExported(v, cp, e, proof); err != nil {
			return err
		}
		return w.Add(e, proof)
	}
	fetch := func(i uint64) (*agenttrailv1.Entry, *agenttrailv1.GetInclusionProofResponse, error) {
		e, err := c.GetEventByIndex(ctx, i)
		if err != nil {
			return nil, nil, err
		}
		proof, err := c.InclusionProof(ctx, i, head.Size)
		return e, proof, err
	}
	ex := erasureCarrier{size: head.Size, add: add, fetch: fetch}
	work := func(it *exportItem) {
		if it.err = checkExported(v, cp, it.e, it.proof); it.err == nil {
			it.line, it.err = evidence.AppendLine(nil, it.e, it.proof)
		}
	}
	done := func(it *exportItem) error {
		ready = it
		defer func() { ready = nil }()
		if err := ex.entry(it.e, it.proof); err != nil {
			return err
		}
		p.Add(1)
		return nil
	}
	pl := newPipeline(work, done)
	req := &agenttrailv1.QueryRequest{Filter: f, ProofTreeSize: &head.Size}
	var proof *agenttrailv1.GetInclusionProofResponse
	proved := client.WithInclusionProofs(func(p *agenttrailv1.GetInclusionProofResponse) { proof = p })
	var err2 error
	for e, err := range c.Query(ctx, req, client.WithResume(client.RetryPolicy{Initial: 200 * time.Millisecond, Attempts: 10}), proved) {
		if err != nil {
			err2 = err
			break
		}
		if err2 = pl.add(exportItem{e: e, proof: proof}); err2 != nil {
			break
		}
	}
	// An entry that fails comes before the stream's error, as when
	// checked one by one.
	if err := pl.close(); err != nil {
		return ex.n, err
	}
	if err2 != nil {
		return ex.n, err2
	}
	if err := ex.flush(head.Size); err != nil {
		return ex.n, err
	}
	return ex.n, w.Flush()
}

// exportItem is an entry of an online export on its way through the
// pipeline: its proof, and once checked, its line or what is wrong.
type exportItem struct {
	e     *agenttrailv1.Entry
	proof *agenttrailv1.GetInclusionProofResponse
	line  []byte
	err   error
}

// checkExported verifies an entry as the server sent it before it goes into
// a bundle.
func checkExported(v *client.Verifier, cp *agenttrailv1.Checkpoint, e *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) error {
	if _, err := v.VerifyEntry(e, cp, proof); err != nil {
		return fmt.Errorf("event %d as the server sent it does not verify: %w", e.GetStamp().GetLogIndex(), err)
	}
	return nil
}

// erasureCarrier writes a bundle's entries in log order, with, after each
// erased one, the Erasure or Retention event its view names, at its place
// in log order, so that the bundle proves the content is gone by a logged
// erasure (evidence.Verify demands it).
type erasureCarrier struct {
	size    uint64
	add     func(*agenttrailv1.Entry, *agenttrailv1.GetInclusionProofResponse) error
	fetch   func(index uint64) (*agenttrailv1.Entry, *agenttrailv1.GetInclusionProofResponse, error)
	pending []uint64 // erasures still to write, increasing
	last    int64    // the last index written
	n       int
	started bool
}

// entry writes a matching entry, with its proof, after the pending
// erasures before it.
func (c *erasureCarrier) entry(e *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) error {
	index := e.GetStamp().GetLogIndex()
	if err := c.flush(index); err != nil {
		return err
	}
	if err := c.write(e, proof); err != nil {
		return err
	}
	if by, named, ok := verify.ErasureOf(e); ok && named {
		if by >= c.size {
			return fmt.Errorf("event %d was erased by event %d, which the latest checkpoint does not cover yet: export again in a moment", index, by)
		}
		if k, found := slices.BinarySearch(c.pending, by); !found {
			c.pending = slices.Insert(c.pending, k, by)
		}
	}
	return nil
}

func (c *erasureCarrier) write(e *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) error {
	if err := c.add(e, proof); err != nil {
		return err
	}
	c.last, c.started = int64(e.GetStamp().GetLogIndex()), true
	c.n++
	return nil
}

// flush writes the pending erasures below before.
func (c *erasureCarrier) flush(before uint64) error {
	for len(c.pending) > 0 && c.pending[0] < before {
		by := c.pending[0]
		c.pending = c.pending[1:]
		if c.started && int64(by) <= c.last {
			continue // written already, as a match of the filter
		}
		e, proof, err := c.fetch(by)
		if err != nil {
			return fmt.Errorf("fetching erasure %d: %w", by, err)
		}
		if err := c.write(e, proof); err != nil {
			return err
		}
	}
	return nil
}

// exportStorage writes the bundle of export from storage opened read-only:
// the same lines, in the full view, each verified before it is written.
func exportStorage(ctx context.Context, loc storeLocation, key string, f *agenttrailv1.Filter, out, errOut io.Writer, p *progress) (exportReport, error) {
	var rep exportReport
	n, size, err := exportStored(ctx, loc, key, f, out, errOut, p, &rep)
	rep.Events, rep.TreeSize = n, size
	return rep, err
}

// exportStored is exportStorage, reporting how many events it wrote and
// the checkpoint's size, and the log's origin and key in rep.
func exportStored(ctx context.Context, loc storeLocation, key string, f *agenttrailv1.Filter, out, errOut io.Writer, p *progress, rep *exportReport) (int, uint64, error) {
	storeURL, dir, err := loc.storeURL()
	if err != nil {
		return 0, 0, err
	}
	if key == "" {
		if dir == "" {
			return 0, 0, usageError{"--verifier-key: exporting from --store needs the log's verifier key"}
		}
		if key, err = loc.localVerifierKey(); err != nil {
			return 0, 0, err
		}
		fmt.Fprintln(errOut, "warning: no --verifier-key: checkpoints are checked with the key kept beside the data itself")
	}
	v, err := client.NewVerifier(key)
	if err != nil {
		return 0, 0, usageError{fmt.Sprintf("--verifier-key: %v", err)}
	}
	opts := []store.Option{store.WithReadOnly(key)}
	if mk, err := loc.masterKeyOptions(); err == nil {
		opts = append(opts, mk...)
	}
	st, err := store.Open(ctx, storeURL, opts...)
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	latest := st.LatestCheckpoint()
	if latest.Note == nil {
		return 0, 0, errors.New("the log has no signed checkpoint yet: nothing can be proved")
	}
	cp := &agenttrailv1.Checkpoint{SignedNote: latest.Note, Origin: latest.Origin, TreeSize: latest.Size, RootHash: latest.Root[:]}
	rep.Origin, rep.VerifierKey = latest.Origin, key
	if _, err := v.Checkpoint(cp); err != nil {
		return 0, 0, fmt.Errorf("the latest checkpoint does not verify: %w", err)
	}
	// Only what the checkpoint covers can be proved against it.
	if f.ToIndex == nil || *f.ToIndex > latest.Size {
		size := latest.Size
		f.ToIndex = &size
	}
	w, err := evidence.NewWriter(out, v.Key(), cp)
	if err != nil {
		return 0, 0, err
	}
	defer w.Flush()
	if *f.ToIndex <= f.GetFromIndex() {
		return 0, latest.Size, w.Flush()
	}
	q, err := server.StoreQuery(&agenttrailv1.QueryRequest{Filter: f})
	if err != nil {
		return 0, 0, usageError{err.Error()}
	}
	q.Read = store.HeaderAndContent
	prover, err := st.Prover(latest.Size)
	if err != nil {
		return 0, 0, err
	}
	prove := func(entry *agenttrailv1.Entry) (*agenttrailv1.GetInclusionProofResponse, error) {
		index := entry.GetStamp().GetLogIndex()
		path, err := prover.InclusionProof(ctx, index)
		if err != nil {
			return nil, err
		}
		proof := &agenttrailv1.GetInclusionProofResponse{LogIndex: index, TreeSize: latest.Size, LeafHash: entry.GetCommitment().GetLeafHash()}
		for _, h := range path {
			proof.Hashes = append(proof.Hashes, h[:])
		}
		return proof, nil
	}
	add := func(entry *agenttrailv1.Entry, proof *agenttrailv1.GetInclusionProofResponse) error {
		if _, err := v.VerifyEntry(entry, cp, proof); err != nil {
			return fmt.Errorf("event %d as stored does not verify: %w", entry.GetStamp().GetLogIndex(), err)
		}
		return w.Add(entry, proof)
	}
	fetch := func(i uint64) (*agenttrailv1.Entry, *agenttrailv1.GetInclusionProofResponse, error) {
		e, err := st.Get(ctx, i, store.HeaderAndContent)
		if err != nil {
			return nil, nil, err
		}
		entry, err := server.FullView{}.Render(e)
		if err != nil {
			return nil, nil, err
		}
		proof, err := prove(entry)
		return entry, proof, err
	}
	ex := erasureCarrier{size: latest.Size, add: add, fetch: fetch}
	for e, err := range st.Scan(ctx, q) {
		if err != nil {
			return ex.n, latest.Size, err
		}
		entry, err := server.FullView{}.Render(e)
		if err != nil {
			return ex.n, latest.Size, err
		}
		proof, err := prove(entry)
		if err != nil {
			return ex.n, latest.Size, err
		}
		if err := ex.entry(entry, proof); err != nil {
			return ex.n, latest.Size, err
		}
	}
	if err := ex.flush(latest.Size); err != nil {
		return ex.n, latest.Size, err
	}
	return ex.n, latest.Size, w.Flush()
}
