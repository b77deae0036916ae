package main

import (
	"context"
	"flag"
	"io"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "get", summary: "print one event, by id or by log index", setup: getCommand})
}

func getCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	id := fs.String("id", "", "the event `id` to get")
	var index optUint
	fs.Var(&index, "index", "the log `index` to get")
	output := addOutputFlag(fs, "json", "json", "table")
	setUsage(fs, "agenttrail get (--id ID | --index N) [flags]", `
Print one entry of the log, named by its event id or its log index: with
--output json (the default) the agenttrail.v1.Entry in protojson on one
line, with --output table a line as query prints it.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if (*id == "") == !index.set {
			return usageError{"give exactly one of --id and --index"}
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		var e *agenttrailv1.Entry
		if *id != "" {
			e, err = c.GetEvent(ctx, *id)
		} else {
			e, err = c.GetEventByIndex(ctx, index.v)
		}
		if err != nil {
			return err
		}
		p := newEntryPrinter(out, output.v)
		if err := p.print(e); err != nil {
			return err
		}
		return p.flush()
	}
}
