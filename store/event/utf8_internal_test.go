package event

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// TestMarshalChecksEveryString holds the premise on which encode leaves
// strings unchecked (walkWire's utf8Checked): Go's Marshal refuses a
// string that is not valid UTF-8 in every string field of the event model,
// as it does for proto3's strings. A field that it would let through (a
// proto2 or editions file that turns the check off) fails here, and the
// walk must then check strings on the encode path again.
func TestMarshalChecksEveryString(t *testing.T) {
	const bad = "\xff"
	n := 0
	var visit func(path []protoreflect.FieldDescriptor, md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool)
	// refused reaches the message at the end of path from a fresh event,
	// lets set put a bad string in it, and reports whether Marshal refuses
	// the event.
	refused := func(path []protoreflect.FieldDescriptor, set func(m protoreflect.Message)) bool {
		ev := &agenttrailv1.Event{}
		m := protoreflect.Message(ev.ProtoReflect())
		for _, fd := range path {
			switch {
			case fd.IsList():
				m = m.Mutable(fd).List().AppendMutable().Message()
			case fd.IsMap():
				m = m.Mutable(fd).Map().Mutable(protoreflect.ValueOfString("k").MapKey()).Message()
			default:
				m = m.Mutable(fd).Message()
			}
		}
		set(m)
		_, err := deterministicSized.Marshal(ev)
		return err != nil
	}
	name := func(path []protoreflect.FieldDescriptor, fd protoreflect.FieldDescriptor) string {
		s := ""
		for _, p := range path {
			s += string(p.Name()) + "."
		}
		return s + string(fd.Name())
	}
	visit = func(path []protoreflect.FieldDescriptor, md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) {
		if seen[md.FullName()] {
			return // a recursive type (google.protobuf.Value): checked where first met
		}
		seen[md.FullName()] = true
		defer delete(seen, md.FullName())
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			switch {
			case fd.IsMap():
				k, v := fd.MapKey(), fd.MapValue()
				if k.Kind() == protoreflect.StringKind {
					n++
					if !refused(path, func(m protoreflect.Message) {
						mv := m.Mutable(fd).Map()
						if v.Kind() == protoreflect.MessageKind {
							mv.Mutable(protoreflect.ValueOfString(bad).MapKey())
						} else {
							mv.Set(protoreflect.ValueOfString(bad).MapKey(), v.Default())
						}
					}) {
						t.Errorf("Marshal accepts a map key of %s that is not UTF-8", name(path, fd))
					}
				}
				switch v.Kind() {
				case protoreflect.StringKind:
					n++
					if !refused(path, func(m protoreflect.Message) {
						m.Mutable(fd).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfString(bad))
					}) {
						t.Errorf("Marshal accepts a map value of %s that is not UTF-8", name(path, fd))
					}
				case protoreflect.MessageKind:
					visit(append(path[:len(path):len(path)], fd), v.Message(), seen)
				}
			case fd.Kind() == protoreflect.StringKind:
				n++
				if !refused(path, func(m protoreflect.Message) {
					if fd.IsList() {
						m.Mutable(fd).List().Append(protoreflect.ValueOfString(bad))
					} else {
						m.Set(fd, protoreflect.ValueOfString(bad))
					}
				}) {
					t.Errorf("Marshal accepts %s that is not UTF-8", name(path, fd))
				}
			case fd.Kind() == protoreflect.MessageKind:
				visit(append(path[:len(path):len(path)], fd), fd.Message(), seen)
			}
		}
	}
	visit(nil, (&agenttrailv1.Event{}).ProtoReflect().Descriptor(), map[protoreflect.FullName]bool{})
	if n < 50 {
		t.Fatalf("checked %d string fields, want the event model's (at least 50)", n)
	}
	t.Logf("checked %d string fields", n)
}
