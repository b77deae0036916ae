package redact

import "testing"

// textCase is one row of a detector's table test: the text, and what Text
// must return for it.
type textCase struct {
	in, want string
}

// onlyDetector returns a Redactor that runs one built-in detector.
func onlyDetector(t testing.TB, name string) *Redactor {
	t.Helper()
	r, err := New(Policy{Version: "test-" + name, Detectors: []string{name}})
	if err != nil {
		t.Fatalf("New with detector %q: %v", name, err)
	}
	return r
}

// checkText runs a detector's table: each input must redact to its want,
// and each want must come back unchanged (masks are never masked again).
func checkText(t *testing.T, r *Redactor, cases []textCase) {
	t.Helper()
	for _, tc := range cases {
		if got := r.Text(tc.in); got != tc.want {
			t.Errorf("Text(%q)\n got  %q\n want %q", tc.in, got, tc.want)
		}
		if got := r.Text(tc.want); got != tc.want {
			t.Errorf("Text(%q) (redacting a redacted text)\n got  %q\n want it unchanged", tc.want, got)
		}
	}
}
