package redact

import (
	"testing"
)

// untriagedRedactor returns r with triage off: every detector runs on
// every text.
func untriagedRedactor(r *Redactor) *Redactor {
	u := *r
	u.untriaged = true
	return &u
}

// untriagedMetadata is checkMetadataValue without its triage, its length
// and UUID shortcuts, or its cache of clean values: every metadata
// detector runs on s. It reports whether one finds anything.
func untriagedMetadata(s string) bool {
	sc := scanners.Get().(*scanner)
	defer sc.release()
	sc.reset(s)
	for _, md := range metadataDetectors {
		if ms := md.d.find(&sc.in, sc.matches[:0]); len(ms) > 0 {
			sc.matches = ms
			return true
		}
	}
	return false
}

// checkTriage fails when triage changes an answer for s: what Text or the
// JSON content scan returns, or whether a metadata string is refused.
// Triage only skips detectors that cannot match, so that skipping them
// must never show.
func checkTriage(t *testing.T, r, u *Redactor, s string) {
	t.Helper()
	if got, want := r.Text(s), u.Text(s); got != want {
		t.Fatalf("Text(%q) = %q, want %q (as without triage)", s, got, want)
	}
	if got, want := r.content(s), u.content(s); got != want {
		t.Fatalf("content(%q) = %q, want %q (as without triage)", s, got, want)
	}
	if got, want := checkMetadataValue(s) != nil, untriagedMetadata(s); got != want {
		t.Fatalf("metadata %q refused: got %v, want %v (as without triage)", s, got, want)
	}
}

// FuzzTriage checks that triage never changes an answer, on any string.
func FuzzTriage(f *testing.F) {
	for _, s := range textSeeds(f) {
		f.Add(s)
	}
	r := defaultRedactor(f)
	u := untriagedRedactor(r)
	f.Fuzz(func(t *testing.T, s string) {
		checkTriage(t, r, u, s)
	})
}

// triageSeeds are texts at the edges of the triggers: each is at most a
// trigger's threshold, with what a detector may still find in it.
var triageSeeds = []string{
	"SS 00A00A0A",           // a national id after its context, with five digits
	"SSN: AB12345",          // the same, keyed
	"jane(at)example.com",   // an obfuscated address
	"jane%40example.com",    // a URL-encoded one
	"my password is hunter", // a password with no digit or separator
	"sk_live_abcdefghij",    // a gitleaks rule's key, shorter than minKeyRun
	"pass aaa!",             // a password with no other trigger
	"the wifi passcode is open-sesame",
	"mysql -u app -psecret!",
}

// TestTriageChangesNothing runs checkTriage over the corpora and the seeds,
// so that every run of the tests checks them, not only fuzzing.
func TestTriageChangesNothing(t *testing.T) {
	r := defaultRedactor(t)
	u := untriagedRedactor(r)
	for _, s := range textSeeds(t) {
		checkTriage(t, r, u, s)
	}
}
