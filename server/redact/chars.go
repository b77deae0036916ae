package redact

import "strings"

// Byte classes shared by the detectors. A table lookup is the cheapest way to
// ask several questions of one byte, and the scanners ask them of every byte
// they look at.
const (
	clDigit uint8 = 1 << iota // 0-9
	clUpper                   // A-Z
	clLower                   // a-z
	clHex                     // 0-9 a-f A-F
	clToken                   // _ and -, which join the parts of identifiers and keys
	clB64                     // + and /, which only base64 adds
	clSpace                   // space, tab, CR, LF
	clHigh                    // a byte of a multi-byte UTF-8 sequence
)

var classes = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= clDigit | clHex
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= clUpper
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clLower
	}
	for _, c := range "abcdefABCDEF" {
		t[c] |= clHex
	}
	t['_'] |= clToken
	t['-'] |= clToken
	t['+'] |= clB64
	t['/'] |= clB64
	for _, c := range " \t\r\n" {
		t[c] |= clSpace
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] |= clHigh
	}
	return t
}()

func isDigit(c byte) bool { return c-'0' < 10 }
func isUpper(c byte) bool { return c-'A' < 26 }
func isLower(c byte) bool { return c-'a' < 26 }
func isAlpha(c byte) bool { return classes[c]&(clUpper|clLower) != 0 }
func isAlnum(c byte) bool { return classes[c]&(clDigit|clUpper|clLower) != 0 }
func isHex(c byte) bool   { return classes[c]&clHex != 0 }
func isSpace(c byte) bool { return classes[c]&clSpace != 0 }

// isWord reports whether c continues a word: a letter, a digit, an
// underscore, or part of a non-ASCII character. A match must not start or end
// in the middle of a word.
func isWord(c byte) bool { return classes[c]&(clDigit|clUpper|clLower|clHigh) != 0 || c == '_' }

// isKeyChar reports whether c belongs to the alphabet of API keys and other
// bearer secrets: letters, digits, underscore and dash.
func isKeyChar(c byte) bool { return classes[c]&(clDigit|clUpper|clLower|clToken) != 0 }

// lower returns the ASCII lower case of c.
func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

// before returns the byte before s[i], or a space at the start of s. An
// escaped control character written as two bytes ("\n", "\t", "\r"), as in a
// log line holding JSON-escaped text, counts as the space it stands for, so
// that "...\n+44 20..." still has a boundary before the "+".
func before(s string, i int) byte {
	if i <= 0 {
		return ' '
	}
	c := s[i-1]
	if i >= 2 && s[i-2] == '\\' && (c == 'n' || c == 't' || c == 'r') {
		return ' '
	}
	return c
}

// at returns s[i], or a space past either end of s.
func at(s string, i int) byte {
	if i < 0 || i >= len(s) {
		return ' '
	}
	return s[i]
}

// ones has the low bit of every byte set; highs has the high bit of every byte
// set. They drive the eight-bytes-at-a-time digit search.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 reads eight bytes of s from i, little-endian. The compiler combines
// the byte loads into one.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// indexDigit returns the index of the first ASCII digit in s at or after
// from, or -1. Free text holds few digits, and this search is the gate of
// every number-shaped detector, so it tests eight bytes at a time: a byte b
// is a digit when its low seven bits t satisfy 0x30 <= t < 0x3a and its high
// bit is clear. Adding 0x50 and 0x46 to each t sets the byte's high bit
// exactly when t >= 0x30 and t >= 0x3a, with no carry between bytes since t
// is at most 0x7f.
func indexDigit(s string, from int) int {
	i := from
	for ; i+8 <= len(s); i += 8 {
		x := load64(s, i)
		t := x &^ highs
		if (t+0x50*ones)&^(t+0x46*ones)&^x&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if isDigit(s[i]) {
			return i
		}
	}
	return -1
}

// hasPrefixFold reports whether s[i:] begins with the lower-case ASCII word
// w, ignoring the case of s.
func hasPrefixFold(s string, i int, w string) bool {
	if i < 0 || len(s)-i < len(w) {
		return false
	}
	for k := 0; k < len(w); k++ {
		if lower(s[i+k]) != w[k] {
			return false
		}
	}
	return true
}

// precededByWord reports whether one of the lower-case words ws ends within
// the window bytes before s[i], ignoring case. It gives detectors the
// context a human reader uses ("SSN 123 45 6789", "call me on 4155550132").
// A word that starts a mask ("[PHONE]") is not context: masking must not
// make the text around a mask look more sensitive than it was.
func precededByWord(s string, i, window int, ws ...string) bool {
	from := max(i-window, 0)
	for _, w := range ws {
		for j := i - len(w); j >= from; j-- {
			if hasPrefixFold(s, j, w) && !isAlpha(before(s, j)) && before(s, j) != '[' {
				return true
			}
		}
	}
	return false
}

// inFold reports whether the lower case of w is a key of m, without
// allocating for ASCII words.
func inFold[V any](m map[string]V, w string) (V, bool) {
	var buf [64]byte
	if len(w) <= len(buf) {
		ascii := true
		for i := 0; i < len(w); i++ {
			c := w[i]
			if c >= 0x80 {
				ascii = false
				break
			}
			buf[i] = lower(c)
		}
		if ascii {
			v, ok := m[string(buf[:len(w)])]
			return v, ok
		}
	}
	v, ok := m[strings.ToLower(w)]
	return v, ok
}

// isFold reports whether the lower case of w is a key of m whose value is
// true.
func isFold(m map[string]bool, w string) bool {
	v, _ := inFold(m, w)
	return v
}

// containsFold reports whether s holds the lower-case ASCII word w, in any
// case. It searches for the rarer of w's first letter's two cases with
// IndexByte.
func containsFold(s, w string) bool {
	for _, c := range [2]byte{w[0], w[0] - 'a' + 'A'} {
		for from := 0; ; {
			k := strings.IndexByte(s[from:], c)
			if k < 0 {
				break
			}
			if hasPrefixFold(s, from+k, w) {
				return true
			}
			from += k + 1
		}
	}
	return false
}
