package redact

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

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
		// Twice: values found clean are remembered, refused ones never.
		for round := range 2 {
			err := CheckMetadata(tc.ev)
			checkReceivedAgrees(t, tc.name, tc.ev, err)
			var fe *event.FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("%s, check %d: %v, want nil", tc.name, round+1, err)
			case tc.field != "" && !errors.As(err, &fe):
				t.Errorf("%s, check %d: %v, want a FieldError for %s", tc.name, round+1, err, tc.field)
			case tc.field != "" && fe.Field != tc.field:
				t.Errorf("%s, check %d: field %q, want %q", tc.name, round+1, fe.Field, tc.field)
			}
		}
	}
}

// TestCheckMetadataEveryField puts an email address in every string field of
// the event model, one at a time (in each payload of the oneof, and in lists
// as the second item), and checks that CheckMetadata refuses it, naming that
// field, exactly when the field is part of the header: METADATA, reached
// only through METADATA containers.
func TestCheckMetadataEveryField(t *testing.T) {
	const email = "jane.doe@example.com"
	type path []protoreflect.FieldDescriptor
	var paths []path
	var walk func(md protoreflect.MessageDescriptor, prefix path, seen map[protoreflect.FullName]bool)
	walk = func(md protoreflect.MessageDescriptor, prefix path, seen map[protoreflect.FullName]bool) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		defer delete(seen, md.FullName())
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			p := append(slices.Clone(prefix), fd)
			switch {
			case fd.IsMap():
			case fd.Kind() == protoreflect.StringKind:
				paths = append(paths, p)
			case fd.Message() != nil && !fd.IsList() && fd.Message().ParentFile().Package() == "agenttrail.v1":
				walk(fd.Message(), p, seen)
			}
		}
	}
	walk((&agenttrailv1.Event{}).ProtoReflect().Descriptor(), nil, map[protoreflect.FullName]bool{})
	if len(paths) < 30 {
		t.Fatalf("found %d string fields in the event model, want many more", len(paths))
	}
	refused := 0
	for _, p := range paths {
		ev := &agenttrailv1.Event{}
		m := ev.ProtoReflect()
		names := make([]string, len(p))
		header := true
		for i, fd := range p {
			names[i] = string(fd.Name())
			header = header && event.ClassOf(fd) == agenttrailv1.FieldClass_FIELD_CLASS_METADATA
			if i < len(p)-1 {
				m = m.Mutable(fd).Message()
			}
		}
		last := p[len(p)-1]
		want := strings.Join(names, ".")
		if last.IsList() {
			l := m.Mutable(last).List()
			l.Append(protoreflect.ValueOfString("stop"))
			l.Append(protoreflect.ValueOfString(email))
			want += "[1]"
		} else {
			m.Set(last, protoreflect.ValueOfString(email))
		}
		err := CheckMetadata(ev)
		checkReceivedAgrees(t, want, ev, err)
		var fe *event.FieldError
		switch {
		case !header && err != nil:
			t.Errorf("%s (content): %v, want nil", want, err)
		case header && !errors.As(err, &fe):
			t.Errorf("%s (metadata): %v, want a FieldError", want, err)
		case header && fe.Field != want:
			t.Errorf("email in %s: refused field %q, want %q", want, fe.Field, want)
		case header && strings.Contains(err.Error(), email):
			t.Errorf("%s: the error %q echoes the value", want, err)
		}
		if header {
			refused++
		}
	}
	if refused < 10 {
		t.Errorf("%d metadata string fields checked, want the header's many", refused)
	}
}

// BenchmarkCheckMetadata is the append path's check of one realistic event.
func BenchmarkCheckMetadata(b *testing.B) {
	ev := eventtest.RealisticLLMCall()
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckMetadata(ev); err != nil {
			b.Fatal(err)
		}
	}
}
