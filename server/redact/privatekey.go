package redact

import "strings"

// findPrivateKeys finds PEM and OpenSSH private keys (mask [PRIVATE_KEY]):
// a "-----BEGIN ... PRIVATE KEY...-----" line (RSA, EC, DSA, OPENSSH,
// ENCRYPTED, PGP ... PRIVATE KEY BLOCK, or none), through the matching
// "-----END ...-----" line. The whole block is masked, armor lines included,
// so that no base64 of the key survives. A block with no END line (a key
// cut short in a log line) is masked to the end of the text: what follows
// the header is key material until proven otherwise. Public keys and
// certificates are left alone.
func findPrivateKeys(in *input, dst []match) []match {
	s := in.s
	const begin, end, dashes = "-----BEGIN ", "-----END ", "-----"
	for from := 0; ; {
		k := strings.Index(s[from:], begin)
		if k < 0 {
			return dst
		}
		start := from + k
		from = start + len(begin)
		labelEnd := strings.Index(s[from:min(from+64+len(dashes), len(s))], dashes)
		if labelEnd < 0 {
			continue
		}
		label := s[from : from+labelEnd]
		if !strings.Contains(label, "PRIVATE KEY") {
			continue
		}
		stop := len(s)
		if e := strings.Index(s[from:], end+label+dashes); e >= 0 {
			stop = from + e + len(end) + len(label) + len(dashes)
		}
		dst = append(dst, match{start: start, end: stop, mask: maskPrivateKey})
		from = stop
	}
}
