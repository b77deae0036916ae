package redact

import (
	"errors"
	"strings"
	"testing"
)

func TestPatternMasksMatches(t *testing.T) {
	r, err := New(Policy{
		Version:   "test-patterns",
		Detectors: []string{},
		Patterns: []Pattern{
			{Name: "customer_id", Regexp: `CUST-[0-9]{8}`, Mask: "[CUSTOMER_ID]"},
			{Name: "ticket", Regexp: `(?i)\bticket\s+#\d+`, Mask: "[TICKET]"},
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	checkText(t, r, []textCase{
		{"customer CUST-00412345 asked", "customer [CUSTOMER_ID] asked"},
		{"CUST-00412345,CUST-99999999", "[CUSTOMER_ID],[CUSTOMER_ID]"},
		{"see Ticket #4411", "see [TICKET]"},
		{"CUST-123 is too short", "CUST-123 is too short"},
		{"nothing here", "nothing here"},
	})
}

func TestPatternValidation(t *testing.T) {
	tests := []struct {
		name    string
		pattern Pattern
		want    string // in the error
	}{
		{"bad regexp", Pattern{Name: "broken", Regexp: `(`, Mask: "[X]"}, `"broken"`},
		{"empty match", Pattern{Name: "empty", Regexp: `a*`, Mask: "[X]"}, "matches the empty string"},
		{"empty mask", Pattern{Name: "nomask", Regexp: `abc`, Mask: ""}, "mask is empty"},
		{"matches own mask", Pattern{Name: "loop", Regexp: `[A-Z]{3,}`, Mask: "[REDACTED]"}, "matches its own mask"},
		{"no name", Pattern{Regexp: `abc`, Mask: "[X]"}, "has no name"},
		{"builtin name", Pattern{Name: "email", Regexp: `abc`, Mask: "[X]"}, `"email" is already used`},
		{"mask caught by a detector", Pattern{Name: "mailish", Regexp: `abc`, Mask: "ops@example.com"}, "is itself masked"},
		{"matches a builtin mask", Pattern{Name: "brackets", Regexp: `\[EMAIL\]`, Mask: "<e>"}, `built-in mask "[EMAIL]"`},
	}
	for _, tt := range tests {
		_, err := New(Policy{Version: "v1", Patterns: []Pattern{tt.pattern}})
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: New error = %v, want one wrapping ErrInvalidPolicy", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error = %q, want it to mention %q", tt.name, err, tt.want)
		}
	}
	_, err := New(Policy{Version: "v1", Patterns: []Pattern{
		{Name: "a", Regexp: `abc`, Mask: "[A]"},
		{Name: "a", Regexp: `def`, Mask: "[B]"},
	}})
	if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), `"a" is already used`) {
		t.Errorf("duplicate pattern names: New error = %v, want ErrInvalidPolicy naming %q", err, "a")
	}
}
