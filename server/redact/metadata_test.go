package redact

import (
	"errors"
	"strings"
	"testing"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

func TestCheckMetadata(t *testing.T) {
	llm := func(f func(*agenttrailv1.LlmCall)) *agenttrailv1.Event {
		c := &agenttrailv1.LlmCall{RequestModel: "gpt-4.1-mini", FinishReasons: []string{"stop"}}
		f(c)
		return &agenttrailv1.Event{EventId: "e1", Payload: &agenttrailv1.Event_LlmCall{LlmCall: c}}
	}
	for _, tc := range []struct {
		name  string
		ev    *agenttrailv1.Event
		field string // "" for none
	}{
		{"realistic", eventtest.RealisticLLMCall(), ""},
		{"versions and models", &agenttrailv1.Event{AgentVersion: "2.4.1+build.7", ModelId: "claude-3-5-sonnet-20241022", UserId: "u_7f3a9c21"}, ""},
		{"hash", &agenttrailv1.Event{SystemPromptHash: strings.Repeat("9f2c", 16)}, ""},
		{"email in user_id", &agenttrailv1.Event{UserId: "jane.doe@example.com"}, "user_id"},
		{"card in agent_version", &agenttrailv1.Event{AgentVersion: "4111 1111 1111 1111"}, "agent_version"},
		{"key in model_id", &agenttrailv1.Event{ModelId: "sk-ant-api03-Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z"}, "model_id"},
		{"iban in session_start.source_channel", &agenttrailv1.Event{Payload: &agenttrailv1.Event_SessionStart{SessionStart: &agenttrailv1.SessionStart{SourceChannel: "DE89 3704 0044 0532 0130 00"}}}, "session_start.source_channel"},
		{"second finish reason", llm(func(c *agenttrailv1.LlmCall) { c.FinishReasons = append(c.FinishReasons, "Bearer a1B2c3D4e5F6g7H8") }), "llm_call.finish_reasons[1]"},
		{"password URL in response_model", llm(func(c *agenttrailv1.LlmCall) { c.ResponseModel = "postgres://app:hunter22@db/x" }), "llm_call.response_model"},
		{"private key", llm(func(c *agenttrailv1.LlmCall) { c.ProviderName = "-----BEGIN PRIVATE KEY-----\nMIIE" }), "llm_call.provider_name"},
		// Content may hold anything: the developer view masks it.
		{"email in content", llm(func(c *agenttrailv1.LlmCall) { c.OutputText = "jane@example.com" }), ""},
		{"tool definition content", &agenttrailv1.Event{Payload: &agenttrailv1.Event_SessionStart{SessionStart: &agenttrailv1.SessionStart{
			ToolsAvailable: []*agenttrailv1.ToolDefinition{{Name: "send_email", Description: "mail jane@example.com"}},
		}}}, ""},
	} {
		err := CheckMetadata(tc.ev)
		var fe *event.FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v, want nil", tc.name, err)
		case tc.field != "" && !errors.As(err, &fe):
			t.Errorf("%s: %v, want a FieldError for %s", tc.name, err, tc.field)
		case tc.field != "" && fe.Field != tc.field:
			t.Errorf("%s: field %q, want %q", tc.name, fe.Field, tc.field)
		}
	}
}
