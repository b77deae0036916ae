package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// findEmails finds email addresses (mask [EMAIL]): a local part of letters,
// digits, non-ASCII characters and ._%+- before an "@", and a domain of at
// least two dot-separated labels after it whose last label (the top-level
// domain) is two or more ASCII letters or an "xn--" IDN label.
//
// Not addresses, and left alone: the user of an SSH or SCP remote
// ("git@github.com:org/repo.git"), the user part of a URL
// ("https://user:password@host", which the password detector masks), image
// variants such as "icon@2x.png", package versions ("lodash@4.17.21") and
// scoped names ("@types/node").
func findEmails(in *input, dst []match) []match {
	dst = findObfuscatedEmails(in, dst)
	s := in.s
	for from := 0; ; {
		k := strings.IndexByte(s[from:], '@')
		// A URL-encoded "@" ("jane%40example.com" in a query string).
		if p := strings.Index(s[from:], "%40"); p >= 0 && (k < 0 || p < k) {
			at := from + p
			from = at + 3
			start := at
			for start > 0 && (isAlnum(s[start-1]) || s[start-1] == '.' || s[start-1] == '_' || s[start-1] == '-' || s[start-1] == '+') {
				start--
			}
			if start == at {
				continue
			}
			if end, ok := emailDomainEnd(s, at+3); ok {
				dst = append(dst, match{start: start, end: end, mask: maskEmail})
				from = end
			}
			continue
		}
		if k < 0 {
			return dst
		}
		at := from + k
		from = at + 1

		start := at
		for start > 0 && isLocalChar(s[start-1]) {
			start--
		}
		// "\njane@..." in escaped text: the n belongs to the escape.
		if start >= 1 && start < at && start > 0 && s[start-1] == '\\' && (s[start] == 'n' || s[start] == 't' || s[start] == 'r') {
			start++
		}
		for start < at && s[start] == '.' {
			start++
		}
		if start == at || s[at-1] == '.' {
			continue
		}
		end, ok := emailDomainEnd(s, at+1)
		if !ok || isURLUser(s, start) || isSCPRemote(s, end) {
			continue
		}
		dst = append(dst, match{start: start, end: end, mask: maskEmail})
		from = end
	}
}

