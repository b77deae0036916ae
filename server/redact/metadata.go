package redact

import (
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event"
)

// metadataDetectors are the detectors whose findings are certain enough to
// refuse an event for: their formats (a checksum, a provider's prefix, an
// armored block, an address with a domain) almost never occur by chance in
// the ids, names, versions and kinds that metadata holds. Each has the
// description a rejection gives of what it found.
var metadataDetectors = []struct {
	d    detector
	what string
}{
	{detector{name: "private_key", find: findPrivateKeys}, "a private key"},
	{detector{name: "bearer", find: findBearerTokens}, "an authorization credential"},
	{detector{name: "jwt", find: findJWTs}, "a JSON Web Token"},
	{detector{name: "password", find: findPasswords}, "a password"},
	{detector{name: "api_key", find: findAPIKeys}, "an API key or token"},
	{detector{name: "card", find: findCards}, "a payment card number"},
	{detector{name: "iban", find: findIBANs}, "a bank account number (IBAN)"},
	{detector{name: "email", find: findEmails}, "an email address"},
}

// CheckMetadata refuses an event whose metadata holds a secret or a
// personal datum that can be told with certainty: a private key, an
// authorization credential, a JSON Web Token, a password, a provider's API
// key or token, a payment card number (Luhn and issuer checked), an IBAN
// (checksum), or an email address. Metadata (ids, versions, model and tool
// names, error types: every METADATA field of the event header) is
// committed in the clear and shown to every reader, so it cannot be masked
// later without breaking verification; such an event must be refused
// before it is stored.
//
// It returns nil, or an *event.FieldError naming the first such field (as
// event.Validate names fields, "agent_version",
// "llm_call.finish_reasons[1]") and what it holds, never the value.
// Detectors that guess (phone numbers, names, entropy) are not applied: a
// false alarm here would refuse an agent's event.
func CheckMetadata(ev *agenttrailv1.Event) error {
	if ev == nil {
		return nil
	}
	return checkHeaderMessage(ev.ProtoReflect(), "")
}

// headerFields lists, per message of the event model, the METADATA fields
// that form the header: strings to check, and containers to walk.
var headerFields = sync.OnceValue(func() map[protoreflect.FullName][]protoreflect.FieldDescriptor {
	out := map[protoreflect.FullName][]protoreflect.FieldDescriptor{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if _, done := out[md.FullName()]; done {
			return
		}
		out[md.FullName()] = nil
		var fds []protoreflect.FieldDescriptor
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			if event.ClassOf(fd) != agenttrailv1.FieldClass_FIELD_CLASS_METADATA {
				continue
			}
			switch {
			case event.IsContainer(fd):
				fds = append(fds, fd)
				walk(fd.Message())
			case fd.Kind() == protoreflect.StringKind && !fd.IsMap():
				fds = append(fds, fd)
			}
		}
		out[md.FullName()] = fds
	}
	walk((&agenttrailv1.Event{}).ProtoReflect().Descriptor())
	return out
})

func checkHeaderMessage(m protoreflect.Message, path string) error {
	for _, fd := range headerFields()[m.Descriptor().FullName()] {
		if !m.Has(fd) {
			continue
		}
		// Field paths are built only for a finding: most events have none.
		name := func() string { return path + string(fd.Name()) }
		switch {
		case fd.Message() != nil && fd.IsList():
			l := m.Get(fd).List()
			for i := 0; i < l.Len(); i++ {
				if err := checkHeaderMessage(l.Get(i).Message(), name()+"["+strconv.Itoa(i)+"]."); err != nil {
					return err
				}
			}
		case fd.Message() != nil:
			if err := checkHeaderMessage(m.Get(fd).Message(), name()+"."); err != nil {
				return err
			}
		case fd.IsList():
			l := m.Get(fd).List()
			for i := 0; i < l.Len(); i++ {
				if err := checkMetadataValue(l.Get(i).String()); err != nil {
					err.Field = name() + "[" + strconv.Itoa(i) + "]"
					return err
				}
			}
		default:
			if err := checkMetadataValue(m.Get(fd).String()); err != nil {
				err.Field = name()
				return err
			}
		}
	}
	return nil
}

// checkMetadataValue reports what a metadata string holds, if anything
// CheckMetadata refuses; the caller names the field.
func checkMetadataValue(s string) *event.FieldError {
	if len(s) < 6 || cleanValues.has(s) {
		return nil // nothing refused is this short, or it was checked
	}
	sc := scanners.Get().(*scanner)
	defer sc.release()
	sc.reset(s)
	for _, md := range metadataDetectors {
		if ms := md.d.find(&sc.in, sc.matches[:0]); len(ms) > 0 {
			sc.matches = ms
			return &event.FieldError{Reason: "holds what looks like " + md.what + "; metadata is committed in the clear and shown to every reader, so it must not hold secrets or personal data: put it in a content field (messages, arguments, results), which the developer view masks, or leave it out"}
		}
	}
	cleanValues.add(s)
	return nil
}

// cleanValues remembers metadata values found clean. Most metadata repeats
// from event to event (agent, model and tool names, versions, prompt
// hashes, the session id of every step), and checking a value is a
// function of the value alone, so each is scanned once, not per event.
// Bounded: the set is emptied when it is full. Values longer than
// maxCleanValue are not kept.
var cleanValues = &valueSet{max: 4096}

const maxCleanValue = 256

type valueSet struct {
	mu  sync.RWMutex
	max int
	m   map[string]struct{}
}

func (v *valueSet) has(s string) bool {
	v.mu.RLock()
	_, ok := v.m[s]
	v.mu.RUnlock()
	return ok
}

func (v *valueSet) add(s string) {
	if len(s) > maxCleanValue {
		return
	}
	v.mu.Lock()
	if len(v.m) >= v.max || v.m == nil {
		v.m = make(map[string]struct{}, v.max)
	}
	v.m[strings.Clone(s)] = struct{}{}
	v.mu.Unlock()
}
