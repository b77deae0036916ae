package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// jsonOptions print messages as protojson on one line, with the field
// names of the .proto files (event_id, log_index, ...).
var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// marshalLine is a message as one line of JSON, without the newline.
func marshalLine(m proto.Message) ([]byte, error) {
	return jsonOptions.Marshal(m)
}

// entryPrinter writes entries as JSON lines or as a table.
type entryPrinter struct {
	w      *bufio.Writer
	table  bool
	header bool
}

func newEntryPrinter(w io.Writer, format string) *entryPrinter {
	return &entryPrinter{w: bufio.NewWriter(w), table: format == "table"}
}

// print writes one entry.
func (p *entryPrinter) print(e *agenttrailv1.Entry) error {
	if !p.table {
		b, err := marshalLine(e)
		if err != nil {
			return err
		}
		p.w.Write(b)
		return p.w.WriteByte('\n')
	}
	if !p.header {
		p.header = true
		fmt.Fprintf(p.w, "%-7s %-20s %-14s %-36s %-16s %s\n", "INDEX", "TIME", "KIND", "SESSION", "AGENT", "SUMMARY")
	}
	ev := e.GetEvent()
	at := "-"
	if ev.GetOccurredAt() != nil {
		at = ev.GetOccurredAt().AsTime().UTC().Format(time.RFC3339)
	}
	sum := summary(ev)
	if e.GetView().GetContent() == agenttrailv1.ContentState_CONTENT_STATE_ERASED {
		sum = erasedNote(e.GetView()) + " " + sum
	}
	_, err := fmt.Fprintf(p.w, "%-7d %-20s %-14s %-36s %-16s %s\n", e.GetStamp().GetLogIndex(), at,
		kindName(event.KindOf(ev)), orNone(ev.GetSessionId()), orNone(ev.GetAgentId()), strings.TrimSpace(sum))
	return err
}

// flush writes out what is buffered.
func (p *entryPrinter) flush() error { return p.w.Flush() }

