package redact

import (
	"slices"
	"strings"
	"sync"
)

// span is a half-open byte range [start, end) of a text.
type span struct{ start, end int }

// match is one sensitive item a detector found: the bytes to replace and
// the mask to put in their place.
type match struct {
	start, end int
	// mask replaces s[start:end].
	mask string
	// rank is the position of the detector in the redactor's list; when
	// matches overlap, the mask of the lowest rank wins.
	rank int
}

// input is one text being scanned, with what the detectors learn about it
// computed once and shared: the runs of digits, the long runs of key
// characters, and the positions of ":" and "=". Each is found lazily, so a
// text pays only for what the detectors that run on it look at.
type input struct {
	s string

	digitRuns  []span
	digitsDone bool

	keyRuns  []span
	keysDone bool

	sepPos   []int
	sepsDone bool

	wordList  []word
	wordsDone bool
}

// seps returns the positions of every ":" and "=" in the text, in order:
// where assignments, URLs and IPv6 addresses are.
func (in *input) seps() []int {
	if !in.sepsDone {
		in.sepsDone = true
		s := in.s
		for _, sep := range [...]byte{':', '='} {
			for i := strings.IndexByte(s, sep); i >= 0; {
				in.sepPos = append(in.sepPos, i)
				k := strings.IndexByte(s[i+1:], sep)
				if k < 0 {
					break
				}
				i += k + 1
			}
		}
		slices.Sort(in.sepPos)
	}
	return in.sepPos
}

// digits returns the maximal runs of ASCII digits in the text, in order.
func (in *input) digits() []span {
	if !in.digitsDone {
		in.digitsDone = true
		s := in.s
		for i := indexDigit(s, 0); i >= 0; i = indexDigit(s, i) {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			in.digitRuns = append(in.digitRuns, span{i, j})
			i = j
		}
	}
	return in.digitRuns
}

// minKeyRun is the length of the shortest key the key-shaped detectors look
// for (an AWS access key id is 20 characters; shorter random strings are not
// reliably told apart from words and identifiers).
const minKeyRun = 20

// keys returns the maximal runs, at least minKeyRun long, of key characters
// and the base64 characters '+' and '/', in order, each with up to two
// trailing '=' of base64 padding.
//
// Almost every byte of prose belongs to a short run, so instead of visiting
// every byte the search probes one byte in every minKeyRun: a run that long
// cannot fit between two probes, so it always covers one, and a probe that
// lands on a space skips the whole stretch before the next.
func (in *input) keys() []span {
	if !in.keysDone {
		in.keysDone = true
		s := in.s
		isRun := func(c byte) bool { return classes[c]&(clDigit|clUpper|clLower|clToken|clB64) != 0 }
		floor := 0 // no run starts before floor: everything before it has been looked at
		for p := minKeyRun - 1; p < len(s); {
			if !isRun(s[p]) {
				p += minKeyRun
				continue
			}
			a := p
			for a > floor && isRun(s[a-1]) {
				a--
			}
			b := p + 1
			for b < len(s) && isRun(s[b]) {
				b++
			}
			if b-a >= minKeyRun {
				e := b
				for e < len(s) && e < b+2 && s[e] == '=' {
					e++
				}
				in.keyRuns = append(in.keyRuns, span{a, e})
			}
			floor = b
			p = b + minKeyRun
		}
	}
	return in.keyRuns
}

