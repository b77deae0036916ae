package redact

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth is the deepest nesting of JSON walked; deeper text is
// scanned as plain text instead.
const maxJSONDepth = 512

// content redacts one content string: JSON text is walked, anything else
// (or JSON that does not parse) is scanned as free text.
func (r *Redactor) content(s string) string {
	if looksLikeJSON(s) {
		if out, ok := r.walkJSON(s); ok {
			return out
		}
	}
	return r.text(s)
}

// looksLikeJSON reports whether s is worth parsing as a JSON object or
// array: its first and last non-space bytes are "{" and "}" or "[" and "]".
func looksLikeJSON(s string) bool {
	i, j := 0, len(s)-1
	for i <= j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j]) {
		j--
	}
	if j <= i {
		return false
	}
	return s[i] == '{' && s[j] == '}' || s[i] == '[' && s[j] == ']'
}

// jsonWalker walks JSON text token by token, copying it to out only once
// something changes, so that JSON holding nothing to mask costs no
// allocation and comes back as the same string.
type jsonWalker struct {
	r     *Redactor
	s     string
	i     int    // next byte to parse
	out   []byte // the redacted text so far, once something changed
	last  int    // s[:last] is in out
	depth int
	bad   bool // the text is not valid JSON
}

// walkJSON redacts JSON text value by value. It returns false when s is
// not valid JSON.
//
// Every string value and every object key is decoded and scanned as Text
// (a string value that is itself JSON is walked in turn); a key is changed
// only when a detector matches it. A string value under a key whose name
// says what it holds is masked whole: "password", "api_key", "apiKey",
// "client_secret", "access_token" and the like (see keys.go) by [PASSWORD]
// or [API_KEY] unless the value is a placeholder; "phone", "mobile", "tel"
// and the like by [PHONE] when it is 7 to 15 digits with phone punctuation;
// "ssn", "nino", "national_id" by [NATIONAL_ID] when it holds a digit. A
// number is masked the same way under such keys, and anywhere when, read as
// text, it is a card number (or anything else a detector finds); a masked
// number becomes a string: {"card": 4242424242424242} becomes
// {"card": "[CARD ****4242]"}.
//
// Everything else is preserved byte for byte: key order, white space,
// number spelling, literals, and the escapes of unchanged strings. A
// changed string is re-encoded with the fewest escapes ("\"", "\\", and
// control characters); non-ASCII characters are written as UTF-8.
func (r *Redactor) walkJSON(s string) (string, bool) {
	w := jsonWalker{r: r, s: s}
	w.space()
	w.value(keyOther)
	w.space()
	if w.bad || w.i != len(s) {
		return "", false
	}
	if w.out == nil {
		return s, true
	}
	w.out = append(w.out, s[w.last:]...)
	return string(w.out), true
}

// replace writes repl in place of s[start:end].
func (w *jsonWalker) replace(start, end int, repl []byte) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.s)+len(repl))
	}
	w.out = append(w.out, w.s[w.last:start]...)
	w.out = append(w.out, repl...)
	w.last = end
}

func (w *jsonWalker) space() {
	for w.i < len(w.s) && (w.s[w.i] == ' ' || w.s[w.i] == '\t' || w.s[w.i] == '\n' || w.s[w.i] == '\r') {
		w.i++
	}
}

// value parses one value, whose member name (if any) says kind.
func (w *jsonWalker) value(kind keyKind) {
	if w.bad || w.i >= len(w.s) {
		w.bad = true
		return
	}
	switch c := w.s[w.i]; {
	case c == '{':
		w.container('}', true)
	case c == '[':
		w.container(']', false)
	case c == '"':
		start := w.i
		v, ok := w.str()
		if !ok {
			return
		}
		if out := w.r.jsonValue(v, kind); out != v {
			w.replace(start, w.i, quoteJSON(out))
		}
	case c == '-' || isDigit(c):
		start := w.i
		w.number()
		if w.bad {
			return
		}
		if out, ok := w.r.jsonNumber(w.s[start:w.i], kind); ok {
			w.replace(start, w.i, quoteJSON(out))
		}
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(w.s[w.i:], lit) {
				w.i += len(lit)
				return
			}
		}
		w.bad = true
	}
}

