package verify_test

import (
	"errors"
	"testing"

	"github.com/agenttrail/agenttrail/clients/go/verify"
)

func TestVerifierKeyStringRoundTrips(t *testing.T) {
	for _, s := range []string{
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		newTestKey(t, testOrigin, "log key").vkey,
	} {
		k, err := verify.ParseVerifierKey(s)
		if err != nil {
			t.Fatalf("ParseVerifierKey(%q): %v", s, err)
		}
		if got := k.String(); got != s {
			t.Errorf("String() = %q, want %q", got, s)
		}
	}
}

func TestParseVerifierKeyRejectsWhatNoteRejects(t *testing.T) {
	// An unknown key type byte with a correct hash: note.NewVerifier rejects
	// it too, as an unknown algorithm.
	_, err := verify.ParseVerifierKey(makeKey("x", 0x04, make([]byte, 32)))
	if !errors.Is(err, verify.ErrMalformed) {
		t.Errorf("got %v, want ErrMalformed", err)
	}
}