// scanner holds the reusable buffers of one Text call; scanners are pooled so
// that redacting text that holds nothing sensitive allocates nothing.
type scanner struct {
	in      input
	matches []match
	buf     []byte // scratch for decoding
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// reset prepares the scanner for the text s, keeping its buffers.
func (sc *scanner) reset(s string) {
	sc.in = input{s: s, digitRuns: sc.in.digitRuns[:0], keyRuns: sc.in.keyRuns[:0], sepPos: sc.in.sepPos[:0], wordList: sc.in.wordList[:0]}
	sc.matches = sc.matches[:0]
}

// maxPooled is the most entries a pooled scanner keeps room for in each of
// its buffers: one huge text must not leave huge buffers behind.
const maxPooled = 1024

// release clears every reference into scanned text, so the pool keeps no
// payload alive, and returns the scanner to the pool.
func (sc *scanner) release() {
	clear(sc.matches)
	sc.reset("")
	if cap(sc.matches) > maxPooled || cap(sc.in.digitRuns) > maxPooled || cap(sc.in.keyRuns) > maxPooled || cap(sc.in.sepPos) > maxPooled || cap(sc.in.wordList) > 4*maxPooled {
		return
	}
	scanners.Put(sc)
}

// maxRounds bounds how often Text scans its own output. Masking can create a
// boundary where there was none (a card number glued to an email address
// stands alone once the address is masked), so Text scans again until no
// detector finds anything; every round masks at least one byte that no mask
// holds, and in practice a second round finds nothing.
const maxRounds = 8

// text masks every match of the redactor's detectors in s, scanning its own
// output again while that could find more. It returns s itself when nothing
// matches.
func (r *Redactor) text(s string) string { return r.scan(s, 0) }

// scan is text at a depth of decoding: the text of a base64, hex or
// URL-encoded value is scanned at depth 1, and so on up to maxDecodeDepth.
func (r *Redactor) scan(s string, depth int) string {
	if s == "" {
		return s
	}
	if r.needs == 0 {
		return s // no detectors
	}
	// The detectors read the text with its full-width forms, unusual
	// spaces, dashes and quotes folded to ASCII (see fold); what they find
	// is mapped back to the original bytes.
	f := fold(s)
	have := trAll
	if len(f.s) <= maxTriaged && !r.hasPatterns && !r.untriaged {
		if have = triggersOf(f.s); have&r.needs == 0 {
			have = passwordTrigger(f.s)
		}
		if have&r.needs == 0 || isISOTime(f.s) {
			return s
		}
	}
	sc := scanners.Get().(*scanner)
	for round := range maxRounds {
		if round > 0 {
			f = fold(s)
		}
		sc.reset(f.s)
		ms := r.find(sc, have)
		if depth < maxDecodeDepth && r.decodes {
			ms = r.decoded(sc, ms, depth)
			sc.matches = ms
		}
		if len(ms) == 0 {
			break
		}
		if f.offs != nil {
			for i := range ms {
				ms[i].start, ms[i].end = f.orig(ms[i].start, ms[i].end)
			}
		}
		if r.col != nil && depth == 0 {
			r.col.add(s, ms)
		}
		// A PEM block's BEGIN line decides how the detectors read lines
		// far from it (a public key's body is not a secret): masking
		// anything in a text that has one may change that, so it is
		// scanned again.
		pem := strings.Contains(s, "-----BEGIN ")
		var again bool
		s, again = apply(s, ms)
		again = again || pem
		if !again && !r.hasPatterns {
			break
		}
		have = trAll
	}
	sc.release()
	return s
}

// isISOTime reports whether s is exactly an ISO 8601 date or date and time,
// as JSON tool arguments and results are full of: "2026-11-02",
// "2026-11-02T09:30:00Z", "2026-11-02 09:30:00.123+01:00". No built-in
// detector matches one (FuzzText checks it), so they skip the detectors.
func isISOTime(s string) bool {
	digits := func(i, n int) bool {
		if i+n > len(s) {
			return false
		}
		for k := i; k < i+n; k++ {
			if !isDigit(s[k]) {
				return false
			}
		}
		return true
	}
	// The date: yyyy-mm-dd.
	if len(s) < 10 || !digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) {
		return false
	}
	i := 10
	if i == len(s) {
		return true
	}
	// The time: Thh:mm, then :ss and a fraction, each optional.
	if (s[i] != 'T' && s[i] != ' ') || !digits(i+1, 2) || at(s, i+3) != ':' || !digits(i+4, 2) {
		return false
	}
	i += 6
	if at(s, i) == ':' {
		if !digits(i+1, 2) {
			return false
		}
		i += 3
		if at(s, i) == '.' {
			i++
			k := i
			for i < len(s) && isDigit(s[i]) && i-k < 9 {
				i++
			}
			if i == k {
				return false
			}
		}
	}
	// The zone: Z, +hh:mm, +hhmm, +hh, or none.
	switch at(s, i) {
	case 'Z':
		i++
	case '+', '-':
		if !digits(i+1, 2) {
			return false
		}
		i += 3
		if at(s, i) == ':' {
			i++
		}
		if digits(i, 2) {
			i += 2
		}
	}
	return i == len(s)
}

