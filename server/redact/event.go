package redact

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// mode is how the fields of a message are treated, given where the message
// sits in the event.
type mode uint8

const (
	// modeHeader: the message is the event or a METADATA container in the
	// header; each field goes by its own class.
	modeHeader mode = iota
	// modeContent: the message is inside a CONTENT field; its PERSONAL and
	// SECRET fields are masked, everything else is scanned.
	modeContent
	// modePersonal and modeSecret: the message is inside a field masked
	// whole; every string in it is masked, with the label of a nested
	// PERSONAL or SECRET field where there is one.
	modePersonal
	modeSecret
	// modeShown: the field was overridden to "metadata" outside the header;
	// it is shown as it is.
	modeShown
)

// fieldPlan is what the event model, with the policy's overrides, says of
// one field.
type fieldPlan struct {
	fd    protoreflect.FieldDescriptor
	class agenttrailv1.FieldClass
	// overridden is true when the policy set the class.
	overridden bool
	// container is true for a METADATA field of agenttrail message type
	// (see event.IsContainer).
	container bool
}

// messagePlan lists the fields of one message of the event model that can
// need work, in each place the message can be. Fields left out are never
// changed there: metadata scalars in the header, numbers, booleans and
// enums everywhere, fields shown as they are by an override.
type messagePlan struct {
	// header lists, for the message treated as modeHeader, its fields of
	// class other than METADATA and its containers.
	header []fieldPlan
	// inner lists, for the message inside a content or masked field, its
	// fields of string, bytes or message type, and its maps.
	inner []fieldPlan
}

// classNames are the class names a policy's FieldClasses may use.
var classNames = map[string]agenttrailv1.FieldClass{
	"metadata": agenttrailv1.FieldClass_FIELD_CLASS_METADATA,
	"content":  agenttrailv1.FieldClass_FIELD_CLASS_CONTENT,
	"personal": agenttrailv1.FieldClass_FIELD_CLASS_PERSONAL,
	"secret":   agenttrailv1.FieldClass_FIELD_CLASS_SECRET,
}

// modelMessages returns every agenttrail message reachable from Event, and
// the set of fields that form the event header: the METADATA fields reached
// from Event through METADATA containers only.
func modelMessages() ([]protoreflect.MessageDescriptor, map[protoreflect.FullName]bool) {
	root := (&agenttrailv1.Event{}).ProtoReflect().Descriptor()
	pkg := root.ParentFile().Package()
	var msgs []protoreflect.MessageDescriptor
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || md.ParentFile().Package() != pkg {
			return
		}
		seen[md.FullName()] = true
		msgs = append(msgs, md)
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
	walk(root)

	header := map[protoreflect.FullName]bool{}
	var walkHeader func(md protoreflect.MessageDescriptor)
	walkHeader = func(md protoreflect.MessageDescriptor) {
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if event.ClassOf(fd) != agenttrailv1.FieldClass_FIELD_CLASS_METADATA || header[fd.FullName()] {
				continue
			}
			header[fd.FullName()] = true
			if event.IsContainer(fd) {
				walkHeader(fd.Message())
			}
		}
	}
	walkHeader(root)
	return msgs, header
}

// buildPlans validates the policy's class overrides and returns the plan of
// every message of the event model.
func buildPlans(overrides map[string]string) (map[protoreflect.MessageDescriptor]*messagePlan, error) {
	msgs, header := modelMessages()
	fields := map[protoreflect.FullName]protoreflect.FieldDescriptor{}
	for _, md := range msgs {
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			fields[fd.FullName()] = fd
		}
	}
	classes := map[protoreflect.FullName]agenttrailv1.FieldClass{}
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		names = append(names, name)
	}
	slices.Sort(names) // report the first bad entry, always the same one
	for _, name := range names {
		value := overrides[name]
		fd, ok := fields[protoreflect.FullName(name)]
		if !ok {
			return nil, fmt.Errorf("%w: field_classes: %q is not a field of the event model (write full names, such as \"agenttrail.v1.ToolCall.result\")", ErrInvalidPolicy, name)
		}
		if header[fd.FullName()] {
			return nil, fmt.Errorf("%w: field_classes: %q is in the event header, which is committed in the clear and shown to every reader; it cannot be overridden", ErrInvalidPolicy, name)
		}
		class, ok := classNames[value]
		if !ok {
			return nil, fmt.Errorf("%w: field_classes: %q: unknown class %q (want personal, secret, content or metadata)", ErrInvalidPolicy, name, value)
		}
		classes[fd.FullName()] = class
	}
	plans := make(map[protoreflect.MessageDescriptor]*messagePlan, len(msgs))
	for _, md := range msgs {
		p := &messagePlan{}
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			f := fieldPlan{fd: fd, class: event.ClassOf(fd), container: event.IsContainer(fd)}
			if c, ok := classes[fd.FullName()]; ok {
				f.class, f.overridden = c, true
			}
			metadata := f.class == agenttrailv1.FieldClass_FIELD_CLASS_METADATA
			if !metadata || f.container {
				p.header = append(p.header, f)
			}
			if !(metadata && f.overridden) && mayChange(fd) {
				p.inner = append(p.inner, f)
			}
		}
		plans[md] = p
	}
	return plans, nil
}