// isLocalChar reports whether c may appear in the local part of an address
// as people write them.
func isLocalChar(c byte) bool {
	return isAlnum(c) || c >= 0x80 || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// emailDomainEnd parses the domain of an address starting at s[i] and
// returns where it ends, or false when there is no valid domain there: two
// or more labels of letters, digits and "-" (not at either end of a label),
// the last a top-level domain that is not a file extension. When the text
// runs on after the domain without a space ("jane@example.com.4411",
// "jane@example.com4411"), the longest run of labels that makes a valid
// domain is taken, and a top-level domain with digits glued to it ends
// where its letters do.
func emailDomainEnd(s string, i int) (int, bool) {
	end := i
	for end < len(s) && (isAlnum(s[end]) || s[end] == '.' || s[end] == '-' || s[end] >= 0x80 && idnLetterAt(s, end)) {
		if s[end] >= 0x80 {
			_, size := utf8.DecodeRuneInString(s[end:])
			end += size
			continue
		}
		end++
	}
	if end < len(s) && (isWord(s[end]) && s[end] < 0x80) {
		return 0, false // glued to more of a word: "a@b.c_d"
	}
	best := -1
	labels := 0
	for start := i; start < end; {
		stop := start
		for stop < end && s[stop] != '.' {
			stop++
		}
		label := s[start:stop]
		if label == "" || label[0] == '-' {
			break
		}
		if labels > 0 {
			// The label could end the domain: as a whole, or as the
			// letters it starts with when digits follow them.
			tld := label
			if label[len(label)-1] == '-' {
				tld = ""
			}
			if !isTLD(tld) {
				k := 0
				for k < len(label) && isAlpha(label[k]) {
					k++
				}
				if k < len(label) && isDigit(label[k]) {
					tld = label[:k]
				} else {
					tld = ""
				}
			}
			if tld != "" && isTLD(tld) && !isFileExtension(tld) {
				best = start + len(tld)
			}
		}
		if label[len(label)-1] == '-' {
			break
		}
		labels++
		start = stop + 1
	}
	return best, best >= 0
}

// isTLD reports whether a label can be a top-level domain: ASCII letters
// only, or an internationalized "xn--" label.
func isTLD(l string) bool {
	if len(l) >= 5 && hasPrefixFold(l, 0, "xn--") {
		return true
	}
	if l != "" && l[0] >= 0x80 {
		// An internationalized top-level domain in its own script:
		// "рф", "中国", "한국".
		n := 0
		for _, r := range l {
			if !unicode.IsLetter(r) {
				return false
			}
			n++
		}
		return n >= 2 && n <= 12
	}
	if len(l) < 2 || len(l) > 24 {
		return false
	}
	for i := 0; i < len(l); i++ {
		if !isAlpha(l[i]) {
			return false
		}
	}
	return true
}

// fileExtensions are suffixes that follow "@" in file names (icon@2x.png)
// and are not top-level domains.
var fileExtensions = []string{"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "heic", "avif", "js", "css", "jsx", "tsx", "map", "json", "yaml", "yml", "txt", "lock", "html", "py", "java", "kt"}

func isFileExtension(tld string) bool {
	for _, e := range fileExtensions {
		if strings.EqualFold(tld, e) {
			return true
		}
	}
	return false
}

// maxSchemeLookBack is how far before an address isURLUser looks for the
// "://" of a URL: a scheme and a user name are short, and a bounded look
// keeps the search linear in a text of many "@".
const maxSchemeLookBack = 64

// isURLUser reports whether the local part starting at s[start] is the user
// of a URL ("scheme://user@" or "scheme://user:password@").
func isURLUser(s string, start int) bool {
	from := max(start-maxSchemeLookBack, 0)
	tok := start
	for tok > from && !isSpace(s[tok-1]) && s[tok-1] != '"' && s[tok-1] != '\'' && s[tok-1] != '(' && s[tok-1] != '<' {
		tok--
	}
	i := strings.LastIndex(s[tok:start], "://")
	return i >= 0 && !strings.ContainsAny(s[tok+i+3:start], "/?#")
}

// isSCPRemote reports whether an address-like string ending at s[end] is an
// SSH or SCP remote: a colon followed by a path, as in
// "git@github.com:org/repo.git".
func isSCPRemote(s string, end int) bool {
	if at(s, end) != ':' {
		return false
	}
	c := at(s, end+1)
	return isAlpha(c) || c == '/' || c == '~' || c == '_'
}

// idnLetterAt reports whether a letter of an internationalized domain name
// (a letter of any script that is not CJK punctuation) starts at s[i].
func idnLetterAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r) || unicode.Is(unicode.Mn, r)
}

// findObfuscatedEmails finds addresses written to fool harvesters (mask
// [EMAIL]): "jane.doe at example dot com", "jane [at] example [dot] com",
// "jane(at)example(dot)com", in either case. The domain needs a "dot" (or a
// bracketed "at"), so that "meet at the office" stays.
func findObfuscatedEmails(in *input, dst []match) []match {
	s := in.s
	if !containsFold(s, "dot") && !strings.Contains(s, "(at)") && !strings.Contains(s, "[at]") {
		return dst
	}
	for _, form := range [...]struct{ at, dot string }{
		{" at ", " dot "}, {" [at] ", " [dot] "}, {"[at]", "[dot]"}, {"(at)", "(dot)"}, {" (at) ", " (dot) "}, {" AT ", " DOT "}, {" [at] ", "."},
	} {
		for from := 0; ; {
			k := strings.Index(s[from:], form.at)
			if k < 0 {
				break
			}
			at := from + k
			from = at + len(form.at)
			start := at
			for start > 0 && (isAlnum(s[start-1]) || s[start-1] == '.' || s[start-1] == '_' || s[start-1] == '-' || s[start-1] == '+') {
				start--
			}
			if start == at || start > 0 && !isSpace(s[start-1]) && !strings.ContainsRune("\"'(<:,;", rune(s[start-1])) {
				continue
			}
			// Labels joined by the "dot" form, the last a top-level domain.
			i := at + len(form.at)
			end, labels := -1, 0
			for {
				j := i
				for j < len(s) && (isAlnum(s[j]) || s[j] == '-' || s[j] == '.' && form.dot != ".") {
					j++
				}
				if j == i {
					break
				}
				labels++
				if labels >= 2 && isTLD(s[i:j]) && !isAlnum(at2(s, j)) {
					end = j
				}
				if !strings.HasPrefix(s[j:], form.dot) {
					break
				}
				i = j + len(form.dot)
			}
			if end > 0 {
				dst = append(dst, match{start: start, end: end, mask: maskEmail})
				from = end
			}
		}
	}
	return dst
}

// at2 is at, for a name that does not shadow a local variable.
func at2(s string, i int) byte { return at(s, i) }
