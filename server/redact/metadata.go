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
	{detector{name: "private_key", find: findPrivateKeys, needs: trB}, "a private key"},
	{detector{name: "bearer", find: findBearerTokens, needs: trB}, "an authorization credential"},
	{detector{name: "jwt", find: findJWTs, needs: trJ}, "a JSON Web Token"},
	{detector{name: "password", find: findURLAndAssignedPasswords, needs: trSep}, "a password"},
	{detector{name: "api_key", find: findAPIKeys, needs: trSep | trRun}, "an API key or token"},
	{detector{name: "secret_rules", find: findSecretRules, needs: trRun}, "an API key or token"},
	{detector{name: "card", find: findCards, needs: trDigits}, "a payment card number"},
	{detector{name: "iban", find: findIBANs, needs: trDigits}, "a bank account number (IBAN)"},
	{detector{name: "email", find: findEmails, needs: trAt}, "an email address"},
}

// CheckMetadata refuses an event whose metadata holds a secret or a
// personal datum that can be told with certainty: a private key, an
// authorization credential, a JSON Web Token, a password, a provider's API
// key or token (by its known prefix, or by a gitleaks rule), a payment card
// number (Luhn and issuer checked), an IBAN (checksum), or an email
// address. Metadata (ids, versions, model and tool
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
		name := path + string(fd.Name())
		switch {
		case fd.Message() != nil && fd.IsList():
			l := m.Get(fd).List()
			for i := 0; i < l.Len(); i++ {
				if err := checkHeaderMessage(l.Get(i).Message(), name+"["+strconv.Itoa(i)+"]."); err != nil {
					return err
				}
			}
		case fd.Message() != nil:
			if err := checkHeaderMessage(m.Get(fd).Message(), name+"."); err != nil {
				return err
			}
		case fd.IsList():
			l := m.Get(fd).List()
			for i := 0; i < l.Len(); i++ {
				if err := checkMetadataValue(name+"["+strconv.Itoa(i)+"]", l.Get(i).String()); err != nil {
					return err
				}
			}
		default:
			if err := checkMetadataValue(name, m.Get(fd).String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkMetadataValue reports what a metadata string holds, if anything
// CheckMetadata refuses.
func checkMetadataValue(field, s string) error {
	if len(s) < 6 || isUUID(s) {
		return nil // nothing refused is this short, or a UUID
	}
	// Metadata is short: triage it as Text does, and run only the
	// detectors whose triggers it holds (most ids and names hold none).
	have := trAll
	if len(s) <= maxTriaged {
		have = triggersOf(s)
	}
	if have&(trAt|trSep|trJ|trB|trDigits|trRun) == 0 {
		return nil
	}
	// Long runs call for the gitleaks rules, the costliest check; such
	// values repeat from event to event (response ids, hashes, versions)
	// and are remembered once found clean.
	remember := have&trRun != 0
	if remember && cleanMetadata.has(s) {
		return nil
	}
	var sc *scanner
	for _, md := range metadataDetectors {
		if md.d.needs&have == 0 {
			continue
		}
		if sc == nil {
			sc = scanners.Get().(*scanner)
			defer sc.release()
			sc.reset(s)
		}
		if ms := md.d.find(&sc.in, sc.matches[:0]); len(ms) > 0 {
			sc.matches = ms
			return &event.FieldError{Field: field, Reason: "holds what looks like " + md.what + "; metadata is committed in the clear and shown to every reader, so it must not hold secrets or personal data: put it in a content field (messages, arguments, results), which the developer view masks, or leave it out"}
		}
	}
	if remember {
		cleanMetadata.add(s)
	}
	return nil
}

// isUUID reports whether s is a UUID in its canonical form, as event ids
// mostly are: nothing CheckMetadata refuses has that form.
func isUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i != 8 && i != 13 && i != 18 && i != 23 && !isHex(s[i]) {
			return false
		}
	}
	return true
}

// cleanSet remembers, up to a bound, metadata values found clean. Past the
// bound it starts over.
type cleanSet struct {
	mu sync.RWMutex
	m  map[string]struct{}
}

// maxCleanMetadata bounds the values remembered, and maxCleanValue the
// length of one.
const (
	maxCleanMetadata = 8192
	maxCleanValue    = 256
)

var cleanMetadata = &cleanSet{m: map[string]struct{}{}}

func (c *cleanSet) has(s string) bool {
	c.mu.RLock()
	_, ok := c.m[s]
	c.mu.RUnlock()
	return ok
}

func (c *cleanSet) add(s string) {
	if len(s) > maxCleanValue {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxCleanMetadata {
		clear(c.m)
	}
	c.m[strings.Clone(s)] = struct{}{}
	c.mu.Unlock()
}
