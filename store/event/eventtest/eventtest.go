// Package eventtest provides realistic sample events of every kind for tests,
// benchmarks, fuzz seeds and the cross-language fixtures in
// clients/testdata/events.
package eventtest

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Sample is one named sample event.
type Sample struct {
	// Name is a short file-safe name, such as "llm_call".
	Name string
	// Event is the sample, with every field of its payload set.
	Event *agenttrailv1.Event
}

// T0 is the time the sample session starts.
var T0 = time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)

// envelope returns the envelope fields shared by the samples; step numbers
// the event within the sample session.
func envelope(step uint32, id string) *agenttrailv1.Event {
	parent := ""
	if step > 1 {
		parent = fmt.Sprintf("01963a4e-7c1b-7000-8000-%012d", step-1)
	}
	return &agenttrailv1.Event{
		EventId:          id,
		SessionId:        "01963a4e-7c00-7000-8000-5e5510000001",
		ParentEventId:    parent,
		Step:             step,
		AgentId:          "support-agent",
		AgentVersion:     "2.4.1",
		ModelId:          "gpt-4.1-mini",
		SystemPromptHash: "9f2c4a1de0b7c1a3f5e6d7c8b9a0f1e2d3c4b5a6978877665544332211009988",
		UserId:           "u_7f3a9c21",
		OccurredAt:       timestamppb.New(T0.Add(time.Duration(step) * time.Second)),
		Labels:           map[string]string{"env": "prod"},
	}
}

