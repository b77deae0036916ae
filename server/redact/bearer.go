package redact

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// findBearerTokens finds the credentials of HTTP authorization schemes and
// masks them after the scheme name, which stays visible
// ("Authorization: Bearer [TOKEN]"):
//
//   - "Bearer <token>", in any case, anywhere: the token is at least 8
//     characters of the RFC 6750 token alphabet and holds a digit or both
//     upper- and lower-case letters, so that prose ("bearer tokens",
//     "Bearer authentication") and placeholders ("Bearer YOUR_TOKEN",
//     "Bearer <token>", "Bearer $TOKEN") are left alone;
//   - "Basic <credentials>": the credentials are base64 that decodes to
//     printable text holding the ":" between a user and a password.
func findBearerTokens(in *input, dst []match) []match {
	s := in.s
	// Both scheme names start with a B, rarer in text than their other
	// letters, so the search is for "B" and "b".
	initials := []byte{'B', 'b'}
	if containsFold(s, "authorization") {
		initials = append(initials, 'T', 't') // "Authorization: Token ..."
	}
	for _, initial := range initials {
		for from := 0; ; {
			k := strings.IndexByte(s[from:], initial)
			if k < 0 {
				break
			}
			i := from + k
			from = i + 1
			if isWord(before(s, i)) {
				continue
			}
			var valid func(string) bool
			switch {
			case hasPrefixFold(s, i, "bearer"):
				i += len("bearer")
				valid = isBearerToken
			case hasPrefixFold(s, i, "basic"):
				i += len("basic")
				valid = isBasicCredentials
			case hasPrefixFold(s, i, "token") && !isWord(at(s, i+5)) && authorizationBefore(s, i):
				// "Authorization: Token <hex>", GitHub's "token <hex>".
				i += len("token")
				valid = isTokenSchemeCredential
			default:
				continue
			}
			if start, end, ok := schemeCredentials(s, i, valid); ok {
				dst = append(dst, match{start: start, end: end, mask: maskToken})
				from = end
			}
		}
	}
	return dst
}

// schemeCredentials returns the bounds of the credentials after the
// authorization scheme name that ends at s[i]: white space, then a token
// that valid accepts.
func schemeCredentials(s string, i int, valid func(string) bool) (start, end int, ok bool) {
	if c := at(s, i); c != ' ' && c != '\t' {
		return 0, 0, false
	}
	j := i
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	end = j
	for end < len(s) && isTokenChar(s[end]) {
		end++
	}
	for end < len(s) && s[end] == '=' {
		end++
	}
	if end == j || isWord(at(s, end)) || !valid(s[j:end]) {
		return 0, 0, false
	}
	return j, end, true
}

// isTokenChar reports whether c belongs to the token68 alphabet of RFC 7235
// (less the trailing "=" padding).
func isTokenChar(c byte) bool {
	return isKeyChar(c) || c == '.' || c == '~' || c == '+' || c == '/'
}

// isBearerToken reports whether tok is a bearer token rather than a word or
// a placeholder.
func isBearerToken(tok string) bool {
	if !isSecretValue(tok, 8) {
		return false
	}
	var up, lo, dig bool
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case isUpper(c):
			up = true
		case isLower(c):
			lo = true
		case isDigit(c):
			dig = true
		}
	}
	return dig || up && lo
}

// isBasicCredentials reports whether tok is base64 of "user:password".
func isBasicCredentials(tok string) bool {
	if len(tok) < 8 || len(tok) > 1024 {
		return false
	}
	var buf [768]byte
	n, err := base64.StdEncoding.Decode(buf[:], []byte(tok))
	if err != nil {
		return false
	}
	dec := buf[:n]
	if !utf8.Valid(dec) {
		return false
	}
	colon := false
	for _, c := range dec {
		if c < 0x20 || c == 0x7f {
			return false
		}
		colon = colon || c == ':'
	}
	return colon
}

// authorizationBefore reports whether the word "Authorization" (a header
// name) comes just before s[i], with a colon or quotes between.
func authorizationBefore(s string, i int) bool {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == ':' || s[j-1] == '"' || s[j-1] == '\'' || s[j-1] == '=') && i-j < 4 {
		j--
	}
	return j >= len("authorization") && hasPrefixFold(s, j-len("authorization"), "authorization")
}

// isTokenSchemeCredential reports whether tok is the credential of the
// "Token" scheme: at least 16 characters, hex or a bearer token.
func isTokenSchemeCredential(tok string) bool {
	if len(tok) < 16 {
		return false
	}
	if isHexString(tok) {
		return digitCount(tok) > 0 && digitCount(tok) < len(tok)
	}
	return isBearerToken(tok)
}
