package redact

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// Redactor applies one Policy. It is immutable once built, and safe for
// concurrent use by any number of goroutines.
type Redactor struct {
	version string
	// detectors are the enabled built-in detectors in rank order, then the
	// policy's patterns.
	detectors []detector
	// keyed says which kinds of JSON member names mask their values,
	// following the detectors that own them.
	keyed [numKeyKinds]bool
	// plans says what to do with each field of each message of the event
	// model.
	plans map[protoreflect.MessageDescriptor]*messagePlan
	// needs is the union of the triggers the detectors need: a short text
	// with none of them is returned as it is.
	needs trigger
	// decodes is true when encoded runs are decoded and scanned (the
	// "encoded" detector); highEntropyRank is the rank of the
	// high_entropy detector, or -1.
	decodes         bool
	highEntropyRank int
	// col, when set, collects what masking found in one event, so that the
	// same value is masked in every field of it (see Mask). It is set on a
	// copy of the Redactor made for one call, never on the shared one.
	col *collector
	// hasPatterns is true when the policy adds patterns, whose matches
	// masking can create anywhere, so text is always scanned again after
	// masking.
	hasPatterns bool
	// untriaged makes every detector run on every text, as it does on long
	// texts: the tests compare against it to prove that triage (triggersOf)
	// never changes what Text returns.
	untriaged bool
}

// New validates a policy and returns a Redactor that applies it. Every
// error wraps ErrInvalidPolicy and names the entry at fault.
func New(p Policy) (*Redactor, error) {
	if err := checkVersion(p.Version); err != nil {
		return nil, err
	}
	ds, err := enabledDetectors(p.Detectors)
	if err != nil {
		return nil, err
	}
	r := &Redactor{version: p.Version}
	for _, d := range ds {
		switch d.name {
		case "api_key":
			r.keyed[keyAPIKey] = true
		case "password":
			r.keyed[keyPassword] = true
		case "phone":
			r.keyed[keyPhone] = true
		case "national_id":
			r.keyed[keyNationalID] = true
		case "name":
			r.keyed[keyName], r.keyed[keyNameMaybe] = true, true
		case "address":
			r.keyed[keyAddress] = true
		case "dob":
			r.keyed[keyDOB] = true
		case "passport":
			r.keyed[keyPassport] = true
		case "card":
			r.keyed[keyCard] = true
		case "iban":
			r.keyed[keyIBAN] = true
		case "email":
			r.keyed[keyEmail] = true
		}
	}
	names := map[string]bool{}
	for _, b := range builtins {
		names[b.name] = true
	}
	for i, pat := range p.Patterns {
		switch {
		case pat.Name == "":
			return nil, fmt.Errorf("%w: pattern %d has no name", ErrInvalidPolicy, i)
		case names[pat.Name]:
			return nil, fmt.Errorf("%w: pattern name %q is already used by a detector or another pattern", ErrInvalidPolicy, pat.Name)
		}
		names[pat.Name] = true
		d, err := compilePattern(pat)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	r.detectors = ds
	r.hasPatterns = len(p.Patterns) > 0
	r.highEntropyRank = -1
	for rank, d := range ds {
		switch d.name {
		case "encoded":
			r.decodes = true
		case "high_entropy":
			r.highEntropyRank = rank
		}
	}
	for _, d := range ds {
		r.needs |= d.needs
	}
	if err := r.checkMasks(p.Patterns); err != nil {
		return nil, err
	}
	if r.plans, err = buildPlans(p.FieldClasses); err != nil {
		return nil, err
	}
	return r, nil
}

// checkMasks rejects a policy in which a detector would match a mask: a
// pattern's own mask or a built-in one. Masking would then not be
// idempotent: a second pass would mask the masks.
func (r *Redactor) checkMasks(patterns []Pattern) error {
	builtinMasks := []string{
		maskEmail, maskPhone, maskIBAN, maskNationalID, maskIP, maskAPIKey,
		"Bearer " + maskToken, "Basic " + maskToken, maskJWT, maskPrivateKey,
		maskPassword, maskPersonal, maskSecret, "[CARD ****4242]",
	}
	for _, m := range builtinMasks {
		if got := r.Text(m); got != m {
			return fmt.Errorf("%w: a pattern matches the built-in mask %q", ErrInvalidPolicy, m)
		}
	}
	for _, p := range patterns {
		if got := r.Text(p.Mask); got != p.Mask {
			return fmt.Errorf("%w: pattern %q: its mask %q is itself masked (as %q)", ErrInvalidPolicy, p.Name, p.Mask, got)
		}
	}
	return nil
}

// Version returns the version of the policy the Redactor applies, to be
// stated in every view it redacts (View.policy_version).
func (r *Redactor) Version() string { return r.version }

// Text masks the personal data and secrets found in free text by the
// policy's detectors and patterns, and returns the result. Text that holds
// nothing to mask is returned as it is, without allocating. Text never
// treats its input as JSON; Event does, for content fields.
func (r *Redactor) Text(s string) string { return r.text(s) }

// Event returns the developer view of an event: a new event, sharing no
// memory with ev, which is not modified. In the view:
//
//   - every field of the event header (METADATA, reached through METADATA
//     containers) is unchanged, so that the view's header equals the
//     committed one;
//   - every field whose class, after the policy's overrides, is PERSONAL or
//     SECRET is masked whole: each string in it, in nested messages, lists
//     and map values alike, becomes "[PERSONAL]" or "[SECRET]"; numbers,
//     booleans and enums stay;
//   - every other string of the content (CONTENT fields and everything
//     inside them, map keys included, except fields overridden to
//     "metadata") is scanned: JSON text is walked value by value (see
//     the package documentation), anything else is scanned as Text;
//   - unknown fields are dropped, since their class is unknown.
//
// Event(nil) returns nil.
func (r *Redactor) Event(ev *agenttrailv1.Event) *agenttrailv1.Event {
	if ev == nil {
		return nil
	}
	out := proto.Clone(ev).(*agenttrailv1.Event)
	r.Mask(out)
	return out
}

// Mask is Event in place: it turns ev itself into its developer view. Use it
// on an event nothing else refers to, such as one just decoded from the
// store, to save Event's copy. Mask(nil) does nothing.
//
// A value masked in one field is masked wherever else it occurs in the
// event's content, with the same mask, even where no detector would find
// it alone (a password given once with its name and repeated bare, a key
// used as a map key).
func (r *Redactor) Mask(ev *agenttrailv1.Event) {
	if ev == nil {
		return
	}
	rc := *r
	rc.col = &collector{}
	rc.message(ev.ProtoReflect(), modeHeader)
	if len(rc.col.found) > 0 {
		rc.col.sort()
		rc.propagate(ev.ProtoReflect(), modeHeader)
	}
}
