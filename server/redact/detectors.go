package redact

import "strings"

// detector finds one kind of sensitive item in free text.
type detector struct {
	// name is how a Policy enables the detector.
	name string
	// find appends to dst the items found in the input, in any order, and
	// returns the extended slice. It must not match any mask a detector
	// writes, so that redacting twice changes nothing more.
	find func(in *input, dst []match) []match
	// needs lists the triggers (see triggersOf) of which the text must
	// hold at least one for find to match anything.
	needs trigger
}

// Mask labels written by the built-in detectors and by field classes.
const (
	maskEmail      = "[EMAIL]"
	maskPhone      = "[PHONE]"
	maskIBAN       = "[IBAN]"
	maskNationalID = "[NATIONAL_ID]"
	maskIP         = "[IP]"
	maskAPIKey     = "[API_KEY]"
	maskToken      = "[TOKEN]"
	maskJWT        = "[JWT]"
	maskPrivateKey = "[PRIVATE_KEY]"
	maskPassword   = "[PASSWORD]"
	maskPersonal   = "[PERSONAL]"
	maskSecret     = "[SECRET]"
)

// maxMaskLabel is the length of the longest mask a built-in detector writes.
const maxMaskLabel = len("[CARD ****4242]")

// isMaskLabel reports whether v is a mask a built-in detector writes, such
// as "[PASSWORD]" or "[CARD ****4242]".
func isMaskLabel(v string) bool {
	switch v {
	case maskEmail, maskPhone, maskIBAN, maskNationalID, maskIP, maskAPIKey, maskToken, maskJWT, maskPrivateKey, maskPassword, maskPersonal, maskSecret, maskDOB, maskPassport:
		return true
	}
	return len(v) == maxMaskLabel && strings.HasPrefix(v, "[CARD ****") && v[len(v)-1] == ']'
}

// holdsMask reports whether v holds a mask a built-in detector wrote: a
// value masked in part by an earlier round ("$[API_KEY]") is not a secret
// of its own, and matching it would mask more on every round.
func holdsMask(v string) bool {
	for i := strings.IndexByte(v, '['); i >= 0; {
		if j := strings.IndexByte(v[i:min(len(v), i+maxMaskLabel)], ']'); j > 0 && isMaskLabel(v[i:i+j+1]) {
			return true
		}
		k := strings.IndexByte(v[i+1:], '[')
		if k < 0 {
			break
		}
		i += 1 + k
	}
	return false
}

// builtins lists the built-in detectors in rank order: when the items two
// detectors find overlap, the mask of the earlier one is written over both.
// Detectors that see the most context come first, so that "Bearer eyJ..."
// reads "Bearer [TOKEN]" rather than "Bearer [JWT]", and a private key block
// is one [PRIVATE_KEY] rather than a run of [API_KEY]s.
var builtins = []detector{
	{name: "encoded", find: func(_ *input, dst []match) []match { return dst }, needs: trRun | trSep},
	{name: "private_key", find: findPrivateKeys, needs: trB},
	{name: "bearer", find: findBearerTokens, needs: trB},
	{name: "jwt", find: findJWTs, needs: trJ},
	{name: "password", find: findPasswords, needs: trAll},
	{name: "api_key", find: findAPIKeys, needs: trSep | trRun},
	{name: "secret_rules", find: findSecretRules, needs: trSecret},
	{name: "national_id", find: func(in *input, dst []match) []match { return findContextIDs(in, findNationalIDs(in, dst)) }, needs: trDigits},
	{name: "card", find: findCards, needs: trDigits},
	{name: "iban", find: findIBANs, needs: trDigits},
	{name: "email", find: findEmails, needs: trAt | trCapital | trSep | trDot},
	{name: "ip", find: findIPs, needs: trDottedDigits | trSep},
	{name: "phone", find: findPhones, needs: trDigits},
	{name: "passport", find: findPassports, needs: trDigit},
	{name: "dob", find: findDOBs, needs: trDigit},
	{name: "address", find: findAddresses, needs: trDigit},
	{name: "name", find: findNames, needs: trCapital},
	{name: "high_entropy", find: findHighEntropy, needs: trRun},
}

// DetectorNames returns the names of the built-in detectors, which a
// Policy's Detectors list may name, in the order their masks take precedence
// when two items overlap.
func DetectorNames() []string {
	names := make([]string, len(builtins))
	for i, d := range builtins {
		names[i] = d.name
	}
	return names
}
