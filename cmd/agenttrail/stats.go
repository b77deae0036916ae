package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "stats", summary: "print statistics: counts, failures, tokens, cost, latencies", setup: statsCommand})
}

var statsDimensions = map[string]agenttrailv1.StatsDimension{
	"agent": agenttrailv1.StatsDimension_STATS_DIMENSION_AGENT,
	"model": agenttrailv1.StatsDimension_STATS_DIMENSION_MODEL,
	"tool":  agenttrailv1.StatsDimension_STATS_DIMENSION_TOOL,
	"user":  agenttrailv1.StatsDimension_STATS_DIMENSION_USER,
	"kind":  agenttrailv1.StatsDimension_STATS_DIMENSION_KIND,
}

func statsCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	filter := addFilterFlags(fs)
	by := fs.String("by", "", "group rows by these `dimensions`, comma-separated: agent, model, tool, user, kind")
	every := fs.String("every", "", "split time into buckets: hour or day (default: one bucket)")
	day := fs.String("day", "", "only events that occurred on this UTC `date` (2026-11-02): sets --since and --until")
	output := addOutputFlag(fs, "table", "table", "json")
	setUsage(fs, "agenttrail stats [flags]", `
Print statistics of the events that match the filter flags, computed from
metadata only (every reading role may ask): per group and time bucket, the
events, failures and error rate, tokens in and out, cost, and the p50, p95
and p99 of LLM call latencies and tool call durations. Whole hours or days
(--day, or --since and --until on the hour) by agent, user, kind and tool
are answered from aggregates the server keeps as the log grows; other
filters read the matching events' headers, which takes longer. With
--output json, one agenttrail.v1.StatsRow per line.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if *day != "" {
			if filter.since.set || filter.until.set {
				return usageError{"--day goes without --since and --until"}
			}
			d, err := time.Parse("2006-01-02", *day)
			if err != nil {
				return usageError{fmt.Sprintf("--day %q: want a date such as 2026-11-02", *day)}
			}
			filter.since = timeFlag{t: d, set: true}
			filter.until = timeFlag{t: d.Add(24 * time.Hour), set: true}
		}
		f, err := filter.filter()
		if err != nil {
			return err
		}
		req := &agenttrailv1.StatsRequest{Filter: f}
		for _, name := range strings.Split(*by, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			d, ok := statsDimensions[name]
			if !ok {
				return usageError{fmt.Sprintf("--by %q: want agent, model, tool, user or kind", name)}
			}
			req.GroupBy = append(req.GroupBy, d)
		}
		switch *every {
		case "":
		case "hour":
			req.Interval = agenttrailv1.StatsInterval_STATS_INTERVAL_HOUR
		case "day":
			req.Interval = agenttrailv1.StatsInterval_STATS_INTERVAL_DAY
		default:
			return usageError{fmt.Sprintf("--every %q: want hour or day", *every)}
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		start := time.Now()
		resp, err := agenttrailv1.NewStatsServiceClient(c.Conn()).Stats(ctx, req)
		if err != nil {
			return err
		}
		took := time.Since(start)
		if output.v == "json" {
			for _, r := range resp.GetRows() {
				b, err := protojson.Marshal(r)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			}
			return nil
		}
		printStatsTable(out, req, resp)
		source := "the aggregates"
		if !resp.GetFromAggregates() {
			source = "the events' headers (a filter the aggregates cannot answer)"
		}
		fmt.Fprintf(errOut, "%d rows from %s in %v\n", len(resp.GetRows()), source, took.Round(time.Millisecond))
		return nil
	}
}

// printStatsTable prints one line per row: the bucket and group, then the
// figures.
func printStatsTable(out io.Writer, req *agenttrailv1.StatsRequest, resp *agenttrailv1.StatsResponse) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	var head []string
	if req.GetInterval() != agenttrailv1.StatsInterval_STATS_INTERVAL_UNSPECIFIED {
		head = append(head, "BUCKET")
	}
	for _, d := range req.GetGroupBy() {
		head = append(head, strings.ToUpper(strings.TrimPrefix(d.String(), "STATS_DIMENSION_")))
	}
	head = append(head, "EVENTS", "FAILED", "ERROR%", "TOKENS_IN", "TOKENS_OUT", "COST", "LLM", "LLM_P50", "LLM_P95", "LLM_P99", "TOOLS", "TOOL_P50", "TOOL_P95", "TOOL_P99")
	fmt.Fprintln(w, strings.Join(head, "\t"))
	for _, r := range resp.GetRows() {
		var cols []string
		if req.GetInterval() != agenttrailv1.StatsInterval_STATS_INTERVAL_UNSPECIFIED {
			layout := "2006-01-02T15Z"
			if req.GetInterval() == agenttrailv1.StatsInterval_STATS_INTERVAL_DAY {
				layout = "2006-01-02"
			}
			cols = append(cols, bucketName(r.GetBucketStart(), layout))
		}
		for _, d := range req.GetGroupBy() {
			v := map[agenttrailv1.StatsDimension]string{
				agenttrailv1.StatsDimension_STATS_DIMENSION_AGENT: r.GetAgentId(),
				agenttrailv1.StatsDimension_STATS_DIMENSION_MODEL: r.GetModel(),
				agenttrailv1.StatsDimension_STATS_DIMENSION_TOOL:  r.GetToolName(),
				agenttrailv1.StatsDimension_STATS_DIMENSION_USER:  r.GetUserId(),
				agenttrailv1.StatsDimension_STATS_DIMENSION_KIND:  kindName(r.GetKind()),
			}[d]
			if v == "" {
				v = "-"
			}
			cols = append(cols, v)
		}
		var costs []string
		for _, c := range r.GetCost() {
			costs = append(costs, fmt.Sprintf("%.4f %s", float64(c.GetMicros())/1e6, c.GetCurrencyCode()))
		}
		slices.Sort(costs)
		cost := strings.Join(costs, " + ")
		if cost == "" {
			cost = "-"
		}
		cols = append(cols, fmt.Sprint(r.GetEvents()), fmt.Sprint(r.GetFailures()), fmt.Sprintf("%.1f", 100*r.GetErrorRate()),
			fmt.Sprint(r.GetInputTokens()), fmt.Sprint(r.GetOutputTokens()), cost)
		cols = append(cols, fmt.Sprint(r.GetLlmCalls()))
		cols = append(cols, durations(r.GetLlmLatency())...)
		cols = append(cols, fmt.Sprint(r.GetToolCalls()))
		cols = append(cols, durations(r.GetToolDuration())...)
		fmt.Fprintln(w, strings.Join(cols, "\t"))
	}
	w.Flush()
}

func bucketName(t *timestamppb.Timestamp, layout string) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(layout)
}

// durations formats p50, p95 and p99, or dashes when there are none.
func durations(p *agenttrailv1.DurationPercentiles) []string {
	if p == nil {
		return []string{"-", "-", "-"}
	}
	f := func(d time.Duration) string {
		switch {
		case d >= time.Second:
			return d.Round(10 * time.Millisecond).String()
		case d >= time.Millisecond:
			return d.Round(100 * time.Microsecond).String()
		}
		return d.String()
	}
	return []string{f(p.GetP50().AsDuration()), f(p.GetP95().AsDuration()), f(p.GetP99().AsDuration())}
}