// count says how many of something, in the singular for one: "1 event",
// "2 events".
func count[N int | uint64](n N, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// orNone is s, or "-" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// erasedNote marks an erased entry: "[erased by 42]".
func erasedNote(v *agenttrailv1.View) string {
	if v.ErasedBy != nil {
		return fmt.Sprintf("[erased by %d]", v.GetErasedBy())
	}
	return "[erased]"
}

// short is an enum value's name without its type prefix, in lower case:
// TOOL_OUTCOME_SUCCESS is "success".
func short(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// summary says in a few words what an event records, from its metadata
// (and the lengths of content in the view given, never the content).
func summary(ev *agenttrailv1.Event) string {
	var parts []string
	add := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_SessionStart:
		if c := p.SessionStart.GetSourceChannel(); c != "" {
			add("channel=%s", c)
		}
		if n := len(p.SessionStart.GetToolsAvailable()); n > 0 {
			add("tools=%d", n)
		}
	case *agenttrailv1.Event_LlmCall:
		c := p.LlmCall
		model := c.GetResponseModel()
		if model == "" {
			model = c.GetRequestModel()
		}
		if model != "" {
			add("%s", model)
		}
		add("tokens=%d/%d", c.GetInputTokens(), c.GetOutputTokens())
		if len(c.GetFinishReasons()) > 0 {
			add("finish=%s", strings.Join(c.GetFinishReasons(), ","))
		}
		if c.GetLatency() != nil {
			add("%s", c.GetLatency().AsDuration().Round(time.Millisecond))
		}
		if c.GetCost() != nil {
			add("cost=%s", cost(c.GetCost()))
		}
		if c.GetErrorType() != "" {
			add("error=%s", c.GetErrorType())
		}
	case *agenttrailv1.Event_ToolCall:
		c := p.ToolCall
		add("%s", orNone(c.GetToolName()))
		if c.GetOutcome() != agenttrailv1.ToolOutcome_TOOL_OUTCOME_UNSPECIFIED {
			add("%s", short(c.GetOutcome().String(), "TOOL_OUTCOME_"))
		}
		if c.GetDuration() != nil {
			add("%s", c.GetDuration().AsDuration().Round(time.Millisecond))
		}
		if c.GetErrorType() != "" {
			add("error=%s", c.GetErrorType())
		}
	case *agenttrailv1.Event_Reasoning:
		if n := len(p.Reasoning.GetPlanSteps()); n > 0 {
			add("plan of %d steps", n)
		}
		if p.Reasoning.Confidence != nil {
			add("confidence=%.2f", p.Reasoning.GetConfidence())
		}
	case *agenttrailv1.Event_HumanApproval:
		a := p.HumanApproval
		add("%s %s", short(a.GetKind().String(), "HUMAN_ACTION_KIND_"), short(a.GetDecision().String(), "APPROVAL_DECISION_"))
		if a.GetGatedEventId() != "" {
			add("gates=%s", a.GetGatedEventId())
		}
	case *agenttrailv1.Event_Error:
		add("%s", orNone(p.Error.GetErrorType()))
		if p.Error.GetRetryable() {
			add("retryable")
		}
	case *agenttrailv1.Event_Output:
		if p.Output.GetFinal() {
			add("final")
		}
		if p.Output.GetMediaType() != "" {
			add("%s", p.Output.GetMediaType())
		}
	case *agenttrailv1.Event_SessionEnd:
		e := p.SessionEnd
		add("%s", short(e.GetReason().String(), "END_REASON_"))
		for _, c := range []struct {
			name string
			n    int64
		}{{"steps", int64(e.GetStepCount())}, {"llm", int64(e.GetLlmCallCount())}, {"tools", int64(e.GetToolCallCount())}, {"errors", int64(e.GetErrorCount())}} {
			if c.n != 0 {
				add("%s=%d", c.name, c.n)
			}
		}
		if e.GetInputTokens() != 0 || e.GetOutputTokens() != 0 {
			add("tokens=%d/%d", e.GetInputTokens(), e.GetOutputTokens())
		}
		if e.GetCost() != nil {
			add("cost=%s", cost(e.GetCost()))
		}
	case *agenttrailv1.Event_Access:
		a := p.Access
		add("%s as %s: %s, %d events", a.GetPrincipal(), orNone(a.GetRole()), a.GetRpc(), a.GetEventsReturned())
	case *agenttrailv1.Event_Erasure:
		n := p.Erasure.GetEventsAffected()
		if n == 0 {
			n = uint64(len(p.Erasure.GetLogIndexes()))
		}
		target := "events"
		switch {
		case p.Erasure.GetUserId() != "":
			target = "user " + p.Erasure.GetUserId()
		case p.Erasure.GetSessionId() != "":
			target = "session " + p.Erasure.GetSessionId()
		}
		add("%s by %s: %d events", target, p.Erasure.GetPrincipal(), n)
	case *agenttrailv1.Event_LegalHold:
		h := p.LegalHold
		add("%s %s by %s", h.GetHoldId(), short(h.GetAction().String(), "HOLD_ACTION_"), h.GetPrincipal())
	case *agenttrailv1.Event_RetentionPolicy:
		add("version %d: %d policies by %s", p.RetentionPolicy.GetVersion(), len(p.RetentionPolicy.GetPolicies()), p.RetentionPolicy.GetPrincipal())
	case *agenttrailv1.Event_Retention:
		add("policy %s: %d events", p.Retention.GetPolicy(), p.Retention.GetEventsAffected())
	case *agenttrailv1.Event_KeyChange:
		k := p.KeyChange
		add("%s key %s of %s (%s) by %s", short(k.GetAction().String(), "KEY_CHANGE_ACTION_"), k.GetKeyId(), k.GetKeyPrincipal(), k.GetKeyRole(), k.GetChangedBy())
	}
	return strings.Join(parts, " ")
}

// cost prints micro-units as a decimal amount: 1500 USD micros is
// "0.0015 USD". Stored costs are never negative.
func cost(c *agenttrailv1.Cost) string {
	s := fmt.Sprintf("%d.%06d", c.GetMicros()/1_000_000, c.GetMicros()%1_000_000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return strings.TrimSpace(s + " " + c.GetCurrencyCode())
}
