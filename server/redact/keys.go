package redact

import "strings"

// keyKind is what the name of a key says about its value: the key of a
// config assignment ("api_key=..."), of a header ("X-Api-Key: ...") or of a
// JSON object member ({"password": "..."}).
type keyKind uint8

const (
	keyOther      keyKind = iota
	keyAPIKey             // the value is an API key, token or other secret
	keyPassword           // the value is a password
	keyPhone              // the value is a phone number
	keyNationalID         // the value is a national id number
)

// Name suffixes, compared after lower-casing the name and dropping "_", "-"
// and ".", so that "apiKey", "API_KEY", "x-api-key" and "openai.api_key"
// all end in "apikey". Plain "key" is not among them: {"key": "env"} is a
// name, not a secret.
var (
	apiKeyNames = []string{
		"apikey", "secretkey", "accesskey", "privatekey", "signingkey",
		"encryptionkey", "masterkey", "token", "secret", "credential",
		"credentials", "clientsecret",
	}
	passwordNames = []string{"password", "passwd", "pwd", "passphrase"}
	phoneNames    = []string{"phone", "phonenumber", "mobile", "mobilenumber", "tel", "telephone", "cell", "cellphone", "fax", "msisdn", "whatsapp"}
	idNames       = []string{"ssn", "socialsecuritynumber", "nino", "nationalinsurancenumber", "nationalid", "nationalidnumber"}
)

// maxKeyName is the longest key name classified; longer names are not
// config keys.
const maxKeyName = 64

// classifyKey returns what the key name says about its value.
func classifyKey(name string) keyKind {
	if len(name) > maxKeyName {
		return keyOther
	}
	var buf [maxKeyName]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c == '-' || c == '.' || c == ' ' {
			continue
		}
		buf[n] = lower(c)
		n++
	}
	norm := string(buf[:n]) // does not escape: compared and dropped
	switch {
	case hasAnySuffix(norm, passwordNames):
		return keyPassword
	case hasAnySuffix(norm, apiKeyNames):
		return keyAPIKey
	case isAnyOf(norm, phoneNames):
		return keyPhone
	case isAnyOf(norm, idNames):
		return keyNationalID
	}
	return keyOther
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

func isAnyOf(s string, names []string) bool {
	for _, x := range names {
		if s == x {
			return true
		}
	}
	return false
}

// placeholders are values of secret-named keys that hold no secret: types
// in schemas and code, empty markers, and words standing in for a value.
var placeholders = []string{
	"str", "string", "bytes", "text", "secretstr", "null", "none", "nil",
	"undefined", "true", "false", "required", "optional", "redacted",
	"hidden", "masked", "password", "secret", "token", "example", "xxx",
	"changeme", "your_api_key", "<redacted>",
}

// isSecretValue reports whether the value of a secret-named key holds a
// secret rather than a placeholder: it is at least min bytes long, is not a
// placeholder word, a template or variable reference ("${API_KEY}",
// "$TOKEN", "{{ secret }}", "<token>", "%s"), a mask ("[API_KEY]"), a run of
// one repeated character ("********", "xxxxxxxx"), or an upper-case constant
// name such as "YOUR_API_KEY".
func isSecretValue(v string, min int) bool {
	if len(v) < min {
		return false
	}
	switch v[0] {
	case '$', '<', '{', '%', '[', '*':
		return false
	}
	for _, p := range placeholders {
		if strings.EqualFold(v, p) {
			return false
		}
	}
	same, constant := true, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != v[0] {
			same = false
		}
		if !isUpper(c) && c != '_' {
			constant = false
		}
	}
	return !same && !constant
}
