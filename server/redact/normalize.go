package redact

import (
	"unicode/utf8"
)

// Text written outside ASCII keyboards spells the punctuation that the
// detectors read in other code points: full-width forms in CJK text
// ("jane＠example.com，"), no-break and thin spaces in French numbers
// ("06 12 34 56 78"), typographic dashes and quotes. Before the detectors run
// on a text that holds any of them, each is read as its ASCII counterpart,
// and zero-width characters are skipped; the detectors see the folded text,
// and what they find is mapped back to the bytes of the original, which is
// what gets masked.

// foldRune returns the ASCII byte a code point is read as, 0 to skip it, or
// -1 to keep it as it is.
func foldRune(r rune) int {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII: ！ to ～
		return int(r - 0xFF01 + 0x21)
	}
	switch r {
	case 0x00A0, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x202F, 0x205F, 0x3000:
		return ' '
	case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD: // zero-width, soft hyphen
		return 0
	case 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63:
		return '-'
	case 0x2018, 0x2019, 0x201A, 0x2032:
		return '\''
	case 0x201C, 0x201D, 0x201E, 0x2033:
		return '"'
	case 0x3001: // ideographic comma
		return ','
	case 0x3002, 0xFF61: // ideographic full stop
		return '.'
	case 0xFE6B: // small commercial at
		return '@'
	}
	return -1
}

// hasFoldable reports whether s holds any byte of a multi-byte UTF-8
// sequence, in which case folding may change it. ASCII text, the common
// case, is passed over eight bytes at a time.
func hasFoldable(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if load64(s, i)&highs != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// folded is a text read with foldRune, and where each of its bytes came
// from in the original.
type folded struct {
	s string
	// offs[i] is the offset in the original of the folded text's byte i;
	// offs[len(s)] is the original's length. Nil when nothing was folded:
	// the offsets are then the identity.
	offs []int32
}

// fold reads s with foldRune. It returns s itself, with nil offsets, when
// nothing folds.
func fold(s string) folded {
	if !hasFoldable(s) {
		return folded{s: s}
	}
	var b []byte
	var offs []int32
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if b != nil {
				b = append(b, c)
				offs = append(offs, int32(i))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		f := foldRune(r)
		if f < 0 {
			if b != nil {
				b = append(b, s[i:i+size]...)
				for k := 0; k < size; k++ {
					offs = append(offs, int32(i+k))
				}
			}
			i += size
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
			offs = make([]int32, 0, len(s)+1)
			b = append(b, s[:i]...)
			for k := 0; k < i; k++ {
				offs = append(offs, int32(k))
			}
		}
		if f > 0 {
			b = append(b, byte(f))
			offs = append(offs, int32(i))
		}
		i += size
	}
	if b == nil {
		return folded{s: s}
	}
	offs = append(offs, int32(len(s)))
	return folded{s: string(b), offs: offs}
}

// orig maps a half-open span of the folded text to the span of the
// original it came from.
func (f *folded) orig(start, end int) (int, int) {
	if f.offs == nil {
		return start, end
	}
	return int(f.offs[start]), int(f.offs[end])
}