// find runs over the scanner's text every enabled detector whose triggers
// the text has, and returns the matches, in no particular order.
func (r *Redactor) find(sc *scanner, have trigger) []match {
	ms := sc.matches
	for rank, d := range r.detectors {
		if d.needs&have == 0 {
			continue
		}
		n := len(ms)
		ms = d.find(&sc.in, ms)
		for i := n; i < len(ms); i++ {
			ms[i].rank = rank
		}
	}
	sc.matches = ms
	return ms
}

// maxTriaged is the longest text whose triggers are found before the
// detectors run. Above it, the detectors' own searches, which skip most of
// the text, cost less than a look at every byte, and every detector runs.
// A policy's patterns can match anything, so with patterns every detector
// always runs.
const maxTriaged = 256

// trigger is a set of kinds of bytes that detectors need in a text before
// they can match anything in it.
type trigger uint16

const (
	trAt           trigger = 1 << iota // an "@": email
	trSep                              // a ":", "=" or "%": URLs, assignments, IPv6, URL encoding
	trJ                                // a "J", as in "eyJ": JWT
	trB                                // the word Bearer, Basic or BEGIN, in any case
	trDigits                           // five digits or more: cards, phones, IBANs, ids (idValue's least)
	trDottedDigits                     // four digits or more and a ".": IPv4
	trRun                              // 20 key characters in a row: API keys, tokens
	trCapital                          // an upper-case letter or a non-ASCII byte: names
	trDigit                            // a digit: addresses, dates, passports
	trDot                              // the word "dot", "(at)" or "[at]": obfuscated email addresses
	trSecret                           // minSecretRun secret characters in a row: the gitleaks rules
	trPass                             // passwordTrigger: a password context word, or a flag; only in texts with no other trigger
	trAll          trigger = 1<<iota - 1
)

// Per-byte classes for triggersOf: the triggers a byte is by itself (trAt,
// trSep, trJ, trCapital), and what it counts towards, in the high bits.
const (
	tbSecret = 1 << 12 // a secret character (isSecretChar), counts towards trSecret
	tbDigit  = 1 << 13 // counts towards trDigits and trDottedDigits
	tbDot    = 1 << 14 // a "."
	tbRun    = 1 << 15 // a key character, counts towards trRun
	tbByself = uint16(trAt | trSep | trJ | trB | trCapital | trDot)
)

var triage = func() (t [256]uint16) {
	t['@'] = uint16(trAt)
	t[':'], t['='], t['%'] = uint16(trSep), uint16(trSep), uint16(trSep)
	t['J'] = uint16(trJ)
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= uint16(trCapital)
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] |= uint16(trCapital)
	}
	for c := 0; c < 256; c++ {
		if isKeyChar(byte(c)) || c == '+' || c == '/' {
			t[c] |= tbRun
		}
		if isDigit(byte(c)) {
			t[c] |= tbDigit
		}
		if isSecretChar(byte(c)) {
			t[c] |= tbSecret
		}
	}
	t['.'] |= tbDot
	return t
}()

// triggersOf returns the triggers s holds, in one look at each byte. Short
// strings, such as most values of JSON tool arguments, hold few or none, and
// this costs less than starting a dozen searches that find nothing.
func triggersOf(s string) trigger {
	var all uint16
	digits, run, longest := 0, 0, 0
	secret, longestSecret := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		t := triage[c]
		all |= t
		if t&tbDigit != 0 {
			digits++
		}
		switch c {
		case 'B', 'b':
			if hasPrefixFold(s, i, "bearer") || hasPrefixFold(s, i, "basic") || strings.HasPrefix(s[i:], "BEGIN") {
				all |= uint16(trB)
			}
		case 'T', 't':
			if hasPrefixFold(s, i, "token ") {
				all |= uint16(trB)
			}
		case 'D', 'd':
			if hasPrefixFold(s, i, "dot") {
				all |= uint16(trDot)
			}
		case '[', '(':
			if hasPrefixFold(s, i+1, "at") && (at(s, i+3) == ']' || at(s, i+3) == ')') {
				all |= uint16(trDot)
			}
		}
		if t&tbSecret != 0 {
			secret++
		} else {
			longestSecret = max(longestSecret, secret)
			secret = 0
		}
		if t&tbRun != 0 {
			run++
			continue
		}
		longest = max(longest, run)
		run = 0
	}
	have := trigger(all & tbByself)
	if digits >= 5 {
		have |= trDigits
	}
	if digits > 0 {
		have |= trDigit
	}
	if digits >= 4 && all&tbDot != 0 {
		have |= trDottedDigits
	}
	if max(longest, run) >= minKeyRun {
		have |= trRun
	}
	if max(longestSecret, secret) >= minSecretRun {
		have |= trSecret
	}
	return have
}