// container parses an object (closing "}") or an array (closing "]").
func (w *jsonWalker) container(closing byte, object bool) {
	w.depth++
	if w.depth > maxJSONDepth {
		w.bad = true
		return
	}
	w.i++ // the opening bracket
	w.space()
	if w.i < len(w.s) && w.s[w.i] == closing {
		w.i++
		w.depth--
		return
	}
	for !w.bad {
		kind := keyOther
		if object {
			if w.i >= len(w.s) || w.s[w.i] != '"' {
				w.bad = true
				return
			}
			start := w.i
			k, ok := w.str()
			if !ok {
				return
			}
			kind = classifyKey(k)
			if !w.r.keyed[kind] {
				kind = keyOther
			}
			if out := w.r.text(k); out != k {
				w.replace(start, w.i, quoteJSON(out))
			}
			w.space()
			if w.i >= len(w.s) || w.s[w.i] != ':' {
				w.bad = true
				return
			}
			w.i++
			w.space()
		}
		w.value(kind)
		w.space()
		if w.i >= len(w.s) {
			w.bad = true
			return
		}
		switch w.s[w.i] {
		case ',':
			w.i++
			w.space()
		case closing:
			w.i++
			w.depth--
			return
		default:
			w.bad = true
			return
		}
	}
}

// jsonPlain marks the bytes a JSON string holds as they are: not the quote
// that ends it, not the backslash of an escape, not a control character.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str parses a string and returns its decoded value.
func (w *jsonWalker) str() (string, bool) {
	s := w.s
	i := w.i + 1 // past the opening quote
	start := i
	escaped := false
	for {
		for i < len(s) && jsonPlain[s[i]] {
			i++
		}
		if i >= len(s) || s[i] < 0x20 {
			w.bad = true
			return "", false
		}
		if s[i] == '"' {
			break
		}
		escaped = true // a backslash: skip it and the byte it escapes
		i += 2
	}
	raw := s[start:i]
	w.i = i + 1
	if !escaped {
		return raw, true
	}
	v, ok := unescapeJSON(raw)
	if !ok {
		w.bad = true
	}
	return v, ok
}

// number parses a number.
func (w *jsonWalker) number() {
	s := w.s
	i := w.i
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		return i - j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		w.bad = true
		return
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			w.bad = true
			return
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			w.bad = true
			return
		}
	}
	w.i = i
}

// unescapeJSON decodes the body of a JSON string that holds escapes.
// Unpaired surrogates decode to U+FFFD, as in encoding/json.
func unescapeJSON(raw string) (string, bool) {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			b.WriteByte(raw[i+1])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r1, ok := hex4(raw, i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r1) {
				if r2, ok := hex4(raw, i+2); ok && i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
						b.WriteRune(dec)
						i += 6
						continue
					}
				}
				r1 = utf8.RuneError
			}
			b.WriteRune(r1)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// hex4 decodes the four hex digits at raw[i:].
func hex4(raw string, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	v, err := strconv.ParseUint(raw[i:i+4], 16, 16)
	return rune(v), err == nil
}

// quoteJSON encodes s as a JSON string with the fewest escapes.
func quoteJSON(s string) []byte {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// jsonValue redacts a decoded string value whose member name says kind.
func (r *Redactor) jsonValue(v string, kind keyKind) string {
	switch kind {
	case keyAPIKey:
		if isSecretValue(v, 8) {
			return maskAPIKey
		}
	case keyPassword:
		if isSecretValue(v, 4) {
			return maskPassword
		}
	case keyPhone:
		if isPhoneValue(v) {
			return maskPhone
		}
	case keyNationalID:
		if isSecretValue(v, 6) && strings.ContainsAny(v, "0123456789") {
			return maskNationalID
		}
	case keyName, keyNameMaybe:
		if isNameValue(v, kind == keyName) {
			return maskName
		}
	case keyAddress:
		if isAddressValue(v) {
			return maskAddress
		}
	case keyDOB:
		if isDateValue(v) {
			return maskDOB
		}
	case keyPassport:
		if isPassportValue(v) {
			return maskPassport
		}
	case keyCard:
		if d := digitCount(v); d >= 12 && d <= 19 && isNumberValue(v) {
			return cardMask(v)
		}
	case keyIBAN:
		if isSecretValue(v, 8) && digitCount(v) >= 6 && isAlnumValue(v) {
			return maskIBAN
		}
	}
	return r.content(v)
}

// digitCount returns how many ASCII digits s holds.
func digitCount(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// isNumberValue reports whether v is digits with spaces, dashes and dots
// between them.
func isNumberValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isDigit(c) && c != ' ' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isAlnumValue reports whether v is letters and digits with spaces between
// them.
func isAlnumValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isAlnum(c) && c != ' ' {
			return false
		}
	}
	return true
}

