package main

import (
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// optUint is a uint64 flag that knows whether it was set.
type optUint struct {
	v   uint64
	set bool
}

func (o *optUint) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatUint(o.v, 10)
}

func (o *optUint) Set(s string) error {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a non-negative integer")
	}
	o.v, o.set = v, true
	return nil
}

// ptr returns the value, or nil when the flag was not set.
func (o *optUint) ptr() *uint64 {
	if !o.set {
		return nil
	}
	v := o.v
	return &v
}

// kindsFlag collects event kinds from repeated flags and comma lists, by
// name: llm_call, LLM_CALL or EVENT_KIND_LLM_CALL.
type kindsFlag []agenttrailv1.EventKind

func (k *kindsFlag) String() string {
	if k == nil {
		return ""
	}
	var names []string
	for _, kind := range *k {
		names = append(names, kindName(kind))
	}
	return strings.Join(names, ",")
}

func (k *kindsFlag) Set(s string) error {
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		v, ok := agenttrailv1.EventKind_value["EVENT_KIND_"+strings.TrimPrefix(strings.ToUpper(name), "EVENT_KIND_")]
		if !ok || v == 0 {
			return fmt.Errorf("unknown kind %q: want one of %s", name, strings.Join(kindNames(), ", "))
		}
		*k = append(*k, agenttrailv1.EventKind(v))
	}
	return nil
}

// choices lists the kinds, for shell completion.
func (k *kindsFlag) choices() []string { return kindNames() }

// kindName is the short name of a kind: "llm_call".
func kindName(k agenttrailv1.EventKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "EVENT_KIND_"))
}

func kindNames() []string {
	var nums []int
	for n := range agenttrailv1.EventKind_name {
		if n != 0 {
			nums = append(nums, int(n))
		}
	}
	sort.Ints(nums)
	var names []string
	for _, n := range nums {
		names = append(names, kindName(agenttrailv1.EventKind(n)))
	}
	return names
}

// timeFlag is a point in time given as RFC 3339 ("2026-11-02T09:30:00Z")
// or as a duration ago ("90m", "1h", "7d").
type timeFlag struct {
	t   time.Time
	set bool
	now func() time.Time
}

func (f *timeFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		f.t, f.set = t, true
		return nil
	}
	d, err := parseAgo(s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-11-02T09:30:00Z, or a duration ago such as 90m, 1h or 7d")
	}
	now := time.Now
	if f.now != nil {
		now = f.now
	}
	f.t, f.set = now().Add(-d), true
	return nil
}

// parseAgo parses a positive duration, with "d" for days as well.
func parseAgo(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("bad days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration")
	}
	return d, nil
}

func (f *timeFlag) timestamp() *timestamppb.Timestamp {
	if !f.set {
		return nil
	}
	return timestamppb.New(f.t)
}

// filterFlags are the filter flags of query, tail and export.
type filterFlags struct {
	session, agent, user, tool string
	kinds                      kindsFlag
	since, until               timeFlag
	fromIndex, toIndex         optUint
	errorsOnly                 bool
}

func addFilterFlags(fs *flag.FlagSet) *filterFlags {
	f := &filterFlags{}
	fs.StringVar(&f.session, "session", "", "only events of this session `id`")
	fs.StringVar(&f.agent, "agent", "", "only events of this agent `id`")
	fs.StringVar(&f.user, "user", "", "only events for this pseudonymous user `id`")
	fs.StringVar(&f.tool, "tool", "", "only tool calls of this tool `name`")
	fs.Var(&f.kinds, "kind", "only events of these `kinds`, repeatable or comma-separated:\n"+strings.Join(kindNames(), ", "))
	fs.Var(&f.since, "since", "only events that occurred at or after this `time`: RFC 3339, or a duration ago (90m, 1h, 7d)")
	fs.Var(&f.until, "until", "only events that occurred before this `time`: RFC 3339, or a duration ago")
	fs.Var(&f.fromIndex, "from-index", "only events at or after this log `index`")
	fs.Var(&f.toIndex, "to-index", "only events before this log `index` (exclusive)")
	fs.BoolVar(&f.errorsOnly, "errors-only", false, "only events that record a failure (errors, failed tool and LLM calls, failed sessions)")
	return f
}

// filter returns the Filter the flags describe, or a usage error.
func (f *filterFlags) filter() (*agenttrailv1.Filter, error) {
	if f.since.set && f.until.set && !f.until.t.After(f.since.t) {
		return nil, usageError{"--until must be after --since"}
	}
	if f.fromIndex.set && f.toIndex.set && f.toIndex.v <= f.fromIndex.v {
		return nil, usageError{"--to-index must be greater than --from-index"}
	}
	return &agenttrailv1.Filter{
		SessionId:      f.session,
		AgentId:        f.agent,
		UserId:         f.user,
		Kinds:          f.kinds,
		ToolName:       f.tool,
		OccurredAfter:  f.since.timestamp(),
		OccurredBefore: f.until.timestamp(),
		FromIndex:      f.fromIndex.ptr(),
		ToIndex:        f.toIndex.ptr(),
		ErrorsOnly:     f.errorsOnly,
	}, nil
}

// outputFlag is --output: json or table (or text, where a command has it).
type outputFlag struct {
	v       string
	allowed []string
}

func addOutputFlag(fs *flag.FlagSet, def string, allowed ...string) *outputFlag {
	o := &outputFlag{v: def, allowed: allowed}
	fs.Var(o, "output", "output `format`: "+strings.Join(allowed, " or "))
	return o
}

func (o *outputFlag) String() string {
	if o == nil {
		return ""
	}
	return o.v
}

// choices lists the formats, for shell completion.
func (o *outputFlag) choices() []string { return o.allowed }

func (o *outputFlag) Set(s string) error {
	for _, a := range o.allowed {
		if s == a {
			o.v = s
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(o.allowed, " or "))
}

// noArgs is the usage error of a command that takes no arguments.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", args)}
	}
	return nil
}

// setUsage gives a command's -h a synopsis and a description before its
// flags.
func setUsage(fs *flag.FlagSet, synopsis, description string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
}
