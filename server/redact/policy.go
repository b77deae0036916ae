package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrInvalidPolicy is wrapped by every error that rejects a policy: a
// missing version, an unknown or repeated detector, a pattern that does not
// compile, and a field class override naming no field, naming a header
// field, or naming no class. The message names the offending entry.
var ErrInvalidPolicy = errors.New("invalid redaction policy")

// builtinVersion is the version of DefaultPolicy. It changes whenever the
// built-in detectors change what they mask.
const builtinVersion = "builtin-2"

// maxVersionLen is the longest policy version accepted; the version is
// stated in every redacted view and recorded in access events.
const maxVersionLen = 128

// Policy says how the developer view of an event is redacted. It is
// configuration: loaded from JSON with LoadPolicy, validated by New, and
// identified by its Version in every view redacted with it.
//
// The JSON form uses the tags below:
//
//	{
//	  "version": "2026-11-01",
//	  "detectors": ["email", "phone", "card", "api_key"],
//	  "patterns": [{"name": "customer_id", "regexp": "CUST-[0-9]{8}", "mask": "[CUSTOMER_ID]"}],
//	  "field_classes": {"agenttrail.v1.ToolCall.result": "secret"}
//	}
type Policy struct {
	// Version names this policy in every view redacted with it, so that a
	// reader (and an auditor) can tell which rules masked what. Required:
	// 1 to 128 printable ASCII characters without spaces. Change it
	// whenever the policy, or the agenttrail release that applies it,
	// changes.
	Version string `json:"version"`
	// Detectors lists the built-in detectors to run on content text, by
	// name (see DetectorNames). Nil (or null in JSON, or absent) enables
	// every detector; an empty list enables none, leaving only the masks
	// of field classes and Patterns.
	Detectors []string `json:"detectors"`
	// Patterns are extra detectors, run after the built-in ones.
	Patterns []Pattern `json:"patterns,omitempty"`
	// FieldClasses overrides the class the event model declares for a
	// field, in the developer view only (storage always follows the
	// model). Keys are full proto field names, such as
	// "agenttrail.v1.ToolCall.result"; values are "personal" or "secret"
	// (mask the field whole), "content" (scan it) or "metadata" (show it
	// as it is). Only fields outside the event header can be overridden:
	// the header is committed in the clear and shown to every reader.
	FieldClasses map[string]string `json:"field_classes,omitempty"`
}

// DefaultPolicy returns the built-in policy: every detector, no extra
// patterns, the field classes of the event model, and the version
// "builtin-2".
func DefaultPolicy() Policy {
	return Policy{Version: builtinVersion}
}

// LoadPolicy reads a Policy from JSON and validates it as New does. Unknown
// members and trailing data are errors, so that a misspelt option is never
// silently ignored. Errors in the JSON or the policy wrap ErrInvalidPolicy.
func LoadPolicy(r io.Reader) (Policy, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Policy{}, fmt.Errorf("read redaction policy: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Policy{}, fmt.Errorf("%w: data after the policy object", ErrInvalidPolicy)
	}
	if _, err := New(p); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// checkVersion validates a policy version.
func checkVersion(v string) error {
	if v == "" {
		return fmt.Errorf("%w: version is required", ErrInvalidPolicy)
	}
	if len(v) > maxVersionLen {
		return fmt.Errorf("%w: version is %d bytes long, at most %d allowed", ErrInvalidPolicy, len(v), maxVersionLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return fmt.Errorf("%w: version %q holds a space, control or non-ASCII character", ErrInvalidPolicy, v)
		}
	}
	return nil
}

// enabledDetectors returns the built-in detectors a policy enables, in rank
// order.
func enabledDetectors(names []string) ([]detector, error) {
	if names == nil {
		return append([]detector(nil), builtins...), nil
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		if want[n] {
			return nil, fmt.Errorf("%w: detector %q is listed twice", ErrInvalidPolicy, n)
		}
		if !isBuiltin(n) {
			return nil, fmt.Errorf("%w: unknown detector %q (known: %v)", ErrInvalidPolicy, n, DetectorNames())
		}
		want[n] = true
	}
	var ds []detector
	for _, d := range builtins {
		if want[d.name] {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

func isBuiltin(name string) bool {
	for _, d := range builtins {
		if d.name == name {
			return true
		}
	}
	return false
}
