package event

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// ClassOf returns the class declared for a field with the field_class option,
// or FIELD_CLASS_UNSPECIFIED when the field declares none. Fields of the event
// model are answered from a table built once; others are read from their
// options.
func ClassOf(fd protoreflect.FieldDescriptor) agenttrailv1.FieldClass {
	if c, ok := modelClasses[fd]; ok {
		return c
	}
	return declaredClass(fd)
}

// modelClasses holds the class of every field of every message in the event
// model's package, read once from the descriptors: reading an extension
// option on every field of every event is too slow for the append path.
var modelClasses = func() map[protoreflect.FieldDescriptor]agenttrailv1.FieldClass {
	m := map[protoreflect.FieldDescriptor]agenttrailv1.FieldClass{}
	var add func(protoreflect.MessageDescriptors)
	add = func(msgs protoreflect.MessageDescriptors) {
		for i := 0; i < msgs.Len(); i++ {
			md := msgs.Get(i)
			fields := md.Fields()
			for j := 0; j < fields.Len(); j++ {
				m[fields.Get(j)] = declaredClass(fields.Get(j))
			}
			add(md.Messages())
		}
	}
	add(agenttrailv1.File_agenttrail_v1_event_proto.Messages())
	return m
}()

func declaredClass(fd protoreflect.FieldDescriptor) agenttrailv1.FieldClass {
	opts := fd.Options()
	if opts == nil {
		return agenttrailv1.FieldClass_FIELD_CLASS_UNSPECIFIED
	}
	class, ok := proto.GetExtension(opts, agenttrailv1.E_FieldClass).(agenttrailv1.FieldClass)
	if !ok {
		return agenttrailv1.FieldClass_FIELD_CLASS_UNSPECIFIED
	}
	return class
}

// IsContainer reports whether a field is a METADATA container whose own
// fields are split one by one: a singular field of an agenttrail message type
// with class METADATA. Well-known types such as Timestamp are leaves.
func IsContainer(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && !fd.IsList() && !fd.IsMap() &&
		isModelMessage(fd.Message()) &&
		ClassOf(fd) == agenttrailv1.FieldClass_FIELD_CLASS_METADATA
}

// isModelMessage reports whether a message belongs to agenttrail's own event
// model (and so declares field classes), as opposed to a well-known type.
func isModelMessage(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Package() == agenttrailv1.File_agenttrail_v1_event_proto.Package()
}
