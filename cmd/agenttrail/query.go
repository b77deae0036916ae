package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "query", summary: "print the events that match a filter", setup: queryCommand})
}

func queryCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	filter := addFilterFlags(fs)
	desc := fs.Bool("desc", false, "newest first")
	limit := fs.Uint("limit", 0, "print at most `n` entries (0: no limit)")
	var resumeAfter optUint
	fs.Var(&resumeAfter, "resume-after", "start after this log `index` (before it with --desc): the last index an earlier query printed")
	retry := fs.Bool("retry", true, "when the stream fails with UNAVAILABLE, resume after the last entry printed")
	output := addOutputFlag(fs, "json", "json", "table")
	setUsage(fs, "agenttrail query [flags]", `
Print the entries of the log that match the filter flags, in log order
(newest first with --desc): with --output json (the default) one
agenttrail.v1.Entry per line in protojson (the event in your view, the
server's stamp, and the committed bytes), with --output table a line per
event: index, time, kind, session, agent and a short summary.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		f, err := filter.filter()
		if err != nil {
			return err
		}
		if *limit > 1<<32-1 {
			return usageError{"--limit must be below 2^32"}
		}
		req := &agenttrailv1.QueryRequest{Filter: f, Limit: uint32(*limit), ResumeAfter: resumeAfter.ptr()}
		if *desc {
			req.Order = agenttrailv1.Order_ORDER_DESCENDING
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		var policy *client.RetryPolicy
		if *retry {
			policy = &client.RetryPolicy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Attempts: 10}
		}
		p := newEntryPrinter(out, output.v)
		if err := printQuery(ctx, c, req, policy, p); err != nil {
			return err
		}
		if p.printed == 0 {
			// On stderr, so that stdout stays JSON lines (none) or a table.
			fmt.Fprintln(errOut, "no events match")
		}
		return nil
	}
}

// printQuery prints the entries of a query (or, with req.follow, of a tail
// until ctx ends, flushing each entry as it comes). With retry, the query
// resumes after transient failures as the policy says.
func printQuery(ctx context.Context, c *client.Client, req *agenttrailv1.QueryRequest, retry *client.RetryPolicy, p *entryPrinter) error {
	var opts []client.QueryOption
	if retry != nil {
		opts = append(opts, client.WithResume(*retry))
	}
	n := 0
	for e, err := range c.Query(ctx, req, opts...) {
		if err != nil {
			p.flush()
			if req.GetFollow() && errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil // Ctrl-C ends a tail
			}
			if n > 0 {
				return fmt.Errorf("%w (after %d entries; the last index printed is the --resume-after of the rest)", err, n)
			}
			return err
		}
		n++
		if err := p.print(e); err != nil {
			return err
		}
		if req.GetFollow() {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	return p.flush()
}
