package event_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

func TestSplitJoinRestoresEveryKind(t *testing.T) {
	for _, s := range eventtest.Samples() {
		original := proto.Clone(s.Event)
		header, content := event.Split(s.Event)
		if !proto.Equal(s.Event, original) {
			t.Errorf("%s: Split modified its argument", s.Name)
		}
		if got := event.Join(header, content); !proto.Equal(got, s.Event) {
			t.Errorf("%s: Join(Split(e)) differs from e:\ngot  %v\nwant %v", s.Name, got, s.Event)
		}
		if got, want := event.KindOf(header), event.KindOf(s.Event); got != want {
			t.Errorf("%s: KindOf(header) = %v, want %v", s.Name, got, want)
		}
		checkOnly(t, s.Name+" header", header.ProtoReflect(), true)
		checkOnly(t, s.Name+" content", content.ProtoReflect(), false)
	}
}

// checkOnly fails when a split half holds a leaf field of the wrong class.
func checkOnly(t *testing.T, what string, m protoreflect.Message, metadata bool) {
	t.Helper()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if event.IsContainer(fd) {
			checkOnly(t, what, v.Message(), metadata)
			return true
		}
		isMeta := event.ClassOf(fd) == agenttrailv1.FieldClass_FIELD_CLASS_METADATA
		if isMeta != metadata {
			t.Errorf("%s holds %s (class %v)", what, fd.FullName(), event.ClassOf(fd))
		}
		return true
	})
}

func TestSplitKeepsContentOutOfHeader(t *testing.T) {
	ev := &agenttrailv1.Event{
		EventId: "01963a4e-7c1b-7000-8000-000000000001",
		Labels:  map[string]string{"k": "v"},
		Payload: &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Text: "secret answer"}},
	}
	header, content := event.Split(ev)
	if header.GetOutput() == nil {
		t.Fatalf("header lost the payload container; the kind must stay visible")
	}
	if got := header.GetOutput().GetText(); got != "" {
		t.Errorf("header output text = %q, want empty", got)
	}
	if got := len(header.GetLabels()); got != 0 {
		t.Errorf("header has %d labels, want 0 (labels are content)", got)
	}
	if got := content.GetOutput().GetText(); got != "secret answer" {
		t.Errorf("content output text = %q, want %q", got, "secret answer")
	}
	if got := content.GetEventId(); got != "" {
		t.Errorf("content event id = %q, want empty (ids are metadata)", got)
	}
	if !event.HasContent(content) {
		t.Errorf("HasContent(content) = false, want true")
	}
	_, none := event.Split(&agenttrailv1.Event{EventId: "x", Payload: &agenttrailv1.Event_Output{Output: &agenttrailv1.Output{Final: true}}})
	if event.HasContent(none) {
		t.Errorf("HasContent = true for an event with only metadata, want false")
	}
}