// passwordStarts lists, by first letter, the ASCII password context words
// (contextWords[wCtxPassword]) that no shorter one of them starts. The
// password detector finds a password after such a word even in a text with
// no other trigger ("the wifi pass is open-sesame"); words with other bytes
// are trCapital already.
var passwordStarts = func() (t [128][]string) {
	var words []string
	for _, w := range contextWords[wCtxPassword] {
		ascii := true
		for i := 0; i < len(w); i++ {
			ascii = ascii && w[i] < 0x80
		}
		if ascii {
			words = append(words, w)
		}
	}
	slices.SortFunc(words, func(a, b string) int { return len(a) - len(b) })
	for _, w := range words {
		shadowed := false
		for _, k := range t[w[0]] {
			shadowed = shadowed || strings.HasPrefix(w, k)
		}
		if !shadowed {
			t[w[0]] = append(t[w[0]], w)
		}
	}
	return t
}()

// passwordTrigger returns trPass when s has a word that starts like a
// password context word, or a command line's flag (" -p", " --password"),
// and 0 otherwise. The password detector runs on a text with any trigger;
// this is the look for one in a text with none, such as "the wifi pass is
// open-sesame", so that triggersOf need not make it on every text.
func passwordTrigger(s string) trigger {
	wasLetter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) {
			if !wasLetter && startsPasswordWord(s, i) {
				return trPass
			}
			wasLetter = true
			continue
		}
		wasLetter = false
		if c == '-' && i > 0 && s[i-1] == ' ' && (isAlpha(at(s, i+1)) || at(s, i+1) == '-') {
			return trPass
		}
	}
	return 0
}

// startsPasswordWord reports whether the word starting at s[i] starts like a
// password context word, in any case.
func startsPasswordWord(s string, i int) bool {
	c := lower(s[i])
	if c >= 0x80 {
		return false
	}
	for _, w := range passwordStarts[c] {
		if hasPrefixFold(s, i, w) {
			return true
		}
	}
	return false
}

// apply replaces the matches in s by their masks. Overlapping matches are
// merged: their union is replaced by the mask of the lowest-ranked match
// among them, so that no byte any detector flagged survives.
//
// It also reports whether the result needs another scan: whether a mask
// landed next to a byte that is not neutral (see isNeutral). A mask between
// neutral bytes cannot change what any built-in detector sees: no detector
// reads across a neutral byte or decides by the byte beyond it (numbers are
// read across spaces, so spaces are not neutral: "001-01-00100 001-01-0010"
// holds a phone number only once the second number is masked), their
// context words are never read inside a mask, and no built-in detector
// matches a "[" or "]".
func apply(s string, ms []match) (string, bool) {
	slices.SortFunc(ms, func(a, b match) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	again := false
	for i := 0; i < len(ms); {
		m := ms[i]
		j := i + 1
		for ; j < len(ms) && ms[j].start < m.end; j++ {
			m.end = max(m.end, ms[j].end)
			if ms[j].rank < m.rank {
				m.mask, m.rank = ms[j].mask, ms[j].rank
			}
		}
		b.WriteString(s[last:m.start])
		b.WriteString(m.mask)
		again = again || !isNeutral(s, m.start-1) || !isNeutral(s, m.end)
		last = m.end
		i = j
	}
	b.WriteString(s[last:])
	return b.String(), again
}

// isNeutral reports whether s[i] is a byte that no built-in detector reads
// across or looks past: a quote or an angle, square or curly bracket. Past
// either end of s counts as neutral, so a mask that replaces a whole
// string, as for most values of JSON arguments, needs no second scan.
// Spaces, commas, dots, dashes and parentheses are not neutral: numbers are
// read in groups across spaces and around parentheses, and the byte after a
// comma or a dot tells a list from a decimal.
func isNeutral(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return true
	}
	switch s[i] {
	case '"', '\'', '`', '<', '>', '[', ']', '{', '}':
		return true
	}
	return false
}
