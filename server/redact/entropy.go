package redact

import (
	"math"
	"strings"
)

// maxEntropyRun is the longest string the high-entropy detector judges.
// Keys and tokens are shorter (the longest common formats are near 110
// characters); longer runs are data, such as images in base64, whose
// masking would only hide what a developer needs to see.
const maxEntropyRun = 512

// publicIDPrefixes start identifiers that providers hand out as public
// references, not as credentials: they appear in every agent trace and a
// developer needs them to follow a call across systems. So do Stripe's
// publishable keys, which are made to be embedded in web pages, and the
// digests of subresource integrity attributes.
var publicIDPrefixes = []string{
	"chatcmpl-", "msg_", "toolu_", "srvtoolu_", "call_", "req_", "resp_",
	"run_", "thread_", "asst_", "file-", "batch_", "cus_", "pi_", "ch_",
	"evt_", "sub_", "in_", "txn_", "prod_", "price_", "pk_live_", "pk_test_",
	"sha1-", "sha256-", "sha384-", "sha512-",
}

// findHighEntropy finds secrets that no other detector knows by their form
// (mask [API_KEY]): runs of 20 to 512 characters of letters, digits, "_",
// "-", "+" and "/" (with base64 padding) that look random rather than
// written. A run is judged random when all of these hold:
//
//   - it mixes upper-case letters, lower-case letters and digits;
//   - it is not hexadecimal (hex digits and "-" only): digests, UUIDs,
//     trace ids and commit hashes are identifiers, and a 64-character hex
//     SHA-256 such as Event.system_prompt_hash is never masked by this
//     detector (hex secrets are found by the name they are assigned to,
//     by the api_key detector);
//   - it does not start with a public id prefix (see publicIDPrefixes);
//   - its Shannon entropy is at least log2(n) - 0.69 - 0.008n bits per
//     character for a run of n characters, which 99.9% of random base64url
//     strings meet;
//   - at most a share max(0.70 - 0.004n, 0.25) of its characters is in
//     runs of three or more lower-case letters (with the capital before),
//     which 99% of random strings meet and identifiers made of words
//     ("getUserAccountBalance2", "Windows10EnterpriseLTSC2019") do not.
//
// A run with "/" is judged segment by segment when it looks like a path
// (see isPathLike), and as a whole, then segment by segment, otherwise; so
// the secret in a webhook URL's path is found, and so is a base64 secret
// that happens to hold a "/".
// About 1 random key in 20 of 20 characters, and 1 in 100 of 40, fails
// these tests; keys of known formats are found by prefix regardless.
func findHighEntropy(in *input, dst []match) []match {
	s := in.s
	var public []span
	if strings.Contains(s, "-----BEGIN ") {
		public = publicPEMBlocks(s)
	}
	for _, run := range in.keys() {
		tok := s[run.start:run.end]
		if hasPublicIDPrefix(tok) || inSpans(public, run) || strings.HasSuffix(s[:run.start], "base64,") {
			// A certificate's or public key's body, or a data: URL, is
			// data made to be shown.
			continue
		}
		if !strings.Contains(tok, "/") || !isPathLike(tok) {
			if looksRandom(tok) {
				dst = append(dst, match{start: run.start, end: run.end, mask: maskAPIKey})
				continue
			}
			if !strings.Contains(tok, "/") {
				continue
			}
		}
		for a := run.start; a < run.end; {
			b := a
			for b < run.end && s[b] != '/' {
				b++
			}
			if b-a >= minKeyRun && looksRandom(s[a:b]) {
				dst = append(dst, match{start: a, end: b, mask: maskAPIKey})
			}
			a = b + 1
		}
	}
	return dst
}

// isPathLike reports whether a run holding "/" is a path rather than
// base64: it starts or ends with "/", holds "//", or has a segment of three
// or more lower-case letters only ("usr", "services"), which random base64
// rarely has.
func isPathLike(tok string) bool {
	if tok[0] == '/' || tok[len(tok)-1] == '/' || strings.Contains(tok, "//") {
		return true
	}
	for seg := range strings.SplitSeq(tok, "/") {
		if len(seg) < 3 {
			continue
		}
		word := true
		for i := 0; i < len(seg) && word; i++ {
			word = isLower(seg[i])
		}
		if word {
			return true
		}
	}
	return false
}

// hasPublicIDPrefix reports whether tok starts with one of publicIDPrefixes.
func hasPublicIDPrefix(tok string) bool {
	for _, p := range publicIDPrefixes {
		if strings.HasPrefix(tok, p) {
			return true
		}
	}
	return false
}

// looksRandom reports whether tok passes the tests of findHighEntropy.
func looksRandom(tok string) bool {
	n := len(tok)
	for n > 0 && tok[n-1] == '=' {
		n--
	}
	tok = tok[:n]
	if n < minKeyRun || n > maxEntropyRun {
		return false
	}
	var up, lo, dig, nonHex bool
	wordy := 0 // bytes in runs of 3 or more lower-case letters, with a capital before
	lowRun := 0
	var counts [128]uint16
	for i := 0; i <= n; i++ {
		if i < n {
			c := tok[i]
			if c >= 0x80 {
				return false
			}
			counts[c]++
			switch {
			case isUpper(c):
				up = true
			case isLower(c):
				lo = true
			case isDigit(c):
				dig = true
			}
			if !isHex(c) && c != '-' {
				nonHex = true
			}
			if isLower(c) {
				lowRun++
				continue
			}
		}
		if lowRun >= 3 {
			wordy += lowRun + 1
		}
		lowRun = 0
	}
	if !up || !lo || !dig || !nonHex || hasPublicIDPrefix(tok) {
		return false
	}
	fn := float64(n)
	if float64(wordy) > max(0.70-0.004*fn, 0.25)*fn {
		return false
	}
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / fn
			h -= p * math.Log2(p)
		}
	}
	return h >= math.Log2(fn)-0.69-0.008*fn
}

// publicPEMBlocks returns the spans of the PEM blocks of s that hold no
// private key: certificates, public keys, signatures.
func publicPEMBlocks(s string) []span {
	var out []span
	for from := 0; ; {
		k := strings.Index(s[from:], "-----BEGIN ")
		if k < 0 {
			return out
		}
		start := from + k
		labelEnd := strings.Index(s[start+11:min(len(s), start+11+80)], "-----")
		if labelEnd < 0 {
			return out
		}
		label := s[start+11 : start+11+labelEnd]
		if label == "" {
			from = start + 11
			continue
		}
		end := strings.Index(s[start:], "-----END "+label+"-----")
		if end < 0 {
			// No end: the block runs to the end of the text, and no
			// other block starts inside it.
			if !strings.Contains(label, "PRIVATE") {
				out = append(out, span{start, len(s)})
			}
			return out
		}
		end += start
		if !strings.Contains(label, "PRIVATE") {
			out = append(out, span{start, end})
		}
		from = max(end, start+11)
	}
}

// inSpans reports whether run lies within one of spans.
func inSpans(spans []span, run span) bool {
	for _, sp := range spans {
		if run.start >= sp.start && run.end <= sp.end {
			return true
		}
	}
	return false
}
