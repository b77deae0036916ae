package event

import agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"

// CheckRequired checks only that the fields every event needs are present:
// event_id, a payload, occurred_at and, for the kinds agents write,
// session_id and agent_id. It is the first check of the server's ingest
// path, made before the caller's scope, so that a missing field is reported
// as missing rather than as outside the caller's scope. It reads no field
// but these and costs next to nothing; Validate makes the same checks, with
// the same errors, among all the others.
func CheckRequired(ev *agenttrailv1.Event) error {
	if ev == nil {
		return &FieldError{Field: "event", Reason: "is required"}
	}
	if ev.GetEventId() == "" {
		return &FieldError{Field: "event_id", Reason: "is required"}
	}
	kind := KindOf(ev)
	if kind == agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED {
		return &FieldError{Field: "payload", Reason: "exactly one payload (session_start, llm_call, tool_call, ...) is required"}
	}
	if !IsServerKind(kind) {
		if ev.GetSessionId() == "" {
			return &FieldError{Field: "session_id", Reason: "is required"}
		}
		if ev.GetAgentId() == "" {
			return &FieldError{Field: "agent_id", Reason: "is required"}
		}
	}
	if ev.GetOccurredAt() == nil {
		return &FieldError{Field: "occurred_at", Reason: "is required"}
	}
	return nil
}