// Samples returns one fully populated event of every kind, agent-written kinds
// first, in the order of a plausible session. Each call returns new messages.
func Samples() []Sample {
	var out []Sample
	add := func(name string, ev *agenttrailv1.Event) { out = append(out, Sample{Name: name, Event: ev}) }

	ev := envelope(1, "01963a4e-7c1b-7000-8000-000000000001")
	ev.Payload = &agenttrailv1.Event_SessionStart{SessionStart: &agenttrailv1.SessionStart{
		UserMessage: "My order #4411 never arrived. Please refund it to my card; you can reach me at jane.doe@example.com.",
		ToolsAvailable: []*agenttrailv1.ToolDefinition{{
			Name: "lookup_order", Type: "function", Description: "Find an order by its number.",
			ParametersSchemaJson: `{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}`,
		}, {
			Name: "issue_refund", Type: "function", Description: "Refund an order to its payment method.",
			ParametersSchemaJson: `{"type":"object","properties":{"order_id":{"type":"string"},"amount_cents":{"type":"integer"}}}`,
		}},
		SourceChannel:   "web",
		ClientIp:        "203.0.113.42",
		ClientUserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		SystemPrompt:    "You are a careful support agent. Never refund more than the order total.",
		Attributes:      map[string]string{"locale": "en-GB"},
	}}
	add("session_start", ev)

	ev = envelope(2, "01963a4e-7c1b-7000-8000-000000000002")
	ev.Payload = &agenttrailv1.Event_Reasoning{Reasoning: &agenttrailv1.Reasoning{
		Thought:    "The customer wants a refund for a missing order. I should check the order first.",
		PlanSteps:  []string{"Look up order 4411", "Confirm it was not delivered", "Ask for approval to refund", "Refund"},
		Confidence: ptr(0.82),
	}}
	add("reasoning", ev)

	ev = envelope(3, "01963a4e-7c1b-7000-8000-000000000003")
	ev.Payload = &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{
		ProviderName:  "openai",
		OperationName: "chat",
		RequestModel:  "gpt-4.1-mini",
		ResponseModel: "gpt-4.1-mini-2025-04-14",
		ResponseId:    "chatcmpl-9x8y7z",
		InputMessages: []*agenttrailv1.ChatMessage{
			{Role: agenttrailv1.Role_ROLE_SYSTEM, Content: "You are a careful support agent."},
			{Role: agenttrailv1.Role_ROLE_USER, Content: "My order #4411 never arrived. Email me at jane.doe@example.com.", Name: "jane"},
			{Role: agenttrailv1.Role_ROLE_ASSISTANT, ToolCalls: []*agenttrailv1.ToolCallRequest{{ToolCallId: "call_0", ToolName: "lookup_order", ArgumentsJson: `{"order_id":"4410"}`}}},
			{Role: agenttrailv1.Role_ROLE_TOOL, Content: `{"error":"not found"}`, ToolCallId: "call_0"},
		},
		SystemInstructions: "Answer briefly.",
		OutputText:         "Let me look up order 4411 for you.",
		ToolCalls: []*agenttrailv1.ToolCallRequest{{
			ToolCallId: "call_1", ToolName: "lookup_order", ArgumentsJson: `{"order_id":"4411"}`,
		}},
		FinishReasons:            []string{"tool_calls"},
		InputTokens:              812,
		OutputTokens:             46,
		CacheReadInputTokens:     512,
		CacheCreationInputTokens: 0,
		Cost:                     &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 1530},
		Latency:                  durationpb.New(1420 * time.Millisecond),
		TimeToFirstToken:         durationpb.New(310 * time.Millisecond),
		Temperature:              ptr(0.2),
		MaxTokens:                ptr(int64(1024)),
	}}
	add("llm_call", ev)

	ev = envelope(4, "01963a4e-7c1b-7000-8000-000000000004")
	ev.Payload = &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{
		ToolName:         "lookup_order",
		ToolCallId:       "call_1",
		ToolType:         "function",
		Arguments:        `{"order_id":"4411"}`,
		Result:           `{"order_id":"4411","status":"lost_in_transit","total_cents":4999,"card_last4":"4242"}`,
		Outcome:          agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS,
		Duration:         durationpb.New(85 * time.Millisecond),
		ApprovalRequired: false,
	}}
	add("tool_call", ev)

	ev = envelope(5, "01963a4e-7c1b-7000-8000-000000000005")
	ev.Payload = &agenttrailv1.Event_HumanApproval{HumanApproval: &agenttrailv1.HumanApproval{
		Kind:          agenttrailv1.HumanActionKind_HUMAN_ACTION_KIND_APPROVAL,
		Request:       "Refund 49.99 USD for order 4411?",
		Decision:      agenttrailv1.ApprovalDecision_APPROVAL_DECISION_EDITED,
		Approver:      "Sam Okafor",
		Reason:        "Refund, minus the shipping fee we did not charge.",
		GatedEventId:  "01963a4e-7c1b-7000-8000-000000000006",
		EditedContent: `{"order_id":"4411","amount_cents":4499}`,
		WaitDuration:  durationpb.New(95 * time.Second),
	}}
	add("human_approval", ev)

	ev = envelope(6, "01963a4e-7c1b-7000-8000-000000000006")
	ev.Payload = &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{
		ToolName:         "issue_refund",
		ToolCallId:       "call_2",
		ToolType:         "function",
		Arguments:        `{"order_id":"4411","amount_cents":4499}`,
		ErrorType:        "PaymentGatewayTimeout",
		ErrorMessage:     "gateway did not answer within 10s",
		Outcome:          agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT,
		Duration:         durationpb.New(10 * time.Second),
		ApprovalRequired: true,
	}}
	add("tool_call_failed", ev)

	ev = envelope(7, "01963a4e-7c1b-7000-8000-000000000007")
	ev.Payload = &agenttrailv1.Event_Error{Error: &agenttrailv1.AgentError{
		ErrorType:      "PaymentGatewayTimeout",
		Message:        "refund for order 4411 timed out",
		StackTrace:     "Traceback (most recent call last):\n  File \"agent.py\", line 88, in refund\nTimeoutError",
		RecoveryAction: "queued the refund for a retry in 5 minutes",
		Retryable:      true,
	}}
	add("error", ev)

	ev = envelope(8, "01963a4e-7c1b-7000-8000-000000000008")
	ev.Payload = &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{
		Text:      "Your refund of 44.99 USD is on its way; you will get an email when it completes.",
		Final:     true,
		MediaType: "text/plain",
	}}
	add("output", ev)

	ev = envelope(9, "01963a4e-7c1b-7000-8000-000000000009")
	ev.Payload = &agenttrailv1.Event_SessionEnd{SessionEnd: &agenttrailv1.SessionEnd{
		Reason:        agenttrailv1.EndReason_END_REASON_COMPLETED,
		StepCount:     9,
		LlmCallCount:  1,
		ToolCallCount: 2,
		ErrorCount:    1,
		InputTokens:   812,
		OutputTokens:  46,
		Cost:          &agenttrailv1.Cost{CurrencyCode: "USD", Micros: 1530},
		Detail:        "refund queued",
	}}
	add("session_end", ev)

	ev = server("01963a4e-7c1b-7000-8000-0000000000a1")
	ev.Payload = &agenttrailv1.Event_Access{Access: &agenttrailv1.Access{
		Principal: "dev-alice",
		Role:      "developer",
		Rpc:       "/agenttrail.v1.QueryService/Query",
		Filter: &agenttrailv1.Filter{
			SessionId:      "01963a4e-7c00-7000-8000-5e5510000001",
			Kinds:          []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL},
			OccurredAfter:  timestamppb.New(T0),
			FromIndex:      ptr(uint64(0)),
			ErrorsOnly:     true,
			AgentId:        "support-agent",
			UserId:         "u_7f3a9c21",
			ToolName:       "issue_refund",
			OccurredBefore: timestamppb.New(T0.Add(time.Hour)),
			ToIndex:        ptr(uint64(100)),
		},
		EventsReturned: 1,
		View:           agenttrailv1.ViewKind_VIEW_KIND_REDACTED,
		PolicyVersion:  "2026-11-01",
		StatusCode:     0,
		Phase:          agenttrailv1.AccessPhase_ACCESS_PHASE_COMPLETED,
	}}
	add("access", ev)

	ev = server("01963a4e-7c1b-7000-8000-0000000000a2")
	ev.Payload = &agenttrailv1.Event_Erasure{Erasure: &agenttrailv1.Erasure{
		Principal:  "dpo-chris",
		UserId:     "u_7f3a9c21",
		LogIndexes: []uint64{0, 2, 4},
		Reason:     "data subject request DSR-2026-118",
	}}
	add("erasure", ev)

	ev = server("01963a4e-7c1b-7000-8000-0000000000a3")
	ev.Payload = &agenttrailv1.Event_Retention{Retention: &agenttrailv1.Retention{
		Policy:         "content-400d",
		Cutoff:         timestamppb.New(T0.AddDate(0, 0, -400)),
		FromIndex:      0,
		ToIndex:        99,
		EventsAffected: 100,
	}}
	add("retention", ev)

	ev = server("01963a4e-7c1b-7000-8000-0000000000a4")
	ev.Payload = &agenttrailv1.Event_KeyChange{KeyChange: &agenttrailv1.KeyChange{
		Action:       agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_CREATED,
		KeyId:        "key_01JC8Z",
		KeyPrincipal: "support-agent",
		KeyRole:      "agent",
		ChangedBy:    "admin-root",
	}}
	add("key_change", ev)
	return out
}

