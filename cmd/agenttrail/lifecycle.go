package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "erase", summary: "erase a data subject's, a session's or listed events' content (crypto-shredding)", setup: eraseCommand})
	register(command{name: "hold", summary: "place, release and list legal holds", setup: holdCommand})
	register(command{name: "retention", summary: "show, set and apply the retention policies", setup: retentionCommand})
}

// lifecycleClient dials the server's LifecycleService with the connection
// flags.
func lifecycleClient(conn *connFlags) (agenttrailv1.LifecycleServiceClient, func(), error) {
	if conn.key == "" {
		return nil, nil, usageError{"--key (or AGENTTRAIL_KEY): a compliance or admin API key is needed"}
	}
	c, err := conn.dial()
	if err != nil {
		return nil, nil, err
	}
	return agenttrailv1.NewLifecycleServiceClient(c.Conn()), func() { c.Close() }, nil
}

// parseAction takes the action that comes first ("hold place --user ..."),
// parsing the flags that follow it.
func parseAction(fs *flag.FlagSet, args []string, actions ...string) (string, error) {
	if len(args) > 1 {
		if err := fs.Parse(args[1:]); err != nil {
			return "", usageError{err.Error()}
		}
		if len(fs.Args()) > 0 {
			return "", usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
		}
	}
	if len(args) == 0 {
		return "", usageError{"want an action: " + strings.Join(actions, ", ")}
	}
	for _, a := range actions {
		if args[0] == a {
			return a, nil
		}
	}
	return "", usageError{fmt.Sprintf("unknown action %q: want %s", args[0], strings.Join(actions, ", "))}
}

func eraseCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	user := fs.String("user", "", "erase every event of this pseudonymous subject (user_id), and the events\nwithout a user_id of the subject's sessions")
	session := fs.String("session", "", "erase every event of this session")
	var ids idListFlag
	fs.Var(&ids, "event", "erase this event `id` (repeat, or separate with commas)")
	reason := fs.String("reason", "", "why: required, such as the data subject request's reference")
	setUsage(fs, "agenttrail erase (--user ID | --session ID | --event ID...) --reason TEXT [flags]", `
Erase content by crypto-shredding: the server first writes one Erasure event
naming every log index affected, then destroys the keys that decrypt their
content, for good. Headers and digests stay, so every entry still verifies;
every view then shows the entries as erased, with the index of the Erasure
event. Needs a compliance or admin key. Erasing again is harmless: it
reports the erasure that did it. An erasure that would erase content under a
legal hold is refused and names the hold.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		req := &agenttrailv1.EraseRequest{Reason: *reason}
		n := 0
		if *user != "" {
			req.Target, n = &agenttrailv1.EraseRequest_UserId{UserId: *user}, n+1
		}
		if *session != "" {
			req.Target, n = &agenttrailv1.EraseRequest_SessionId{SessionId: *session}, n+1
		}
		if len(ids) > 0 {
			req.Target, n = &agenttrailv1.EraseRequest_EventIds{EventIds: &agenttrailv1.EventIdList{EventIds: ids}}, n+1
		}
		if n != 1 {
			return usageError{"give exactly one of --user, --session and --event"}
		}
		if strings.TrimSpace(*reason) == "" {
			return usageError{"--reason is required, such as the data subject request's reference"}
		}
		lc, done, err := lifecycleClient(conn)
		if err != nil {
			return err
		}
		defer done()
		resp, err := lc.Erase(ctx, req)
		if err != nil {
			return err
		}
		switch {
		case resp.ErasureIndex == nil:
			fmt.Fprintln(out, "nothing to erase: no event matches")
		case resp.GetAlreadyErased():
			fmt.Fprintf(out, "already erased: %s, by the erasure at log index %d\n", count(int(resp.GetCount()), "event"), resp.GetErasureIndex())
		default:
			fmt.Fprintf(out, "erased the content of %s; the Erasure event is at log index %d\n", count(int(resp.GetCount()), "event"), resp.GetErasureIndex())
		}
		return nil
	}
}

// idListFlag collects ids from repeated flags and comma lists.
type idListFlag []string

func (s *idListFlag) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(*s, ",")
}

func (s *idListFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*s = append(*s, x)
		}
	}
	return nil
}

func holdCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	user := fs.String("user", "", "place: hold the events of this pseudonymous subject (user_id)")
	session := fs.String("session", "", "place: hold the events of this session")
	agent := fs.String("agent", "", "place: hold the events of this agent")
	id := fs.String("id", "", "release: the hold's `id`, such as hold-3")
	reason := fs.String("reason", "", "place, release: why (required), such as a case reference")
	output := addOutputFlag(fs, "table", "table", "json")
	setUsage(fs, "agenttrail hold place|release|list [flags]", `
Legal holds keep content from both retention and erasure: while a hold is in
force, the content of the events it covers (a subject's, a session's or an
agent's) never expires, and an erasure that meets it is refused, naming it.
Placing and releasing a hold are events of the trail. Placing and releasing
need an admin key; listing, a compliance or admin key.`)
	return func(ctx context.Context, args []string) error {
		action, err := parseAction(fs, args, "place", "release", "list")
		if err != nil {
			return err
		}
		switch action {
		case "place":
			req := &agenttrailv1.PlaceHoldRequest{Reason: *reason}
			n := 0
			if *user != "" {
				req.Scope, n = &agenttrailv1.PlaceHoldRequest_UserId{UserId: *user}, n+1
			}
			if *session != "" {
				req.Scope, n = &agenttrailv1.PlaceHoldRequest_SessionId{SessionId: *session}, n+1
			}
			if *agent != "" {
				req.Scope, n = &agenttrailv1.PlaceHoldRequest_AgentId{AgentId: *agent}, n+1
			}
			if n != 1 {
				return usageError{"place: give exactly one of --user, --session and --agent"}
			}
			if strings.TrimSpace(*reason) == "" {
				return usageError{"place: --reason is required"}
			}
			lc, done, err := lifecycleClient(conn)
			if err != nil {
				return err
			}
			defer done()
			resp, err := lc.PlaceHold(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "placed %s on %s (log index %d)\n", resp.GetHold().GetHoldId(), holdScope(resp.GetHold()), resp.GetHold().GetLogIndex())
		case "release":
			if *id == "" || strings.TrimSpace(*reason) == "" {
				return usageError{"release: --id and --reason are required"}
			}
			lc, done, err := lifecycleClient(conn)
			if err != nil {
				return err
			}
			defer done()
			resp, err := lc.ReleaseHold(ctx, &agenttrailv1.ReleaseHoldRequest{HoldId: *id, Reason: *reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "released %s on %s (log index %d)\n", resp.GetHold().GetHoldId(), holdScope(resp.GetHold()), resp.GetLogIndex())
		case "list":
			lc, done, err := lifecycleClient(conn)
			if err != nil {
				return err
			}
			defer done()
			resp, err := lc.ListHolds(ctx, &agenttrailv1.ListHoldsRequest{})
			if err != nil {
				return err
			}
			if output.v == "json" {
				enc := json.NewEncoder(out)
				for _, h := range resp.GetHolds() {
					if err := enc.Encode(holdJSON{h.GetHoldId(), h.GetUserId(), h.GetSessionId(), h.GetAgentId(), h.GetPlacedBy(),
						h.GetPlacedAt().AsTime().Format(time.RFC3339), h.GetLogIndex(), h.GetReason()}); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "HOLD\tSCOPE\tPLACED BY\tPLACED AT\tINDEX\tREASON")
			for _, h := range resp.GetHolds() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", h.GetHoldId(), holdScope(h), h.GetPlacedBy(), h.GetPlacedAt().AsTime().Format(time.RFC3339), h.GetLogIndex(), oneLine(h.GetReason()))
			}
			return tw.Flush()
		}
		return nil
	}
}

type holdJSON struct {
	ID        string `json:"hold_id"`
	UserID    string `json:"user_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	AgentID   string `json:"agent_id,omitempty"`
	PlacedBy  string `json:"placed_by"`
	PlacedAt  string `json:"placed_at"`
	LogIndex  uint64 `json:"log_index"`
	Reason    string `json:"reason"`
}

func holdScope(h *agenttrailv1.Hold) string {
	switch {
	case h.GetUserId() != "":
		return "user " + h.GetUserId()
	case h.GetSessionId() != "":
		return "session " + h.GetSessionId()
	}
	return "agent " + h.GetAgentId()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// policyJSON is a retention policy as retention files and --output json
// write it.
type policyJSON struct {
	Name       string   `json:"name"`
	AgentID    string   `json:"agent_id,omitempty"`
	Kinds      []string `json:"kinds,omitempty"`
	LabelKey   string   `json:"label_key,omitempty"`
	LabelValue string   `json:"label_value,omitempty"`
	KeepFor    string   `json:"keep_for"`
}

// policiesFile is a retention policy file.
type policiesFile struct {
	Version  uint64       `json:"version,omitempty"`
	Policies []policyJSON `json:"policies"`
}

// parseKeep reads a retention duration: a Go duration (2160h) or days (90d).
func parseKeep(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("keep_for %q: want days such as 90d, or a duration such as 2160h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("keep_for %q: want days such as 90d, or a duration such as 2160h", s)
	}
	return d, nil
}

func formatKeep(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func (p policyJSON) message() (*agenttrailv1.RetentionPolicy, error) {
	keep, err := parseKeep(p.KeepFor)
	if err != nil {
		return nil, err
	}
	m := &agenttrailv1.RetentionPolicy{Name: p.Name, AgentId: p.AgentID, LabelKey: p.LabelKey, LabelValue: p.LabelValue, KeepFor: durationpb.New(keep)}
	var kinds kindsFlag
	for _, k := range p.Kinds {
		if err := kinds.Set(k); err != nil {
			return nil, err
		}
	}
	m.Kinds = kinds
	return m, nil
}

func policyFromMessage(m *agenttrailv1.RetentionPolicy) policyJSON {
	p := policyJSON{Name: m.GetName(), AgentID: m.GetAgentId(), LabelKey: m.GetLabelKey(), LabelValue: m.GetLabelValue(), KeepFor: formatKeep(m.GetKeepFor().AsDuration())}
	for _, k := range m.GetKinds() {
		p.Kinds = append(p.Kinds, kindName(k))
	}
	return p
}

func retentionCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	file := fs.String("file", "", "set: a JSON `file` of the whole policy set: {\"policies\":[{\"name\":...,\"agent_id\":...,\n\"kinds\":[\"llm_call\"],\"label_key\":...,\"label_value\":...,\"keep_for\":\"90d\"}]}")
	name := fs.String("name", "", "set, remove: the policy's `name`; set with --keep adds or replaces that one policy")
	agent := fs.String("agent", "", "set: only events of this agent")
	var kinds kindsFlag
	fs.Var(&kinds, "kind", "set: only events of these kinds (repeat, or separate with commas)")
	label := fs.String("label", "", "set: only events with this label, as key or key=value")
	keep := fs.String("keep", "", "set: how long content is kept after the event was received: 90d, 2160h (at least 1d)")
	var ifVersion optUint
	fs.Var(&ifVersion, "if-version", "set, remove: change the policies only if this `version` is in force")
	output := addOutputFlag(fs, "table", "table", "json")
	setUsage(fs, "agenttrail retention show|set|remove|apply [flags]", `
Retention policies keep the content of matching events (by agent, kind and
label) for a duration after they were received; then the server destroys it
(crypto-shredding), at least hourly, writing one Retention event per policy
that expired something. Headers are kept forever: the metadata is the audit
record. Content under a legal hold never expires; where several policies
match an event, the one that keeps it longest applies. Policies are
versioned, and every change is an event of the trail.

  show                         print the policies in force
  set --file policies.json     replace the whole set
  set --name N --keep 90d ...  add or replace one policy
  remove --name N              remove one policy
  apply                        run the retention job now

set, remove and apply need an admin key; show, a compliance or admin key.`)
	return func(ctx context.Context, args []string) error {
		action, err := parseAction(fs, args, "show", "set", "remove", "apply")
		if err != nil {
			return err
		}
		var policies []*agenttrailv1.RetentionPolicy
		switch action {
		case "set":
			switch {
			case *file != "" && *name != "":
				return usageError{"set: give --file (the whole set) or --name with --keep (one policy), not both"}
			case *file != "":
				b, err := os.ReadFile(*file)
				if err != nil {
					return err
				}
				var f policiesFile
				dec := json.NewDecoder(strings.NewReader(string(b)))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&f); err != nil {
					return usageError{fmt.Sprintf("--file %s: not a policy file: %v", *file, err)}
				}
				for i, p := range f.Policies {
					m, err := p.message()
					if err != nil {
						return usageError{fmt.Sprintf("--file %s: policies[%d]: %v", *file, i, err)}
					}
					policies = append(policies, m)
				}
			case *name != "" && *keep != "":
				p := policyJSON{Name: *name, AgentID: *agent, KeepFor: *keep}
				p.LabelKey, p.LabelValue, _ = strings.Cut(*label, "=")
				m, err := p.message()
				if err != nil {
					return usageError{err.Error()}
				}
				m.Kinds = kinds
				policies = []*agenttrailv1.RetentionPolicy{m}
			default:
				return usageError{"set: give --file, or --name and --keep"}
			}
		case "remove":
			if *name == "" {
				return usageError{"remove: --name is required"}
			}
		}
		lc, done, err := lifecycleClient(conn)
		if err != nil {
			return err
		}
		defer done()
		switch action {
		case "show":
			resp, err := lc.GetRetention(ctx, &agenttrailv1.GetRetentionRequest{})
			if err != nil {
				return err
			}
			return printPolicies(out, output.v, resp)
		case "apply":
			resp, err := lc.ApplyRetention(ctx, &agenttrailv1.ApplyRetentionRequest{})
			if err != nil {
				return err
			}
			if len(resp.GetRuns()) == 0 {
				fmt.Fprintln(out, "nothing expired")
			}
			for _, r := range resp.GetRuns() {
				fmt.Fprintf(out, "policy %s expired the content of %s received before %s (Retention event at log index %d)\n",
					r.GetPolicy(), count(int(r.GetCount()), "event"), r.GetCutoff().AsTime().Format(time.RFC3339), r.GetLogIndex())
			}
			return nil
		}
		// set (one policy) and remove change the set in force.
		if *file == "" {
			cur, err := lc.GetRetention(ctx, &agenttrailv1.GetRetentionRequest{})
			if err != nil {
				return err
			}
			if ifVersion.set && ifVersion.v != cur.GetVersion() {
				return fmt.Errorf("the policies are at version %d, not %d", cur.GetVersion(), ifVersion.v)
			}
			v := cur.GetVersion()
			ifVersion = optUint{v: v, set: true}
			var next []*agenttrailv1.RetentionPolicy
			found := false
			for _, p := range cur.GetPolicies() {
				if p.GetName() == *name {
					found = true
					continue
				}
				next = append(next, p)
			}
			if action == "remove" && !found {
				return fmt.Errorf("no policy named %q is in force", *name)
			}
			policies = append(next, policies...)
		}
		resp, err := lc.SetRetention(ctx, &agenttrailv1.SetRetentionRequest{Policies: policies, IfVersion: ifVersion.ptr()})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "retention policies version %d in force: %s (log index %d)\n", resp.GetVersion(), policyCount(len(policies)), resp.GetLogIndex())
		return nil
	}
}

func printPolicies(out io.Writer, output string, resp *agenttrailv1.GetRetentionResponse) error {
	if output == "json" {
		f := policiesFile{Version: resp.GetVersion(), Policies: []policyJSON{}}
		for _, p := range resp.GetPolicies() {
			f.Policies = append(f.Policies, policyFromMessage(p))
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	if resp.GetVersion() == 0 {
		fmt.Fprintln(out, "no retention policies: content is kept until erased")
		return nil
	}
	fmt.Fprintf(out, "version %d (log index %d)\n", resp.GetVersion(), resp.GetLogIndex())
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAGENT\tKINDS\tLABEL\tKEEP")
	for _, m := range resp.GetPolicies() {
		p := policyFromMessage(m)
		lbl := p.LabelKey
		if p.LabelValue != "" {
			lbl += "=" + p.LabelValue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, orDash(p.AgentID), orDash(strings.Join(p.Kinds, ",")), orDash(lbl), p.KeepFor)
	}
	return tw.Flush()
}

func policyCount(n int) string {
	if n == 1 {
		return "1 policy"
	}
	return strconv.Itoa(n) + " policies"
}
