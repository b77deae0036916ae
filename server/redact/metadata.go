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
	{detector{name: "secret_rules", find: findSecretRules, needs: trSecret}, "an API key or token"},
	{detector{name: "card", find: findCards, needs: trDigits}, "a payment card number"},
	{detector{name: "iban", find: findIBANs, needs: trDigits}, "a bank account number (IBAN)"},
	{detector{name: "email", find: findEmails, needs: trAt | trCapital | trSep | trDot}, "an email address"},
}

// metadataNeeds is the union of the metadata detectors' triggers: a string
// with none of them is not scanned.
var metadataNeeds = func() (t trigger) {
	for _, md := range metadataDetectors {
		t |= md.d.needs
	}
	return t
}()

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
	return checkHeaderMessage(ev.ProtoReflect(), metadataTree())
}

// metaNode is one message of the event model as CheckMetadata walks it:
// the METADATA string fields to check, the METADATA containers to walk,
// and the model's oneofs, whose one set field is found at once instead of
// asking each of its fields.
type metaNode struct {
	strings    []protoreflect.FieldDescriptor // singular, or lists of strings
	containers []metaChild                    // outside any oneof
	oneofs     []metaOneof
}

type metaChild struct {
	fd   protoreflect.FieldDescriptor
	node *metaNode
}

type metaOneof struct {
	od       protoreflect.OneofDescriptor
	children map[protoreflect.FieldNumber]*metaNode // its METADATA containers
	strings  map[protoreflect.FieldNumber]bool      // its METADATA strings
}

// metadataTree is the walk of the Event message, built once from the
// descriptors: the header's fields and nothing else.
var metadataTree = sync.OnceValue(func() *metaNode {
	nodes := map[protoreflect.FullName]*metaNode{}
	var build func(md protoreflect.MessageDescriptor) *metaNode
	build = func(md protoreflect.MessageDescriptor) *metaNode {
		if n, ok := nodes[md.FullName()]; ok {
			return n
		}
		n := &metaNode{}
		nodes[md.FullName()] = n
		oneofs := map[protoreflect.FullName]*metaOneof{}
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			if event.ClassOf(fd) != agenttrailv1.FieldClass_FIELD_CLASS_METADATA {
				continue
			}
			container := event.IsContainer(fd)
			if !container && (fd.Kind() != protoreflect.StringKind || fd.IsMap()) {
				continue
			}
			if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
				o := oneofs[od.FullName()]
				if o == nil {
					o = &metaOneof{od: od, children: map[protoreflect.FieldNumber]*metaNode{}, strings: map[protoreflect.FieldNumber]bool{}}
					oneofs[od.FullName()] = o
				}
				if container {
					o.children[fd.Number()] = build(fd.Message())
				} else {
					o.strings[fd.Number()] = true
				}
				continue
			}
			if container {
				n.containers = append(n.containers, metaChild{fd, build(fd.Message())})
			} else {
				n.strings = append(n.strings, fd)
			}
		}
		for i := 0; i < md.Oneofs().Len(); i++ {
			if o := oneofs[md.Oneofs().Get(i).FullName()]; o != nil {
				n.oneofs = append(n.oneofs, *o)
			}
		}
		return n
	}
	return build((&agenttrailv1.Event{}).ProtoReflect().Descriptor())
})

// checkHeaderMessage walks m's METADATA fields. The name of a refused
// field is built on the way back up, only when one is refused.
func checkHeaderMessage(m protoreflect.Message, n *metaNode) error {
	for _, fd := range n.strings {
		if err := checkMetadataField(m, fd); err != nil {
			return err
		}
	}
	for _, c := range n.containers {
		if !m.Has(c.fd) {
			continue
		}
		if err := checkHeaderMessage(m.Get(c.fd).Message(), c.node); err != nil {
			return within(c.fd, err)
		}
	}
	for _, o := range n.oneofs {
		fd := m.WhichOneof(o.od)
		if fd == nil {
			continue
		}
		if child := o.children[fd.Number()]; child != nil {
			if err := checkHeaderMessage(m.Get(fd).Message(), child); err != nil {
				return within(fd, err)
			}
		} else if o.strings[fd.Number()] {
			if err := checkMetadataField(m, fd); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkMetadataField checks one string field, or each string of a list. An
// unset proto3 string reads as "", which nothing refuses.
func checkMetadataField(m protoreflect.Message, fd protoreflect.FieldDescriptor) error {
	if !fd.IsList() {
		if err := checkMetadataValue(m.Get(fd).String()); err != nil {
			err.Field = string(fd.Name())
			return err
		}
		return nil
	}
	l := m.Get(fd).List()
	for i := 0; i < l.Len(); i++ {
		if err := checkMetadataValue(l.Get(i).String()); err != nil {
			err.Field = string(fd.Name()) + "[" + strconv.Itoa(i) + "]"
			return err
		}
	}
	return nil
}

// within names a refused field by the container it was found in.
func within(fd protoreflect.FieldDescriptor, err error) error {
	if fe, ok := err.(*event.FieldError); ok {
		fe.Field = string(fd.Name()) + "." + fe.Field
	}
	return err
}

// checkMetadataValue reports what a metadata string holds, if anything
// CheckMetadata refuses, as a FieldError whose Field the caller fills in.
func checkMetadataValue(s string) *event.FieldError {
	have, scan := triageMetadata(s)
	if !scan {
		return nil
	}
	return scanMetadataValue(s, have)
}

// scanMetadataValue runs the detectors whose triggers s holds (have, from
// triageMetadata) and remembers s as clean when none finds anything. s is
// kept, so it must not alias memory that changes.
func scanMetadataValue(s string, have trigger) *event.FieldError {
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
			return &event.FieldError{Reason: "holds what looks like " + md.what + "; metadata is committed in the clear and shown to every reader, so it must not hold secrets or personal data: put it in a content field (messages, arguments, results), which the developer view masks, or leave it out"}
		}
	}
	cleanMetadata.add(s)
	return nil
}

// triageMetadata reports whether a metadata string needs the detectors
// (scan), and which of their triggers it holds. It keeps nothing of s.
func triageMetadata(s string) (have trigger, scan bool) {
	if len(s) < 6 || isUUID(s) {
		return 0, false // nothing refused is this short, or a UUID
	}
	// Metadata is short: triage it as Text does, and run only the
	// detectors whose triggers it holds (most ids and names hold none).
	have = trAll
	if len(s) <= maxTriaged {
		have = triggersOf(s)
	}
	if have&metadataNeeds == 0 {
		return 0, false
	}
	// Metadata values repeat from event to event (agent, session and model
	// ids, versions, hashes): one that any detector must look at is
	// remembered once found clean, and not scanned again. (The gitleaks
	// rules that long runs call for are the costliest; the others, run on
	// every event, still cost a few percent of an append.)
	if cleanMetadata.has(s) {
		return 0, false
	}
	return have, true
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
