package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "tail", summary: "follow the log: print matching events as they commit", setup: tailCommand})
}

func tailCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	filter := addFilterFlags(fs)
	var resumeAfter optUint
	fs.Var(&resumeAfter, "resume-after", "start after this log `index` (default: print the stored matches first)")
	retry := fs.Bool("retry", true, "when the stream fails with UNAVAILABLE (a server restart), resume after the last entry printed")
	output := addOutputFlag(fs, "json", "json", "table")
	setUsage(fs, "agenttrail tail [flags]", `
Follow the log: print the stored entries that match the filter flags, then
each new matching entry as it commits, until interrupted (Ctrl-C), which
ends with status 0. Output as for query: JSON lines of agenttrail.v1.Entry
or, with --output table, a line per event.`)
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
		req := &agenttrailv1.QueryRequest{Filter: f, Follow: true, ResumeAfter: resumeAfter.ptr()}
		var policy *client.RetryPolicy
		if *retry {
			// A tail waits out a server restart however long it takes.
			policy = &client.RetryPolicy{Initial: 200 * time.Millisecond, Max: 5 * time.Second}
		}
		return printQuery(ctx, c, req, policy, newEntryPrinter(out, output.v))
	}
}
