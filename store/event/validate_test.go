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
		{"event id not a uuid", func(e *agenttrailv1.Event) { e.EventId = "not-a-uuid" }, "event_id"},
		{"event id uppercase", func(e *agenttrailv1.Event) { e.EventId = "01963A4E-7C1B-7000-8000-000000000001" }, "event_id"},
		{"event id in braces", func(e *agenttrailv1.Event) { e.EventId = "{01963a4e-7c1b-7000-8000-000000000001}" }, "event_id"},
		{"event id as urn", func(e *agenttrailv1.Event) { e.EventId = "urn:uuid:01963a4e-7c1b-7000-8000-000000000001" }, "event_id"},
		{"event id without hyphens", func(e *agenttrailv1.Event) { e.EventId = "01963a4e7c1b70008000000000000001" }, "event_id"},
		{"event id nil uuid", func(e *agenttrailv1.Event) { e.EventId = "00000000-0000-0000-0000-000000000000" }, "event_id"},
		{"event id max uuid", func(e *agenttrailv1.Event) { e.EventId = "ffffffff-ffff-ffff-ffff-ffffffffffff" }, "event_id"},
		{"event id version 9", func(e *agenttrailv1.Event) { e.EventId = "01963a4e-7c1b-9000-8000-000000000001" }, "event_id"},
		{"event id microsoft variant", func(e *agenttrailv1.Event) { e.EventId = "01963a4e-7c1b-7000-c000-000000000001" }, "event_id"},
		{"parent not a uuid", func(e *agenttrailv1.Event) { e.ParentEventId = "step-1" }, "parent_event_id"},
		{"missing step", func(e *agenttrailv1.Event) { e.Step = 0 }, "step"},
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
		{"invalid utf-8 in the header", func(e *agenttrailv1.Event) { e.GetLlmCall().ProviderName = "open\xffai" }, "llm_call.provider_name"},
		{"invalid utf-8 envelope", func(e *agenttrailv1.Event) { e.AgentVersion = "v1\xc0" }, "agent_version"},
		{"invalid utf-8 label value", func(e *agenttrailv1.Event) { e.Labels = map[string]string{"k": "\xff"} }, "labels[]"},
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

func TestEventIDForms(t *testing.T) {
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{"01963a4e-7c1b-7000-8000-000000000001", true}, // v7
		{"f47ac10b-58cc-4372-a567-0e02b2c3d479", true}, // v4
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", true}, // v1
		{"01963a4e-7c1b-8000-b000-000000000001", true}, // v8, variant 10 with the top bits 1011
		{event.NewID(), true},
		{"", false},
		{"not-a-uuid", false},
		{"01963a4e-7c1b-7000-8000-00000000000", false},   // 35 characters
		{"01963a4e-7c1b-7000-8000-0000000000011", false}, // 37
		{"01963a4e_7c1b_7000_8000_000000000001", false},
		{"01963a4e-7c1b-7000-8000-00000000000g", false},
		{"01963a4e-7c1b-0000-8000-000000000001", false}, // version 0
		{"01963a4e-7c1b-7000-7000-000000000001", false}, // NCS variant
	} {
		if got := event.IsEventID(tt.id); got != tt.want {
			t.Errorf("IsEventID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestStepIsOptionalOnlyForEventsOfASpan(t *testing.T) {
	ev := proto.Clone(eventtest.Samples()[1].Event).(*agenttrailv1.Event)
	ev.Step = 0
	ev.Trace = &agenttrailv1.TraceContext{TraceId: "4bf92f3577b34da6a3ce929d0e0e4736", SpanId: "00f067aa0ba902b7"}
	if err := event.Validate(ev, limits); err != nil {
		t.Errorf("an event of a span without a step: Validate = %v, want nil", err)
	}
	ev.Trace.SpanId = ""
	ev.Trace.TraceId = ""
	var fe *event.FieldError
	if err := event.Validate(ev, limits); !errors.As(err, &fe) || fe.Field != "step" {
		t.Errorf("an event of no span without a step: Validate = %v, want step is required", err)
	}
}

func TestValidateSaysWhichIDsAreAccepted(t *testing.T) {
	ev := &agenttrailv1.Event{EventId: "not-a-uuid"}
	err := event.Validate(ev, limits)
	if err == nil || !strings.Contains(err.Error(), "UUID") || !strings.Contains(err.Error(), "UUIDv7 recommended") {
		t.Errorf("Validate = %v, want the accepted forms named", err)
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
