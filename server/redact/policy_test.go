package redact

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	if got, want := p.Version, "builtin-2"; got != want {
		t.Errorf("DefaultPolicy().Version = %q, want %q", got, want)
	}
	r, err := New(p)
	if err != nil {
		t.Fatalf("New(DefaultPolicy()): %v", err)
	}
	if got := r.Version(); got != p.Version {
		t.Errorf("Version() = %q, want %q", got, p.Version)
	}
	var names []string
	for _, d := range r.detectors {
		names = append(names, d.name)
	}
	if want := DetectorNames(); !slices.Equal(names, want) {
		t.Errorf("default detectors = %v, want every built-in one %v", names, want)
	}
}

func TestLoadPolicy(t *testing.T) {
	const doc = `{
	  "version": "2026-11-01",
	  "detectors": ["card", "email"],
	  "patterns": [{"name": "customer_id", "regexp": "CUST-[0-9]{8}", "mask": "[CUSTOMER_ID]"}],
	  "field_classes": {"agenttrail.v1.ToolCall.result": "secret"}
	}`
	p, err := LoadPolicy(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("LoadPolicy: %v", err)
	}
	if got, want := p.Version, "2026-11-01"; got != want {
		t.Errorf("Version = %q, want %q", got, want)
	}
	if got, want := p.Detectors, []string{"card", "email"}; !slices.Equal(got, want) {
		t.Errorf("Detectors = %v, want %v", got, want)
	}
	if got, want := p.FieldClasses["agenttrail.v1.ToolCall.result"], "secret"; got != want {
		t.Errorf("FieldClasses[ToolCall.result] = %q, want %q", got, want)
	}
	r, err := New(p)
	if err != nil {
		t.Fatalf("New(loaded policy): %v", err)
	}
	// Detector order follows rank, not the order listed.
	var names []string
	for _, d := range r.detectors {
		names = append(names, d.name)
	}
	if want := []string{"card", "email", "customer_id"}; !slices.Equal(names, want) {
		t.Errorf("detectors = %v, want %v", names, want)
	}
	if got, want := r.Text("jane@example.com, 4155550132, CUST-00412345"), "[EMAIL], 4155550132, [CUSTOMER_ID]"; got != want {
		t.Errorf("Text = %q, want %q (phone detector not enabled)", got, want)
	}

	// A policy survives a round trip through JSON, including "no detectors".
	none := Policy{Version: "none", Detectors: []string{}}
	data, err := json.Marshal(none)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := LoadPolicy(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("LoadPolicy(%s): %v", data, err)
	}
	if back.Detectors == nil || len(back.Detectors) != 0 {
		t.Errorf("round trip of %s: Detectors = %#v, want an empty, non-nil list", data, back.Detectors)
	}
	all, err := LoadPolicy(strings.NewReader(`{"version": "all"}`))
	if err != nil {
		t.Fatalf("LoadPolicy without detectors: %v", err)
	}
	if all.Detectors != nil {
		t.Errorf("absent detectors loaded as %#v, want nil (every detector)", all.Detectors)
	}
}

func TestLoadPolicyRejects(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown member", `{"version": "v1", "detector": ["email"]}`, `unknown field "detector"`},
		{"trailing data", `{"version": "v1"} {"version": "v2"}`, "data after the policy object"},
		{"not JSON", `version: v1`, "invalid character"},
		{"no version", `{"detectors": ["email"]}`, "version is required"},
		{"bad detector", `{"version": "v1", "detectors": ["emails"]}`, `unknown detector "emails"`},
		{"bad pattern", `{"version": "v1", "patterns": [{"name": "p1", "regexp": "[", "mask": "[P]"}]}`, `pattern "p1"`},
		{"bad field", `{"version": "v1", "field_classes": {"agenttrail.v1.ToolCall.results": "secret"}}`, `"agenttrail.v1.ToolCall.results" is not a field`},
	}
	for _, tt := range tests {
		_, err := LoadPolicy(strings.NewReader(tt.doc))
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: LoadPolicy error = %v, want one wrapping ErrInvalidPolicy", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: LoadPolicy error = %q, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		want   string
	}{
		{"empty version", Policy{}, "version is required"},
		{"version with space", Policy{Version: "v 1"}, "holds a space"},
		{"version too long", Policy{Version: strings.Repeat("v", 129)}, "at most 128"},
		{"unknown detector", Policy{Version: "v1", Detectors: []string{"ssn"}}, `unknown detector "ssn"`},
		{"repeated detector", Policy{Version: "v1", Detectors: []string{"email", "email"}}, `"email" is listed twice`},
		{"short field name", Policy{Version: "v1", FieldClasses: map[string]string{"ToolCall.result": "secret"}}, `"ToolCall.result" is not a field`},
		{"message, not field", Policy{Version: "v1", FieldClasses: map[string]string{"agenttrail.v1.ToolCall": "secret"}}, "is not a field"},
		{"unknown class", Policy{Version: "v1", FieldClasses: map[string]string{"agenttrail.v1.ToolCall.result": "private"}}, `unknown class "private"`},
		{"class in upper case", Policy{Version: "v1", FieldClasses: map[string]string{"agenttrail.v1.ToolCall.result": "SECRET"}}, `unknown class "SECRET"`},
		{"header field", Policy{Version: "v1", FieldClasses: map[string]string{"agenttrail.v1.Event.user_id": "personal"}}, `"agenttrail.v1.Event.user_id" is in the event header`},
		{"header container", Policy{Version: "v1", FieldClasses: map[string]string{"agenttrail.v1.Event.llm_call": "secret"}}, "is in the event header"},
		{"nested header field", Policy{Version: "v1", FieldClasses: map[string]string{"agenttrail.v1.Cost.micros": "secret"}}, "is in the event header"},
		{"filter field", Policy{Version: "v1", FieldClasses: map[string]string{"agenttrail.v1.Filter.user_id": "personal"}}, "is in the event header"},
	}
	for _, tt := range tests {
		_, err := New(tt.policy)
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: New error = %v, want one wrapping ErrInvalidPolicy", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error = %q, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestNewAcceptsOverridesOutsideHeader(t *testing.T) {
	for field, class := range map[string]string{
		"agenttrail.v1.ToolCall.result":          "secret",
		"agenttrail.v1.Event.labels":             "metadata",
		"agenttrail.v1.SessionStart.client_ip":   "content",
		"agenttrail.v1.ChatMessage.tool_call_id": "personal", // METADATA, but only ever inside content
		"agenttrail.v1.ToolDefinition.name":      "metadata",
	} {
		if _, err := New(Policy{Version: "v1", FieldClasses: map[string]string{field: class}}); err != nil {
			t.Errorf("New with %s=%s: %v, want it accepted", field, class, err)
		}
	}
}
