package event

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Split divides an event into its header (every METADATA field) and its
// content (every other field). The header keeps the payload container even
// when all of the payload's fields are content, so the kind of an event is
// always visible in its header. The event is not modified, and the halves
// share no memory with it.
func Split(ev *agenttrailv1.Event) (header, content *agenttrailv1.Event) {
	return SplitShared(proto.Clone(ev).(*agenttrailv1.Event))
}

// SplitShared is Split without the copy: the halves share strings, lists,
// maps and messages with ev. Use it only when none of the three is modified
// afterwards, such as to encode the halves at once.
func SplitShared(ev *agenttrailv1.Event) (header, content *agenttrailv1.Event) {
	header, content = new(agenttrailv1.Event), new(agenttrailv1.Event)
	splitMessage(ev.ProtoReflect(), header.ProtoReflect(), content.ProtoReflect())
	return header, content
}

// splitMessage puts every field of src into header or content, by reference.
func splitMessage(src, header, content protoreflect.Message) {
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case IsContainer(fd):
			h := header.Mutable(fd).Message()
			c := content.NewField(fd).Message()
			splitMessage(v.Message(), h, c)
			if hasFields(c) {
				content.Set(fd, protoreflect.ValueOfMessage(c))
			}
		case ClassOf(fd) == agenttrailv1.FieldClass_FIELD_CLASS_METADATA:
			header.Set(fd, v)
		default:
			content.Set(fd, v)
		}
		return true
	})
}

// Join merges a header and a content back into the event they were split
// from. Neither argument is modified.
func Join(header, content *agenttrailv1.Event) *agenttrailv1.Event {
	ev := proto.Clone(header).(*agenttrailv1.Event)
	if content != nil {
		proto.Merge(ev, content)
	}
	return ev
}

// HasContent reports whether an event has any field outside its header.
func HasContent(content *agenttrailv1.Event) bool {
	return content != nil && hasFields(content.ProtoReflect())
}

func hasFields(m protoreflect.Message) bool {
	has := false
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		has = true
		return false
	})
	return has
}
