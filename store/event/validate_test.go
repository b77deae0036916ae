package event_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

var limits = event.Limits{Now: eventtest.T0.Add(time.Hour), MaxClockSkew: 5 * time.Minute}

func TestValidateAcceptsEverySample(t *testing.T) {
	for _, s := range eventtest.Samples() {
		if err := event.Validate(s.Event, limits); err != nil {
			t.Errorf("%s: Validate = %v, want nil", s.Name, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	base := func() *agenttrailv1.Event {
		for _, s := range eventtest.Samples() {
			if s.Name == "llm_call" {
				return proto.Clone(s.Event).(*agenttrailv1.Event)
			}
		}
		panic("no llm_call sample")
	}
	tests := []struct {
		name      string
		mutate    func(*agenttrailv1.Event)
		wantField string
	}{
		{"missing event id", func(e *agenttrailv1.Event) { e.EventId = "" }, "event_id"},
		{"event id with spaces", func(e *agenttrailv1.Event) { e.EventId = "hello world" }, "event_id"},
		{"event id path", func(e *agenttrailv1.Event) { e.EventId = "../../etc/passwd" }, "event_id"},
		{"event id too long", func(e *agenttrailv1.Event) { e.EventId = strings.Repeat("a", 129) }, "event_id"},
		{"event id control char", func(e *agenttrailv1.Event) { e.EventId = "abc\x00def" }, "event_id"},
		{"missing session", func(e *agenttrailv1.Event) { e.SessionId = "" }, "session_id"},
		{"missing agent", func(e *agenttrailv1.Event) { e.AgentId = "" }, "agent_id"},
		{"email as user id", func(e *agenttrailv1.Event) { e.UserId = "jane@example.com" }, "user_id"},
		{"parent is self", func(e *agenttrailv1.Event) { e.ParentEventId = e.EventId }, "parent_event_id"},
		{"bad prompt hash", func(e *agenttrailv1.Event) { e.SystemPromptHash = "abc" }, "system_prompt_hash"},
		{"no payload", func(e *agenttrailv1.Event) { e.Payload = nil }, "payload"},
		{"no occurred_at", func(e *agenttrailv1.Event) { e.OccurredAt = nil }, "occurred_at"},
		{"far future", func(e *agenttrailv1.Event) { e.OccurredAt = timestamppb.New(limits.Now.Add(24 * time.Hour)) }, "occurred_at"},
		{"zero time", func(e *agenttrailv1.Event) { e.OccurredAt = &timestamppb.Timestamp{} }, "occurred_at"},
		{"invalid nanos", func(e *agenttrailv1.Event) { e.OccurredAt = &timestamppb.Timestamp{Seconds: 1.8e9, Nanos: 2e9} }, "occurred_at"},
		{"unknown enum", func(e *agenttrailv1.Event) { e.GetLlmCall().InputMessages[1].Role = 42 }, "llm_call.input_messages[1].role"},
		{"negative tokens", func(e *agenttrailv1.Event) { e.GetLlmCall().InputTokens = -1 }, "llm_call.input_tokens"},
		{"bad currency", func(e *agenttrailv1.Event) { e.GetLlmCall().Cost.CurrencyCode = "dollars" }, "llm_call.cost.currency_code"},
		{"negative latency", func(e *agenttrailv1.Event) { e.GetLlmCall().Latency = durationpb.New(-time.Second) }, "llm_call.latency"},
		{"invalid utf-8", func(e *agenttrailv1.Event) { e.GetLlmCall().OutputText = "bad \xff byte" }, "llm_call.output_text"},
		{"invalid utf-8 nested", func(e *agenttrailv1.Event) { e.GetLlmCall().InputMessages[0].Content = "\xc3\x28" }, "llm_call.input_messages[0].content"},
		{"bad label key", func(e *agenttrailv1.Event) { e.Labels = map[string]string{"has space": "v"} }, "labels"},
		{"label value too long", func(e *agenttrailv1.Event) { e.Labels = map[string]string{"k": strings.Repeat("v", 1025)} }, "labels[k]"},
	}
	for _, tt := range tests {
		ev := base()
		tt.mutate(ev)
		err := event.Validate(ev, limits)
		var fe *event.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: Validate = %v, want a *FieldError", tt.name, err)
			continue
		}
		if fe.Field != tt.wantField {
			t.Errorf("%s: field = %q, want %q (reason %q)", tt.name, fe.Field, tt.wantField, fe.Reason)
		}
		if !errors.Is(err, event.ErrInvalid) {
			t.Errorf("%s: errors.Is(err, ErrInvalid) = false", tt.name)
		}
	}
}

func TestValidateNeverEchoesValues(t *testing.T) {
	ev := &agenttrailv1.Event{EventId: "secret token sk-live-123"}
	err := event.Validate(ev, limits)
	if err == nil || strings.Contains(err.Error(), "sk-live") {
		t.Errorf("Validate = %v, want an error that does not repeat the value", err)
	}
}

func TestServerKindsNeedNoSession(t *testing.T) {
	for _, s := range eventtest.Samples() {
		if !event.IsServerKind(event.KindOf(s.Event)) {
			continue
		}
		if s.Event.GetSessionId() != "" {
			t.Fatalf("%s: sample has a session id; server kinds have none", s.Name)
		}
		if err := event.Validate(s.Event, limits); err != nil {
			t.Errorf("%s: Validate = %v, want nil", s.Name, err)
		}
	}
}
