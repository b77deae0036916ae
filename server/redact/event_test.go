package redact

import (
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

func defaultRedactor(t testing.TB) *Redactor {
	t.Helper()
	r, err := New(DefaultPolicy())
	if err != nil {
		t.Fatalf("New(DefaultPolicy()): %v", err)
	}
	return r
}

// sample returns the eventtest sample of the given name.
func sample(t testing.TB, name string) *agenttrailv1.Event {
	t.Helper()
	for _, s := range eventtest.Samples() {
		if s.Name == name {
			return s.Event
		}
	}
	t.Fatalf("no eventtest sample %q", name)
	return nil
}

// checkHeaderUnchanged fails when the view's header differs from the
// event's: the header must verify against the committed bytes.
func checkHeaderUnchanged(t testing.TB, what string, in, out *agenttrailv1.Event) {
	t.Helper()
	hin, _ := event.Split(in)
	hout, _ := event.Split(out)
	if !proto.Equal(hin, hout) {
		t.Errorf("%s: the view's header differs from the event's:\ngot  %v\nwant %v", what, hout, hin)
	}
}

func TestEventSamples(t *testing.T) {
	r := defaultRedactor(t)
	for _, s := range eventtest.Samples() {
		original := proto.Clone(s.Event)
		view := r.Event(s.Event)
		if view == s.Event {
			t.Errorf("%s: Event returned its argument, want a new event", s.Name)
		}
		if !proto.Equal(s.Event, original) {
			t.Errorf("%s: Event modified its argument", s.Name)
		}
		checkHeaderUnchanged(t, s.Name, s.Event, view)
		if again := r.Event(view); !proto.Equal(again, view) {
			t.Errorf("%s: redacting the view again changed it:\ngot  %v\nwant %v", s.Name, again, view)
		}
	}
}

func TestEventMasks(t *testing.T) {
	r := defaultRedactor(t)

	start := r.Event(sample(t, "session_start")).GetSessionStart()
	if got, want := start.GetClientIp(), "[PERSONAL]"; got != want {
		t.Errorf("SessionStart.client_ip = %q, want %q (PERSONAL: masked whole)", got, want)
	}
	if got, want := start.GetUserMessage(), "My order #4411 never arrived. Please refund it to my card; you can reach me at [EMAIL]."; got != want {
		t.Errorf("SessionStart.user_message = %q, want %q", got, want)
	}
	if got, want := start.GetSourceChannel(), "web"; got != want {
		t.Errorf("SessionStart.source_channel = %q, want %q (METADATA: unchanged)", got, want)
	}

	approval := r.Event(sample(t, "human_approval")).GetHumanApproval()
	if got, want := approval.GetApprover(), "[PERSONAL]"; got != want {
		t.Errorf("HumanApproval.approver = %q, want %q", got, want)
	}
	if got, want := approval.GetEditedContent(), `{"order_id":"4411","amount_cents":4499}`; got != want {
		t.Errorf("HumanApproval.edited_content = %q, want %q (nothing to mask)", got, want)
	}

	llm := r.Event(sample(t, "llm_call")).GetLlmCall()
	if got, want := llm.GetInputMessages()[1].GetContent(), "My order #4411 never arrived. Email me at [EMAIL]."; got != want {
		t.Errorf("LlmCall.input_messages[1].content = %q, want %q", got, want)
	}
	if got, want := llm.GetResponseId(), "chatcmpl-9x8y7z"; got != want {
		t.Errorf("LlmCall.response_id = %q, want %q", got, want)
	}

	// Server-written events are all METADATA: the view is the event.
	for _, name := range []string{"access", "erasure", "retention", "key_change"} {
		in := sample(t, name)
		if out := r.Event(in); !proto.Equal(out, in) {
			t.Errorf("%s: view differs from the event:\ngot  %v\nwant %v", name, out, in)
		}
	}

	if got := r.Event(nil); got != nil {
		t.Errorf("Event(nil) = %v, want nil", got)
	}
}

func TestEventScansEveryContentString(t *testing.T) {
	r := defaultRedactor(t)
	const pii = "write to jane@example.com"
	const masked = "write to [EMAIL]"
	ev := &agenttrailv1.Event{
		EventId: "01963a4e-7c1b-7000-8000-000000000042",
		Labels:  map[string]string{"contact": pii},
		Payload: &agenttrailv1.Event_LlmCall{LlmCall: &agenttrailv1.LlmCall{
			RequestModel: "gpt-4.1-mini",
			InputMessages: []*agenttrailv1.ChatMessage{{
				Role:       agenttrailv1.Role_ROLE_ASSISTANT,
				Content:    pii,
				Name:       pii,
				ToolCallId: "call_0/jane@example.com", // METADATA, but inside content: scanned
				ToolCalls:  []*agenttrailv1.ToolCallRequest{{ToolName: "send", ArgumentsJson: `{"to":"jane@example.com","card":4242424242424242}`}},
			}},
			SystemInstructions: pii,
			OutputText:         pii,
			ToolCalls:          []*agenttrailv1.ToolCallRequest{{ToolName: "send", ArgumentsJson: `{"to": "jane@example.com"}`}},
		}},
	}
	view := r.Event(ev)
	checkHeaderUnchanged(t, "llm call", ev, view)
	llm := view.GetLlmCall()
	msg := llm.GetInputMessages()[0]
	for _, tc := range []struct{ field, got, want string }{
		{"labels[contact]", view.GetLabels()["contact"], masked},
		{"input_messages[0].content", msg.GetContent(), masked},
		{"input_messages[0].name", msg.GetName(), masked},
		{"input_messages[0].tool_call_id", msg.GetToolCallId(), "call_0/[EMAIL]"},
		{"input_messages[0].tool_calls[0].arguments_json", msg.GetToolCalls()[0].GetArgumentsJson(), `{"to":"[EMAIL]","card":"[CARD ****4242]"}`},
		{"input_messages[0].tool_calls[0].tool_name", msg.GetToolCalls()[0].GetToolName(), "send"},
		{"system_instructions", llm.GetSystemInstructions(), masked},
		{"output_text", llm.GetOutputText(), masked},
		{"tool_calls[0].arguments_json", llm.GetToolCalls()[0].GetArgumentsJson(), `{"to": "[EMAIL]"}`},
		{"request_model", llm.GetRequestModel(), "gpt-4.1-mini"},
	} {
		if tc.got != tc.want {
			t.Errorf("LlmCall %s = %q, want %q", tc.field, tc.got, tc.want)
		}
	}

	plan := r.Event(&agenttrailv1.Event{Payload: &agenttrailv1.Event_Reasoning{Reasoning: &agenttrailv1.Reasoning{
		Thought:   "Customer at +44 20 7946 0958",
		PlanSteps: []string{"Look up order 4411", "Email jane@example.com", "Refund card 4242 4242 4242 4242"},
	}}}).GetReasoning()
	if got, want := plan.GetThought(), "Customer at [PHONE]"; got != want {
		t.Errorf("Reasoning.thought = %q, want %q", got, want)
	}
	for i, want := range []string{"Look up order 4411", "Email [EMAIL]", "Refund card [CARD ****4242]"} {
		if got := plan.GetPlanSteps()[i]; got != want {
			t.Errorf("Reasoning.plan_steps[%d] = %q, want %q", i, got, want)
		}
	}
}

func TestEventFieldClassOverrides(t *testing.T) {
	r, err := New(Policy{Version: "overrides-1", FieldClasses: map[string]string{
		"agenttrail.v1.ToolCall.result":         "secret",
		"agenttrail.v1.Event.labels":            "metadata",
		"agenttrail.v1.SessionStart.client_ip":  "content",
		"agenttrail.v1.ChatMessage.name":        "personal",
		"agenttrail.v1.LlmCall.tool_calls":      "secret",
		"agenttrail.v1.ToolDefinition.name":     "metadata",
		"agenttrail.v1.SessionStart.attributes": "personal",
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := r.Version(), "overrides-1"; got != want {
		t.Errorf("Version() = %q, want %q", got, want)
	}

	tool := r.Event(sample(t, "tool_call"))
	if got, want := tool.GetToolCall().GetResult(), "[SECRET]"; got != want {
		t.Errorf("ToolCall.result overridden to secret = %q, want %q", got, want)
	}
	if got, want := tool.GetLabels()["env"], "prod"; got != want {
		t.Errorf("labels[env] = %q, want %q", got, want)
	}
	shown := r.Event(&agenttrailv1.Event{Labels: map[string]string{"owner": "jane@example.com"}})
	if got, want := shown.GetLabels()["owner"], "jane@example.com"; got != want {
		t.Errorf("labels overridden to metadata: labels[owner] = %q, want %q (shown as it is)", got, want)
	}

	start := r.Event(&agenttrailv1.Event{Payload: &agenttrailv1.Event_SessionStart{SessionStart: &agenttrailv1.SessionStart{
		ClientIp:       "203.0.113.42",
		Attributes:     map[string]string{"customer": "Jane Doe", "empty": ""},
		ToolsAvailable: []*agenttrailv1.ToolDefinition{{Name: "mail_jane@example.com", Description: "mails jane@example.com"}},
	}}}).GetSessionStart()
	if got, want := start.GetClientIp(), "[IP]"; got != want {
		t.Errorf("SessionStart.client_ip overridden to content = %q, want %q", got, want)
	}
	if got, want := start.GetAttributes()["customer"], "[PERSONAL]"; got != want {
		t.Errorf("attributes overridden to personal: [customer] = %q, want %q (keys kept, values masked)", got, want)
	}
	if got, want := start.GetAttributes()["empty"], ""; got != want {
		t.Errorf("attributes overridden to personal: [empty] = %q, want %q (empty stays empty)", got, want)
	}
	if got, want := start.GetToolsAvailable()[0].GetName(), "mail_jane@example.com"; got != want {
		t.Errorf("ToolDefinition.name overridden to metadata = %q, want %q", got, want)
	}
	if got, want := start.GetToolsAvailable()[0].GetDescription(), "mails [EMAIL]"; got != want {
		t.Errorf("ToolDefinition.description = %q, want %q", got, want)
	}

	llm := r.Event(sample(t, "llm_call")).GetLlmCall()
	if got, want := llm.GetInputMessages()[1].GetName(), "[PERSONAL]"; got != want {
		t.Errorf("ChatMessage.name overridden to personal, inside content = %q, want %q", got, want)
	}
	if got, want := llm.GetInputMessages()[1].GetContent(), "My order #4411 never arrived. Email me at [EMAIL]."; got != want {
		t.Errorf("ChatMessage.content = %q, want %q", got, want)
	}
	call := llm.GetToolCalls()[0]
	for _, tc := range []struct{ field, got string }{
		{"tool_call_id", call.GetToolCallId()},
		{"tool_name", call.GetToolName()},
		{"arguments_json", call.GetArgumentsJson()},
	} {
		if tc.got != "[SECRET]" {
			t.Errorf("LlmCall.tool_calls overridden to secret: %s = %q, want %q (every string masked)", tc.field, tc.got, "[SECRET]")
		}
	}
	// Nested tool calls of a chat message are not LlmCall.tool_calls.
	if got, want := llm.GetInputMessages()[2].GetToolCalls()[0].GetArgumentsJson(), `{"order_id":"4410"}`; got != want {
		t.Errorf("ChatMessage.tool_calls[0].arguments_json = %q, want %q", got, want)
	}
}

func TestEventMapKeys(t *testing.T) {
	r := defaultRedactor(t)
	ev := &agenttrailv1.Event{Labels: map[string]string{
		"jane@example.com": "vip",
		"[EMAIL]":          "already there",
		"bob@example.com":  "regular",
		"env":              "prod",
	}}
	got := r.Event(ev).GetLabels()
	want := map[string]string{
		"[EMAIL]":    "already there",
		"[EMAIL] #2": "regular", // bob@ sorts before jane@
		"[EMAIL] #3": "vip",
		"env":        "prod",
	}
	if len(got) != len(want) {
		t.Fatalf("labels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("labels[%q] = %q, want %q (all labels: %v)", k, got[k], v, got)
		}
	}
}

func TestEventDropsUnknownFields(t *testing.T) {
	r := defaultRedactor(t)
	ev := &agenttrailv1.Event{EventId: "e1", Payload: &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Text: "hi"}}}
	unknown := protowire.AppendTag(nil, 99, protowire.BytesType)
	unknown = protowire.AppendString(unknown, "jane@example.com")
	ev.ProtoReflect().SetUnknown(unknown)
	ev.GetOutput().ProtoReflect().SetUnknown(unknown)
	view := r.Event(ev)
	if n := len(view.ProtoReflect().GetUnknown()); n != 0 {
		t.Errorf("view of Event keeps %d bytes of unknown fields, want none", n)
	}
	if n := len(view.GetOutput().ProtoReflect().GetUnknown()); n != 0 {
		t.Errorf("view of Output keeps %d bytes of unknown fields, want none", n)
	}
	if len(ev.ProtoReflect().GetUnknown()) == 0 {
		t.Errorf("Event dropped the unknown fields of its argument, want it unmodified")
	}
}

func TestEventConcurrent(t *testing.T) {
	r := defaultRedactor(t)
	samples := eventtest.Samples()
	want := make([]*agenttrailv1.Event, len(samples))
	for i, s := range samples {
		want[i] = r.Event(s.Event)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 50; k++ {
				for i, s := range samples {
					if got := r.Event(s.Event); !proto.Equal(got, want[i]) {
						t.Errorf("%s: concurrent Event differs", s.Name)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
