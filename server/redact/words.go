package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// word is one word of a text: a run of letters (of any script), with
// apostrophes and hyphens between letters ("O'Brien", "Jean-Luc"), and
// what the lexicon knows of it.
type word struct {
	start, end int
	flags      wordFlags
	// capital is true when the word starts with an upper-case letter and
	// is not all upper case (or is one letter long).
	capital bool
	// upper is true when every letter is upper case.
	upper bool
	// cjk is true for a run of CJK ideographs, kana or hangul, which has no
	// spaces between its words and is not looked up as a whole.
	cjk bool
}

// isLetterByte reports whether an ASCII byte is a letter.
func isLetterByte(c byte) bool { return isAlpha(c) }

// isCJK reports whether r is written without spaces between words: a CJK
// ideograph, kana or hangul.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) ||
		unicode.Is(unicode.Hangul, r) || r == 'ー' || r == '々'
}

// words returns the words of the text, in order, looked up in the lexicon.
func (in *input) words() []word {
	if in.wordsDone {
		return in.wordList
	}
	in.wordsDone = true
	lx := theLexicon()
	s := in.s
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !isLetterByte(c) {
				i++
				continue
			}
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) {
				i += size
				continue
			}
			if isCJK(r) {
				j := i + size
				for j < len(s) {
					r2, n := utf8.DecodeRuneInString(s[j:])
					if !isCJK(r2) {
						break
					}
					j += n
				}
				in.wordList = append(in.wordList, word{start: i, end: j, cjk: true})
				i = j
				continue
			}
		}
		if i > 0 && s[i-1] == '[' {
			// A mask a detector wrote ("[PHONE]", "[NATIONAL_ID]") is
			// no word: its label must not give context to what follows.
			if end := strings.IndexByte(s[i:min(len(s), i+maxMaskLabel)], ']'); end > 0 && isMaskLabel(s[i-1:i+end+1]) {
				i += end + 1
				continue
			}
		}
		// A word of letters, apostrophes and hyphens between letters.
		start := i
		upperCount, letters := 0, 0
		firstUpper := false
		for i < len(s) {
			c := s[i]
			if c < utf8.RuneSelf {
				if isLetterByte(c) {
					if isUpper(c) {
						upperCount++
						if letters == 0 {
							firstUpper = true
						}
					}
					letters++
					i++
					continue
				}
				if (c == '\'' || c == '-') && i+1 < len(s) && letterAt(s, i+1) && letters > 0 {
					i++
					continue
				}
				break
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) || isCJK(r) {
				break
			}
			if unicode.IsUpper(r) {
				upperCount++
				if letters == 0 {
					firstUpper = true
				}
			}
			letters++
			i += size
		}
		w := word{start: start, end: i}
		w.upper = letters > 0 && upperCount == letters
		w.capital = firstUpper && (!w.upper || letters == 1)
		w.flags = lx.lookup(s[start:i])
		if start > 0 && isDigit(s[start-1]) || i < len(s) && isDigit(s[i]) {
			// Glued to digits ("70cf-8a19", "v2beta"): part of an id, not
			// a word that gives context or a name.
			w.flags &^= wCtxAny | wFirst | wLast | wMiddle | wStreet
		}
		in.wordList = append(in.wordList, w)
	}
	return in.wordList
}

// letterAt reports whether a letter starts at s[i].
func letterAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	if s[i] < utf8.RuneSelf {
		return isLetterByte(s[i])
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r) && !isCJK(r)
}

// gap returns the bytes between the end of one word and the start of the
// next.
func gap(s string, a, b word) string { return s[a.end:b.start] }

// onlySpace reports whether s is made of spaces and tabs only, at most max
// of them.
func onlySpace(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return true
}
