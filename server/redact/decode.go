package redact

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Secrets travel encoded: a Kubernetes secret holds a private key in
// base64, a tool argument a card number, a query string an email address
// with its "@" written "%40". So the runs of base64 and hex characters, and
// the URL-encoded values of parameters, are decoded; when the decoding is
// text, it is scanned in turn (up to maxDecodeDepth encodings deep), and
// when that finds anything the whole encoded run is masked, with the mask
// of what it hid ("tls.key: [PRIVATE_KEY]"). A run that decodes to clean
// text is left alone, even where it looks random enough for the
// high_entropy detector (a pagination cursor, a state parameter); one that
// decodes to binary data is left to that detector.

// maxDecodeDepth bounds how many encodings deep a text is decoded.
const maxDecodeDepth = 2

// maxDecoded is the longest encoded run decoded.
const maxDecoded = 64 << 10

// decoded adds to ms the matches of encoded runs whose decoding holds
// something to mask, and removes the high_entropy matches inside runs that
// decode to clean text. It returns the new matches.
func (r *Redactor) decoded(sc *scanner, ms []match, depth int) []match {
	in := &sc.in
	s := in.s
	for _, run := range in.keys() {
		if run.end-run.start > maxDecoded {
			continue
		}
		tok := s[run.start:run.end]
		text, kind := decodeRun(tok, sc)
		if kind == notText {
			continue
		}
		// Either way the run is judged by its decoding, not its look:
		// the high_entropy detector's findings in it are dropped. A
		// decoding that holds something is masked with what it holds,
		// unless another detector masks the run for what it is (a
		// JWT's segments decode to JSON too).
		ms = dropHighEntropy(r, ms, run)
		if isUserPassword(text) {
			// "user:password", as in Basic credentials and state blobs.
			ms = append(ms, match{start: run.start + kind.prefix(tok), end: run.end, mask: maskPassword, rank: len(r.detectors)})
			continue
		}
		if mask, found := r.firstMask(text, depth+1); found {
			ms = append(ms, match{start: run.start + kind.prefix(tok), end: run.end, mask: mask, rank: len(r.detectors)})
		}
	}
	// URL-encoded values of parameters: "email=jane%40example.com",
	// "card=4111+1111+1111+1111".
	next := 0
	for _, i := range in.seps() {
		if s[i] != '=' || i < next {
			continue
		}
		a := i + 1
		b := a
		for b < len(s) && !isSpace(s[b]) && s[b] != '&' && s[b] != '"' && s[b] != '\'' && s[b] != '<' && s[b] != '#' && b-a < 1024 {
			b++
		}
		next = b // a "=" inside this value starts no other
		v := s[a:b]
		if !strings.ContainsAny(v, "%+") || len(v) < 6 {
			continue
		}
		dec, err := url.QueryUnescape(v)
		if err != nil || dec == v || !printable(dec) {
			continue
		}
		if mask, found := r.firstMask(dec, depth+1); found && !covered(ms, a, b) {
			ms = append(ms, match{start: a, end: b, mask: mask, rank: len(r.detectors)})
		}
	}
	return ms
}

// encoding says how a run decoded.
type encoding uint8

const (
	notText encoding = iota
	base64Text
	hexText
	hex0xText // hex after a "0x"
)

// prefix returns how many bytes of the run come before the encoded data.
func (e encoding) prefix(tok string) int {
	if e == hex0xText {
		return 2
	}
	return 0
}

// decodeRun decodes a run as hex (an even number of hex digits, after an
// optional "0x") or base64 (standard or URL alphabet, padded or not) and
// returns the decoding when it is text.
func decodeRun(tok string, sc *scanner) (string, encoding) {
	h, kind := tok, hexText
	if strings.HasPrefix(h, "0x") {
		h, kind = h[2:], hex0xText
	}
	if len(h) >= 16 && len(h)%2 == 0 && isHexString(h) {
		buf := sc.decodeBuf(len(h) / 2)
		n, err := hex.Decode(buf, []byte(h))
		if err == nil && printable(unsafeString(buf[:n])) {
			return string(buf[:n]), kind
		}
		return "", notText
	}
	if len(tok) < 16 {
		return "", notText
	}
	body := strings.TrimRight(tok, "=")
	var enc *base64.Encoding
	switch {
	case strings.ContainsAny(body, "+/") && !strings.ContainsAny(body, "-_"):
		enc = base64.RawStdEncoding
	case !strings.ContainsAny(body, "+/"):
		enc = base64.RawURLEncoding
	default:
		return "", notText
	}
	buf := sc.decodeBuf(enc.DecodedLen(len(body)))
	n, err := enc.Decode(buf, []byte(body))
	if err != nil || n == 0 || !printable(unsafeString(buf[:n])) {
		return "", notText
	}
	return string(buf[:n]), base64Text
}

// decodeBuf returns a scratch buffer of n bytes, kept in the scanner.
func (sc *scanner) decodeBuf(n int) []byte {
	if cap(sc.buf) < n {
		sc.buf = make([]byte, n)
	}
	return sc.buf[:n]
}

// unsafeString views b as a string for a check that does not keep it;
// converting with string(b) in a function argument would copy.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return string(b) // small decoded runs; the compiler may avoid the copy
}

// isHexString reports whether s is hex digits only.
func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// printable reports whether b is UTF-8 text: at least 8 bytes, with no
// more than one in twenty runes a control character other than white
// space or a replacement.
func printable(b string) bool {
	if len(b) < 8 || !utf8.ValidString(b) {
		return false
	}
	bad, n := 0, 0
	for _, r := range b {
		n++
		if r == utf8.RuneError || unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			bad++
		}
	}
	return bad*20 <= n
}

// firstMask returns the mask of the highest-ranked item the redactor finds
// in text, scanned at the given depth.
func (r *Redactor) firstMask(text string, depth int) (string, bool) {
	out := r.scan(text, depth)
	if out == text {
		return "", false
	}
	// The mask that replaced the first item: the first "[...]" of the
	// output that the text does not hold there.
	for i := 0; i < len(out); i++ {
		if out[i] != '[' {
			continue
		}
		j := strings.IndexByte(out[i:], ']')
		if j < 0 {
			break
		}
		m := out[i : i+j+1]
		if !strings.Contains(text, m) {
			return m, true
		}
	}
	return maskSecret, true
}

// dropHighEntropy removes from ms the matches of the high_entropy detector
// that lie within run.
func dropHighEntropy(r *Redactor, ms []match, run span) []match {
	he := r.highEntropyRank
	if he < 0 {
		return ms
	}
	out := ms[:0]
	for _, m := range ms {
		if m.rank == he && m.start >= run.start && m.end <= run.end {
			continue
		}
		out = append(out, m)
	}
	return out
}

// covered reports whether a match already covers [a, b).
func covered(ms []match, a, b int) bool {
	for _, m := range ms {
		if m.start <= a && m.end >= b {
			return true
		}
	}
	return false
}

// isUserPassword reports whether text is "user:password": a user name
// without spaces, a colon, and a password as passwordToken reads one.
func isUserPassword(text string) bool {
	c := strings.IndexByte(text, ':')
	if c < 1 || c > 64 || strings.ContainsAny(text, " \n\t") || strings.Contains(text, "://") {
		return false
	}
	a, b, ok := passwordToken(text, c+1)
	return ok && a == c+1 && b == len(text)
}
