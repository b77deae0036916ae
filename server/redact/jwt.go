package redact

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// findJWTs finds JSON Web Tokens (mask [JWT]): three base64url segments
// joined by dots, the first starting "eyJ" (the encoding of `{"`) and
// decoding to a JSON object with an "alg" member, the second at least two
// characters, the third (the signature) possibly empty, as in an unsecured
// token. A JWE's further segments stay; they are ciphertext.
func findJWTs(in *input, dst []match) []match {
	s := in.s
	for from := 2; from < len(s); {
		// "J" is rare in text, "e" is not: search for the J of "eyJ".
		k := strings.IndexByte(s[from:], 'J')
		if k < 0 {
			return dst
		}
		start := from + k - 2
		from += k + 1
		if s[start] != 'e' || s[start+1] != 'y' {
			continue
		}
		if c := before(s, start); isKeyChar(c) {
			continue
		}
		h := segmentEnd(s, start)
		// No token starts inside this segment: a key character would
		// precede it.
		from = max(from, h)
		if at(s, h) != '.' {
			continue
		}
		p := segmentEnd(s, h+1)
		if p-(h+1) < 2 || at(s, p) != '.' {
			continue
		}
		end := segmentEnd(s, p+1)
		if isJWTHeader(s[start:h]) {
			dst = append(dst, match{start: start, end: end, mask: maskJWT})
			from = end + 2
		}
	}
	return dst
}

// segmentEnd returns the end of the base64url segment starting at s[i].
func segmentEnd(s string, i int) int {
	for i < len(s) && isKeyChar(s[i]) {
		i++
	}
	return i
}

// isJWTHeader reports whether seg is the base64url encoding of a JOSE
// header: a JSON object with an "alg" member.
func isJWTHeader(seg string) bool {
	if len(seg) > 1024 {
		return false
	}
	var buf [768]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(strings.TrimRight(seg, "=")))
	if err != nil {
		return false
	}
	var header map[string]json.RawMessage
	if json.Unmarshal(buf[:n], &header) != nil {
		return false
	}
	_, ok := header["alg"]
	return ok
}
