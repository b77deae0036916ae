package redact

import (
	"strings"
	"testing"
	"time"
)

func TestTriggersOf(t *testing.T) {
	tests := []struct {
		in   string
		want trigger
	}{
		{"", 0},
		{"lost_in_transit", 0},
		{"GBP", trCapital},
		{"web en-GB", trCapital},
		{"Bearer", trB | trCapital},
		{"BASIC", trB | trCapital},
		{"-----BEGIN", trB | trCapital},
		{"a@c", trAt},
		{"k=v", trSep},
		{"09:30", trSep | trDigit},
		{"eyJ", trJ | trCapital},
		{"50%", trSep | trDigit},

		{"4411", trDigit},
		{"44112", trDigits | trDigit}, // a national id after its context may have five
		{"441122", trDigits | trDigit},
		{"1.2.3.4", trDottedDigits | trDigit},
		{"v1.2.3", trDigit},
		{"café", trCapital}, // a non-ASCII letter may be a capital
		{strings.Repeat("x", 15), 0},
		{strings.Repeat("x", 16), trSecret},
		{"sk_live_abcdefghij", trSecret}, // a gitleaks rule's key may be shorter than minKeyRun
		{"x.y~z" + strings.Repeat("x", 11), trSecret},
		{strings.Repeat("x", 8) + " " + strings.Repeat("x", 8), 0},
		{strings.Repeat("x", 19), trSecret},
		{strings.Repeat("x", 20), trRun | trSecret},
		{strings.Repeat("a/", 10), trRun | trSecret},
		{"Bearer x@y 1.2.3.4 eyJ " + strings.Repeat("k", 25), trAt | trJ | trB | trDottedDigits | trRun | trCapital | trDigit | trSecret},
	}
	for _, tt := range tests {
		if got := triggersOf(tt.in); got != tt.want {
			t.Errorf("triggersOf(%q) = %011b, want %011b", tt.in, got, tt.want)
		}
	}
}

func TestPasswordTrigger(t *testing.T) {
	tests := []struct {
		in   string
		want trigger
	}{
		{"pass aaa!", trPass}, // a password after its context word, in a text with no other trigger
		{"the wifi passcode is open-sesame", trPass},
		{"mot de passe x", trPass},
		{"passenger", trPass}, // a superset: the lexicon decides
		{"bypass", 0},
		{"mysql -u app -psecret", trPass},
		{"well - maybe", 0},
		{"lost_in_transit", 0},
	}
	for _, tt := range tests {
		if got := passwordTrigger(tt.in); got != tt.want {
			t.Errorf("passwordTrigger(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestISOTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"2026-11-02", true},
		{"2026-11-02T09:30:00Z", true},
		{"2026-11-02T09:30Z", true},
		{"2026-11-02 09:30:00.123456+01:00", true},
		{"2026-11-02T09:30:00-0500", true},
		{"2026-11-02T09:30:00+05", true},
		{"2026-11-02T09:30:00.123456789Z", true},
		// Near misses.
		{"2026-11-02T09:30:00.Z", false},
		{"2026-11-02T09:30:00.1234567890Z", false},
		{"2026-11-02T09", false},
		{"2026-11-02 4155550132", false},
		{"2026-11-02Z", false},
		{"2026-11-0", false},
		{"202-11-02", false},
		{"2026/11/02", false},
		{"2026-11-02T09:30:00Z ", false},
		{"2026-11-02T09:30:00+01:00:00", false},
	} {
		if got := isISOTime(tc.in); got != tc.want {
			t.Errorf("isISOTime(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTriggersCoverDetectors(t *testing.T) {
	// Every sensitive corpus line short enough to be triaged must have
	// the triggers of the detectors that mask it: otherwise triage would
	// skip them. (The corpus test checks the masking itself.)
	r := defaultRedactor(t)
	for _, l := range loadCorpus(t, "sensitive.jsonl") {
		if len(l.Text) > maxTriaged {
			continue
		}
		if triggersOf(l.Text)&r.needs == 0 {
			t.Errorf("triggersOf(%q) has no trigger of any detector", l.Text)
		}
	}
}

func TestApplyMergesOverlaps(t *testing.T) {
	s := "0123456789"
	got, _ := apply(s, []match{
		{start: 2, end: 5, mask: "[B]", rank: 1},
		{start: 4, end: 7, mask: "[A]", rank: 0},
		{start: 8, end: 9, mask: "[C]", rank: 2},
	})
	if want := "01[A]7[C]9"; got != want {
		t.Errorf("apply = %q, want %q (the union of overlapping matches, with the lowest rank's mask)", got, want)
	}
}

func TestTextScansAgainWhenMaskingMakesABoundary(t *testing.T) {
	r := defaultRedactor(t)
	// The card number is glued to the address: in the text as written, a
	// letter precedes it, so it is not a card number on its own; once the
	// address is masked, a "]" precedes it, and the second round masks it.
	in := "mail jane@example.com4242424242424242 now"
	if got, want := r.Text(in), "mail [EMAIL][CARD ****4242] now"; got != want {
		t.Errorf("Text(%q) = %q, want %q", in, got, want)
	}
}

// TestAdversarialInputsTakeLinearTime redacts 64 KiB texts built to make a
// careless scanner quadratic: long runs of what each detector looks for,
// most of it never completing a match. Linear scanning takes milliseconds;
// a quadratic one takes many seconds.
func TestAdversarialInputsTakeLinearTime(t *testing.T) {
	const size = 64 << 10
	r := defaultRedactor(t)
	for _, unit := range []string{
		"a.", "a@", "@a", "a@a.", "::", "1:", "a://", "a://a", "eyJ", "eyJ.", "J",
		"Bearer ", "bearer b", "-----BEGIN ", "-----BEGIN x", "password=", "password=x",
		"api_key:", "1 ", "1-", "+1 ", "(1) ", "4242 ", "GB82", "AB12 ", "1.", "1.1.", "k", "k/",
		"$", "${a:", "\\n", "sk-", "AKIA", "ghp_", "x", "api_key:a", "api_key=a(", "token=${", "password:'",
		"x@a.com", "a-", "a.b@", "%", "::ffff:1.", "fe80::1%", "\"apiKey\":\"",
	} {
		text := strings.Repeat(unit, size/len(unit))
		done := make(chan struct{})
		go func() {
			r.Text(text)
			r.content("[" + text + "]")
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("Text(%q repeated to 64 KiB) took over 20 s: a detector is not linear", unit)
		}
	}
}

func TestHoldsMask(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"$[API_KEY]", true},
		{"a[CARD ****4242]b", true},
		{"[x][PASSWORD]", true},
		{"[API_KEY", false},
		{"[Secret]", false},
		{"hunter2", false},
	} {
		if got := holdsMask(tt.in); got != tt.want {
			t.Errorf("holdsMask(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
