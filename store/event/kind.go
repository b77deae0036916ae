package event

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// payloadKinds maps each field of the Event payload oneof to its kind. A test
// checks that every oneof field has an entry and every kind a field.
var payloadKinds = map[protoreflect.FieldNumber]agenttrailv1.EventKind{
	20: agenttrailv1.EventKind_EVENT_KIND_SESSION_START,
	21: agenttrailv1.EventKind_EVENT_KIND_LLM_CALL,
	22: agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL,
	23: agenttrailv1.EventKind_EVENT_KIND_REASONING,
	24: agenttrailv1.EventKind_EVENT_KIND_HUMAN_APPROVAL,
	25: agenttrailv1.EventKind_EVENT_KIND_ERROR,
	26: agenttrailv1.EventKind_EVENT_KIND_OUTPUT,
	27: agenttrailv1.EventKind_EVENT_KIND_SESSION_END,
	40: agenttrailv1.EventKind_EVENT_KIND_ACCESS,
	41: agenttrailv1.EventKind_EVENT_KIND_ERASURE,
	42: agenttrailv1.EventKind_EVENT_KIND_RETENTION,
	43: agenttrailv1.EventKind_EVENT_KIND_KEY_CHANGE,
	44: agenttrailv1.EventKind_EVENT_KIND_LEGAL_HOLD,
	45: agenttrailv1.EventKind_EVENT_KIND_RETENTION_POLICY,
}

var payloadOneof = (&agenttrailv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")

// KindOf returns the kind of payload an event carries, or
// EVENT_KIND_UNSPECIFIED when it carries none.
func KindOf(ev *agenttrailv1.Event) agenttrailv1.EventKind {
	fd := ev.ProtoReflect().WhichOneof(payloadOneof)
	if fd == nil {
		return agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED
	}
	return payloadKinds[fd.Number()]
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