// mayChange reports whether redaction can change a field outside the
// header: a string, bytes or message field, a list of them, or a map (whose
// string keys are scanned).
func mayChange(fd protoreflect.FieldDescriptor) bool {
	if fd.IsMap() {
		return true
	}
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return true
	}
	return false
}

// fieldMode returns how a field is treated inside a message treated as m.
func fieldMode(m mode, f *fieldPlan) mode {
	switch f.class {
	case agenttrailv1.FieldClass_FIELD_CLASS_PERSONAL:
		return modePersonal
	case agenttrailv1.FieldClass_FIELD_CLASS_SECRET:
		return modeSecret
	case agenttrailv1.FieldClass_FIELD_CLASS_METADATA:
		switch {
		case m == modeHeader:
			return modeHeader
		case f.overridden:
			return modeShown
		}
		return m
	case agenttrailv1.FieldClass_FIELD_CLASS_CONTENT:
		if m == modeHeader {
			return modeContent
		}
		return m
	}
	// No class: the model forbids it (store/event tests every field), so
	// treat it as the strictest class its place allows.
	if m == modeHeader || m == modeContent {
		return modeSecret
	}
	return m
}

// message redacts, in place, a message treated as m.
func (r *Redactor) message(msg protoreflect.Message, m mode) {
	plan := r.plans[msg.Descriptor()]
	if plan == nil {
		return // a well-known type (Timestamp, Duration): numbers only
	}
	if len(msg.GetUnknown()) > 0 {
		msg.SetUnknown(nil)
	}
	fields := plan.inner
	if m == modeHeader {
		fields = plan.header
	}
	for i := range fields {
		f := &fields[i]
		if !msg.Has(f.fd) {
			continue
		}
		fm := fieldMode(m, f)
		switch fm {
		case modeShown:
			continue
		case modeHeader:
			if f.container {
				r.message(msg.Mutable(f.fd).Message(), modeHeader)
			}
			continue
		}
		r.field(msg, f.fd, fm)
	}
}

// field redacts, in place, the field fd of msg, treated as m (content or a
// mask).
func (r *Redactor) field(msg protoreflect.Message, fd protoreflect.FieldDescriptor, m mode) {
	switch {
	case fd.IsList():
		l := msg.Mutable(fd).List()
		for i := 0; i < l.Len(); i++ {
			if v, ok := r.value(fd, l.Get(i), m); ok {
				l.Set(i, v)
			}
		}
	case fd.IsMap():
		r.mapField(msg.Mutable(fd).Map(), fd, m)
	case fd.Message() != nil:
		r.message(msg.Mutable(fd).Message(), m)
	default:
		if v, ok := r.value(fd, msg.Get(fd), m); ok {
			msg.Set(fd, v)
		}
	}
}

// value redacts one scalar value or message of a field (or of a list
// element or map value, whose descriptor fd is), treated as m. It returns
// the new value and true when a scalar changed; messages are redacted in
// place.
func (r *Redactor) value(fd protoreflect.FieldDescriptor, v protoreflect.Value, m mode) (protoreflect.Value, bool) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		r.message(v.Message(), m)
	case protoreflect.StringKind:
		s := v.String()
		if out := r.scalar(s, m); out != s {
			return protoreflect.ValueOfString(out), true
		}
	case protoreflect.BytesKind:
		b := v.Bytes()
		if len(b) == 0 {
			break
		}
		if m == modeContent && !utf8.Valid(b) {
			// Bytes that are not text cannot be scanned; the event model
			// has no bytes fields, so this is only a safe default.
			m = modeSecret
		}
		if out := r.scalar(string(b), m); out != string(b) {
			return protoreflect.ValueOfBytes([]byte(out)), true
		}
	}
	return v, false
}

// scalar redacts one string treated as m.
func (r *Redactor) scalar(s string, m mode) string {
	switch {
	case s == "":
		return s
	case m == modePersonal:
		return maskPersonal
	case m == modeSecret:
		return maskSecret
	}
	return r.content(s)
}

// mapField redacts, in place, a map field treated as m. Values are
// redacted like fields; string keys are scanned as text in content, and
// kept in masked fields (they name what the masked values are). A key
// changed by masking is written after the unchanged keys, with " #2", " #3"
// and so on added when the masked key is already taken, in the order of the
// original keys, so that no entry is lost and the result is the same every
// time.
func (r *Redactor) mapField(mp protoreflect.Map, fd protoreflect.FieldDescriptor, m mode) {
	type entry struct {
		key string
		val protoreflect.Value
	}
	var renamed []entry
	vd := fd.MapValue()
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		nv, changed := r.value(vd, v, m)
		if changed {
			mp.Set(k, nv)
		}
		if m == modeContent && fd.MapKey().Kind() == protoreflect.StringKind {
			if ks := k.String(); r.content(ks) != ks {
				renamed = append(renamed, entry{ks, nv})
			}
		}
		return true
	})
	if len(renamed) == 0 {
		return
	}
	slices.SortFunc(renamed, func(a, b entry) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	for _, e := range renamed {
		mp.Clear(protoreflect.ValueOfString(e.key).MapKey())
	}
	for _, e := range renamed {
		masked := r.content(e.key)
		key := masked
		for n := 2; mp.Has(protoreflect.ValueOfString(key).MapKey()); n++ {
			key = masked + " #" + strconv.Itoa(n)
		}
		mp.Set(protoreflect.ValueOfString(key).MapKey(), e.val)
	}
}
