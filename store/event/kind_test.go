package event_test

import (
	"strings"
	"testing"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

func TestEveryKindHasAPayloadAndASample(t *testing.T) {
	oneof := (&agenttrailv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")
	if got, want := oneof.Fields().Len(), len(agenttrailv1.EventKind_name)-1; got != want {
		t.Fatalf("payload oneof has %d fields, EventKind has %d kinds: keep them in step", got, want)
	}
	sampled := map[agenttrailv1.EventKind]bool{}
	for _, s := range append(eventtest.Samples(), eventtest.LifecycleSamples()...) {
		sampled[event.KindOf(s.Event)] = true
	}
	for k := range agenttrailv1.EventKind_name {
		kind := agenttrailv1.EventKind(k)
		if kind == agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED {
			continue
		}
		if !sampled[kind] {
			t.Errorf("no sample event of kind %v", kind)
		}
	}
	if got := event.KindOf(&agenttrailv1.Event{}); got != agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED {
		t.Errorf("KindOf(empty event) = %v, want EVENT_KIND_UNSPECIFIED", got)
	}
}

// KindOf names, for an event whose payload is each field of the payload
// oneof, the kind of the same name; for a payload wrapper holding nothing,
// none.
func TestKindOfEveryPayloadField(t *testing.T) {
	oneof := (&agenttrailv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")
	for i := range oneof.Fields().Len() {
		fd := oneof.Fields().Get(i)
		ev := &agenttrailv1.Event{}
		m := ev.ProtoReflect()
		m.Set(fd, m.NewField(fd))
		want := agenttrailv1.EventKind(agenttrailv1.EventKind_value["EVENT_KIND_"+strings.ToUpper(string(fd.Name()))])
		if got := event.KindOf(ev); got != want || want == agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED {
			t.Errorf("KindOf(event with %s) = %v, want %v", fd.Name(), got, want)
		}
	}
	var none *agenttrailv1.Event_LlmCall
	if got := event.KindOf(&agenttrailv1.Event{Payload: none}); got != agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED {
		t.Errorf("KindOf(event with a nil payload wrapper) = %v, want EVENT_KIND_UNSPECIFIED", got)
	}
}

func TestIsFailure(t *testing.T) {
	tests := []struct {
		name string
		ev   *agenttrailv1.Event
		want bool
	}{
		{"agent error", &agenttrailv1.Event{Payload: &agenttrailv1.Event_Error{Error: &agenttrailv1.AgentError{}}}, true},
		{"tool success", &agenttrailv1.Event{Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_SUCCESS}}}, false},
		{"tool timeout", &agenttrailv1.Event{Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{Outcome: agenttrailv1.ToolOutcome_TOOL_OUTCOME_TIMEOUT}}}, true},
		{"tool error type only", &agenttrailv1.Event{Payload: &agenttrailv1.Event_ToolCall{ToolCall: &agenttrailv1.ToolCall{ErrorType: "IOError"}}}, true},
		{"llm ok", &agenttrailv1.Event{Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{}}}, false},
		{"llm 429", &agenttrailv1.Event{Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{ErrorType: "429"}}}, true},
		{"session failed", &agenttrailv1.Event{Payload: &agenttrailv1.Event_SessionEnd{SessionEnd: &agenttrailv1.SessionEnd{Reason: agenttrailv1.EndReason_END_REASON_FAILED}}}, true},
		{"session completed", &agenttrailv1.Event{Payload: &agenttrailv1.Event_SessionEnd{SessionEnd: &agenttrailv1.SessionEnd{Reason: agenttrailv1.EndReason_END_REASON_COMPLETED}}}, false},
		{"output", &agenttrailv1.Event{Payload: &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{}}}, false},
	}
	for _, tt := range tests {
		if got := event.IsFailure(tt.ev); got != tt.want {
			t.Errorf("%s: IsFailure = %v, want %v", tt.name, got, tt.want)
		}
		header, _ := event.Split(tt.ev)
		if got := event.IsFailure(header); got != tt.want {
			t.Errorf("%s: IsFailure(header) = %v, want %v (it must read only header fields)", tt.name, got, tt.want)
		}
	}
}
