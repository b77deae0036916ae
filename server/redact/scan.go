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
// computed once and shared: the runs of digits and the long runs of key
// characters. Both are found lazily, so a text that no number-shaped or
// key-shaped detector looks at never pays for them.
type input struct {
	s string

	digitRuns  []span
	digitsDone bool

	keyRuns  []span
	keysDone bool
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
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// reset prepares the scanner for the text s, keeping its buffers.
func (sc *scanner) reset(s string) {
	sc.in = input{s: s, digitRuns: sc.in.digitRuns[:0], keyRuns: sc.in.keyRuns[:0]}
	sc.matches = sc.matches[:0]
}

// release clears every reference into scanned text, so the pool keeps no
// payload alive, and returns the scanner to the pool.
func (sc *scanner) release() {
	clear(sc.matches)
	sc.reset("")
	scanners.Put(sc)
}

// maxRounds bounds how often Text scans its own output. Masking can create a
// boundary where there was none (a card number glued to an email address
// stands alone once the address is masked), so Text scans again until no
// detector finds anything; every round masks at least one byte that no mask
// holds, and in practice a second round finds nothing.
const maxRounds = 8

// text masks every match of the redactor's detectors in s, scanning its own
// output again until nothing matches. It returns s itself when nothing
// matches.
func (r *Redactor) text(s string) string {
	if s == "" {
		return s
	}
	sc := scanners.Get().(*scanner)
	for range maxRounds {
		sc.reset(s)
		ms := r.find(sc)
		if len(ms) == 0 {
			break
		}
		s = apply(s, ms)
	}
	sc.release()
	return s
}

// find runs every enabled detector over the scanner's text and returns the
// matches, in no particular order.
func (r *Redactor) find(sc *scanner) []match {
	ms := sc.matches
	for rank, d := range r.detectors {
		n := len(ms)
		ms = d.find(&sc.in, ms)
		for i := n; i < len(ms); i++ {
			ms[i].rank = rank
		}
	}
	sc.matches = ms
	return ms
}

// apply replaces the matches in s by their masks. Overlapping matches are
// merged: their union is replaced by the mask of the lowest-ranked match
// among them, so that no byte any detector flagged survives.
func apply(s string, ms []match) string {
	slices.SortFunc(ms, func(a, b match) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var b strings.Builder
	b.Grow(len(s))
	last := 0
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
		last = m.end
		i = j
	}
	b.WriteString(s[last:])
	return b.String()
}