// isNameValue reports whether the whole of v reads as a person's name: one
// to five words, each capitalized (or a particle, an initial, an
// honorific), no digits or symbols; or two to four CJK characters. Under a
// key that may name other things ("name"), the gazetteer must know one of
// the words as a name, and the last must not be a place.
func isNameValue(v string, certain bool) bool {
	v = strings.TrimSpace(v)
	if len(v) < 2 || len(v) > 80 || strings.ContainsAny(v, "0123456789@_/\\:;=<>{}[]()#$%&*+|~\"\n\t") {
		return false
	}
	sc := scanners.Get().(*scanner)
	defer sc.release()
	sc.reset(v)
	ws := sc.in.words()
	if len(ws) == 0 || len(ws) > 6 {
		return false
	}
	if ws[0].cjk {
		if len(ws) > 2 || len(ws) == 2 && (!ws[1].cjk || v[ws[0].end:ws[1].start] != " ") {
			return false
		}
		runes := 0
		for _, w := range ws {
			runes += utf8.RuneCountInString(v[w.start:w.end])
		}
		if runes < 2 || runes > 5 || ws[len(ws)-1].end != len(v) || ws[0].start != 0 {
			return false
		}
		return certain || cjkNameAt(theLexicon(), strings.ReplaceAll(v, " ", ""), 0, false) > 0
	}
	if ws[0].start != 0 {
		return false
	}
	named := false
	for k, w := range ws {
		if k > 0 && !isNameGap(v[ws[k-1].end:w.start]) {
			return false
		}
		t := v[w.start:w.end]
		switch {
		case w.cjk:
			return false
		case w.capital || w.upper && w.end-w.start <= 3 || w.flags&wHonorific != 0:
		case isFold(nameParticles, t) && k > 0:
		default:
			return false
		}
		if w.flags&(wFirst|wLast|wMiddle) != 0 && w.flags&(wCommon|wStreet|wMonth) == 0 {
			named = true
		}
	}
	if rest := strings.TrimRight(v[ws[len(ws)-1].end:], ". "); rest != "" {
		return false
	}
	last := ws[len(ws)-1]
	return certain || named && last.flags&wStreet == 0 && !isPlaceWord(v[last.start:last.end])
}

// isNameGap reports whether the text between two words of a name is a
// space, an initial's dot and a space, or a comma and a space ("Doe, Jane").
func isNameGap(g string) bool {
	return g == " " || g == ". " || g == ", " || g == "." || g == "-"
}

// isAddressValue reports whether v, the value of an address field, holds
// an address: letters, and a digit or two words or CJK.
func isAddressValue(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 2 || len(v) > 400 || !isSecretValue(v, 2) {
		return false
	}
	letters, digits, spaces := 0, 0, 0
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		case r == ' ':
			spaces++
		}
	}
	return letters >= 2 && (digits > 0 || spaces > 0 || hasFoldable(v)) || digits > 0 && letters == 0 && len(v) <= 12
}

// isDateValue reports whether v is a date, alone or with a time.
func isDateValue(v string) bool {
	v = strings.TrimSpace(v)
	if end, ok := parseDate(v, 0); ok {
		rest := v[end:]
		return rest == "" || rest[0] == 'T' || rest[0] == ' ' && len(rest) <= 20
	}
	return false
}

// isPassportValue reports whether v is a passport number.
func isPassportValue(v string) bool {
	v = strings.TrimSpace(v)
	end, ok := passportNumber(v, 0)
	return ok && end == len(v)
}

// jsonNumber redacts a number whose member name says kind. It returns the
// string that replaces it, and false when the number stays.
func (r *Redactor) jsonNumber(num string, kind keyKind) (string, bool) {
	switch kind {
	case keyPassword:
		return maskPassword, true
	case keyPhone:
		if isPhoneValue(num) {
			return maskPhone, true
		}
	case keyNationalID:
		if len(num) >= 6 {
			return maskNationalID, true
		}
	case keyCard:
		if len(num) >= 12 && len(num) <= 19 {
			return cardMask(num), true
		}
	case keyPassport:
		if len(num) >= 6 {
			return maskPassport, true
		}
	case keyIBAN:
		if len(num) >= 8 {
			return maskIBAN, true
		}
	}
	if len(num) < 9 {
		return "", false // too short for anything a detector finds
	}
	if out := r.text(num); out != num {
		return out, true
	}
	return "", false
}

// isPhoneValue reports whether v, the value of a phone-named member, is a
// phone number: 7 to 15 digits with nothing but phone punctuation.
func isPhoneValue(v string) bool {
	digits := 0
	if x := strings.IndexAny(v, "x#"); x > 0 && x < len(v)-1 && digitCount(v[x+1:]) == len(v)-x-1 {
		v = v[:x] // an extension: "865.678.7262x53610"
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case isDigit(c):
			digits++
		case c == '+' || c == '(' || c == ')' || c == '-' || c == '.' || c == ' ':
		default:
			return false
		}
	}
	return digits >= 7 && digits <= 15
}
