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

// maxKeyName is the longest key name classified; longer names are not
// config keys.
const maxKeyName = 64

// classifyKey returns what the name of a key says about its value. Names
// are compared after lower-casing them and dropping "_", "-", "." and
// spaces, so that "apiKey", "API_KEY", "x-api-key" and "openai.api_key"
// all read "...apikey". Secrets are recognized by the end of the name:
//
//   - passwords: ...password, ...passwd, ...pwd, ...passphrase;
//   - keys and tokens: ...apikey, ...secretkey, ...accesskey,
//     ...privatekey, ...signingkey, ...encryptionkey, ...masterkey,
//     ...token, ...secret, ...credential(s). Plain "key" is not one:
//     {"key": "env"} is a name, not a secret;
//
// and phone numbers and national ids by the whole name: phone,
// phonenumber, mobile, mobilenumber, tel, telephone, cell, cellphone, fax,
// msisdn, whatsapp; ssn, socialsecuritynumber, nino,
// nationalinsurancenumber, nationalid, nationalidnumber.
func classifyKey(name string) keyKind {
	if len(name) > maxKeyName {
		return keyOther
	}
	// The last three letters pick the few names to compare; most keys of
	// JSON arguments match no case and are never normalized.
	tail := lastLetters(name)
	switch string(tail[:]) {
	case "ord", "swd", "pwd", "ase", "key", "ken", "ret", "ial", "als",
		"one", "ber", "ile", "tel", "ell", "fax", "sdn", "app", "ssn", "ino", "lid":
	default:
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
	if n < 3 {
		return keyOther
	}
	norm := buf[:n]
	switch string(norm[n-3:]) {
	case "ord", "swd", "pwd", "ase":
		if endsWithAny(norm, "password", "passwd", "pwd", "passphrase") {
			return keyPassword
		}
	case "key":
		if endsWithAny(norm, "apikey", "secretkey", "accesskey", "privatekey", "signingkey", "encryptionkey", "masterkey") {
			return keyAPIKey
		}
	case "ken", "ret", "ial", "als":
		if endsWithAny(norm, "token", "secret", "credential", "credentials") {
			return keyAPIKey
		}
	case "one", "ber", "ile", "tel", "ell", "fax", "sdn", "app":
		if isAnyOf(norm, "phone", "phonenumber", "mobile", "mobilenumber", "tel", "telephone", "cell", "cellphone", "fax", "msisdn", "whatsapp") {
			return keyPhone
		}
		if isAnyOf(norm, "socialsecuritynumber", "nationalinsurancenumber", "nationalidnumber") {
			return keyNationalID
		}
	case "ssn", "ino", "lid":
		if isAnyOf(norm, "ssn", "nino", "nationalid") {
			return keyNationalID
		}
	}
	return keyOther
}

// lastLetters returns the last three bytes of a key name that are not
// separators ("_", "-", ".", " "), in lower case, or zeros when there are
// fewer.
func lastLetters(name string) [3]byte {
	var t [3]byte
	n := 3
	for i := len(name) - 1; i >= 0 && n > 0; i-- {
		c := name[i]
		if c == '_' || c == '-' || c == '.' || c == ' ' {
			continue
		}
		n--
		t[n] = lower(c)
	}
	if n > 0 {
		return [3]byte{}
	}
	return t
}

// endsWithAny reports whether name ends with one of suffixes.
func endsWithAny(name []byte, suffixes ...string) bool {
	for _, x := range suffixes {
		if len(x) <= len(name) && string(name[len(name)-len(x):]) == x {
			return true
		}
	}
	return false
}

// isAnyOf reports whether name is one of names.
func isAnyOf(name []byte, names ...string) bool {
	for _, x := range names {
		if string(name) == x {
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