// LifecycleSamples returns one fully populated event of each kind added with
// the content lifecycle (legal hold, retention policy). They are kept apart
// from Samples, from which the shared verifier vectors are built, so that
// those vectors stay as they are.
func LifecycleSamples() []Sample {
	var out []Sample
	add := func(name string, ev *agenttrailv1.Event) { out = append(out, Sample{Name: name, Event: ev}) }

	ev := server("01963a4e-7c1b-7000-8000-0000000000a5")
	ev.Payload = &agenttrailv1.Event_LegalHold{LegalHold: &agenttrailv1.LegalHold{
		Action:    agenttrailv1.HoldAction_HOLD_ACTION_PLACED,
		HoldId:    "hold-0001",
		UserId:    "u_7f3a9c21",
		Principal: "legal-dana",
		Reason:    "litigation hold, case 2026-CV-0412",
	}}
	add("legal_hold", ev)

	ev = server("01963a4e-7c1b-7000-8000-0000000000a6")
	ev.Payload = &agenttrailv1.Event_RetentionPolicy{RetentionPolicy: &agenttrailv1.RetentionPolicyChange{
		Version: 2,
		Policies: []*agenttrailv1.RetentionPolicy{{
			Name:    "llm-content-90d",
			AgentId: "support-agent",
			Kinds:   []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_LLM_CALL},
			KeepFor: durationpb.New(90 * 24 * time.Hour),
		}},
		Principal: "admin-root",
	}}
	add("retention_policy", ev)
	return out
}

// server returns the envelope of an event the server writes.
func server(id string) *agenttrailv1.Event {
	return &agenttrailv1.Event{
		EventId:    id,
		AgentId:    "agenttrail",
		OccurredAt: timestamppb.New(T0.Add(time.Hour)),
	}
}

func ptr[T any](v T) *T { return &v }
