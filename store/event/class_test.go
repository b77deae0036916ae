package event_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// modelMessages walks every agenttrail message reachable from Event (and
// Filter), in a stable order.
func modelMessages() []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || md.ParentFile().Package() != "agenttrail.v1" {
			return
		}
		seen[md.FullName()] = true
		out = append(out, md)
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if fd.IsMap() {
				fd = fd.MapValue()
			}
			if fd.Message() != nil {
				walk(fd.Message())
			}
		}
	}
	walk((&agenttrailv1.Event{}).ProtoReflect().Descriptor())
	walk((&agenttrailv1.Filter{}).ProtoReflect().Descriptor())
	return out
}

func TestEveryFieldHasClass(t *testing.T) {
	msgs := modelMessages()
	if len(msgs) < 15 {
		t.Fatalf("walked %d messages, want every payload of Event (at least 15)", len(msgs))
	}
	fieldsSeen := 0
	for _, md := range msgs {
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			fieldsSeen++
			if got := event.ClassOf(fd); got == agenttrailv1.FieldClass_FIELD_CLASS_UNSPECIFIED {
				t.Errorf("%s has no (agenttrail.v1.field_class) option; every field of the event model must declare one", fd.FullName())
			}
		}
	}
	if fieldsSeen < 100 {
		t.Errorf("checked %d fields, want the whole event model (at least 100)", fieldsSeen)
	}
}

// A repeated or map METADATA field of message type would need an
// element-by-element split that proto.Merge cannot undo, so the model allows
// one only when everything inside it is METADATA too.
func TestRepeatedMetadataMessagesAreMetadataThroughout(t *testing.T) {
	var allMetadata func(md protoreflect.MessageDescriptor) bool
	allMetadata = func(md protoreflect.MessageDescriptor) bool {
		if md.ParentFile().Package() != "agenttrail.v1" {
			return true // well-known types are leaves
		}
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if event.ClassOf(fd) != agenttrailv1.FieldClass_FIELD_CLASS_METADATA {
				return false
			}
			if fd.Message() != nil && !allMetadata(fd.Message()) {
				return false
			}
		}
		return true
	}
	for _, md := range modelMessages() {
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			elem := fd
			if fd.IsMap() {
				elem = fd.MapValue()
			}
			if !(fd.IsList() || fd.IsMap()) || elem.Message() == nil {
				continue
			}
			if event.ClassOf(fd) == agenttrailv1.FieldClass_FIELD_CLASS_METADATA && !allMetadata(elem.Message()) {
				t.Errorf("%s is a repeated METADATA field of a message with non-METADATA fields; mark it CONTENT or make its message all METADATA", fd.FullName())
			}
		}
	}
}

func TestIsContainer(t *testing.T) {
	ev := (&agenttrailv1.Event{}).ProtoReflect().Descriptor()
	llm := (&agenttrailv1.LlmCall{}).ProtoReflect().Descriptor()
	tests := []struct {
		field protoreflect.FieldDescriptor
		want  bool
	}{
		{ev.Fields().ByName("llm_call"), true},
		{ev.Fields().ByName("occurred_at"), false}, // well-known type: a leaf
		{ev.Fields().ByName("labels"), false},
		{ev.Fields().ByName("event_id"), false},
		{llm.Fields().ByName("cost"), true},
		{llm.Fields().ByName("input_messages"), false},
	}
	for _, tt := range tests {
		if got := event.IsContainer(tt.field); got != tt.want {
			t.Errorf("IsContainer(%s) = %v, want %v", tt.field.FullName(), got, tt.want)
		}
	}
}
