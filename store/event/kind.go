package event

import (
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// KindOf returns the kind of payload an event carries, or
// EVENT_KIND_UNSPECIFIED when it carries none. (A type switch: it runs
// several times for every event appended, where reflection cost a few
// percent of the server's CPU. A test holds it to the payload oneof.)
func KindOf(ev *agenttrailv1.Event) agenttrailv1.EventKind {
	var k agenttrailv1.EventKind
	set := false
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_SessionStart:
		k, set = agenttrailv1.EventKind_EVENT_KIND_SESSION_START, p != nil
	case *agenttrailv1.Event_LlmCall:
		k, set = agenttrailv1.EventKind_EVENT_KIND_LLM_CALL, p != nil
	case *agenttrailv1.Event_ToolCall:
		k, set = agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL, p != nil
	case *agenttrailv1.Event_Reasoning:
		k, set = agenttrailv1.EventKind_EVENT_KIND_REASONING, p != nil
	case *agenttrailv1.Event_HumanApproval:
		k, set = agenttrailv1.EventKind_EVENT_KIND_HUMAN_APPROVAL, p != nil
	case *agenttrailv1.Event_Error:
		k, set = agenttrailv1.EventKind_EVENT_KIND_ERROR, p != nil
	case *agenttrailv1.Event_Output:
		k, set = agenttrailv1.EventKind_EVENT_KIND_OUTPUT, p != nil
	case *agenttrailv1.Event_SessionEnd:
		k, set = agenttrailv1.EventKind_EVENT_KIND_SESSION_END, p != nil
	case *agenttrailv1.Event_Access:
		k, set = agenttrailv1.EventKind_EVENT_KIND_ACCESS, p != nil
	case *agenttrailv1.Event_Erasure:
		k, set = agenttrailv1.EventKind_EVENT_KIND_ERASURE, p != nil
	case *agenttrailv1.Event_Retention:
		k, set = agenttrailv1.EventKind_EVENT_KIND_RETENTION, p != nil
	case *agenttrailv1.Event_KeyChange:
		k, set = agenttrailv1.EventKind_EVENT_KIND_KEY_CHANGE, p != nil
	case *agenttrailv1.Event_LegalHold:
		k, set = agenttrailv1.EventKind_EVENT_KIND_LEGAL_HOLD, p != nil
	case *agenttrailv1.Event_RetentionPolicy:
		k, set = agenttrailv1.EventKind_EVENT_KIND_RETENTION_POLICY, p != nil
	}
	if !set {
		return agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED
	}
	return k
}

// IsServerKind reports whether only the server may write events of a kind
// (access, erasure, retention, key change, legal hold and retention policy
// events).
func IsServerKind(k agenttrailv1.EventKind) bool {
	switch k {
	case agenttrailv1.EventKind_EVENT_KIND_ACCESS,
		agenttrailv1.EventKind_EVENT_KIND_ERASURE,
		agenttrailv1.EventKind_EVENT_KIND_RETENTION,
		agenttrailv1.EventKind_EVENT_KIND_KEY_CHANGE,
		agenttrailv1.EventKind_EVENT_KIND_LEGAL_HOLD,
		agenttrailv1.EventKind_EVENT_KIND_RETENTION_POLICY:
		return true
	}
	return false
}

// IsLifecycleKind reports whether events of a kind record the lifecycle of
// content (erasure, retention, legal hold and retention policy events):
// their own content is never expired or erased, so that the trail always
// says what was destroyed, when and why.
func IsLifecycleKind(k agenttrailv1.EventKind) bool {
	switch k {
	case agenttrailv1.EventKind_EVENT_KIND_ERASURE,
		agenttrailv1.EventKind_EVENT_KIND_RETENTION,
		agenttrailv1.EventKind_EVENT_KIND_LEGAL_HOLD,
		agenttrailv1.EventKind_EVENT_KIND_RETENTION_POLICY:
		return true
	}
	return false
}

// IsFailure reports whether an event records a failure, as Filter.errors_only
// defines it: an AgentError, a tool call whose outcome is not success, an LLM
// call with an error type, or a session that ended failed or timed out. It
// reads only header fields, so it gives the same answer for an event and for
// its header.
func IsFailure(ev *agenttrailv1.Event) bool {
	switch p := ev.GetPayload().(type) {
	case *agenttrailv1.Event_Error:
		return true
	case *agenttrailv1.Event_ToolCall:
		o := p.ToolCall.GetOutcome()
		return o != agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS && o != agenttrailv1.ToolOutcome_TOOL_OUTCOME_UNSPECIFIED ||
			p.ToolCall.GetErrorType() != ""
	case *agenttrailv1.Event_LlmCall:
		return p.LlmCall.GetErrorType() != ""
	case *agenttrailv1.Event_SessionEnd:
		r := p.SessionEnd.GetReason()
		return r == agenttrailv1.EndReason_END_REASON_FAILED || r == agenttrailv1.EndReason_END_REASON_TIMED_OUT
	}
	return false
}

// ToolName returns the tool an event is about: ToolCall.tool_name for a tool
// call, empty for every other kind.
func ToolName(ev *agenttrailv1.Event) string {
	return ev.GetToolCall().GetToolName()
}
