package redact

import "strings"

// Phone numbers are the detector most at risk of masking ordinary numbers
// (years, order ids, prices, versions, timestamps), so it only takes numbers
// written the way phone numbers are written:
//
//   - international: "+" and 8 to 15 digits (E.164), in groups separated by
//     single spaces, dashes or dots, optionally with a parenthesized group:
//     "+44 20 7946 0958", "+1 (415) 555-0132", "+14155550132",
//     "+44 (0)20 7946 0958";
//   - national: 9 to 12 digits in at least two groups of 2 to 8 digits, the
//     first optionally in parentheses, that either start with the trunk
//     prefix 0 ("020 7946 0958", "07700 900123", "06 12 34 56 78") or have
//     the North American shape 3-3-4 with area code and exchange starting 2
//     to 9, optionally after "1" ("(415) 555-0132", "415.555.0132",
//     "1-800-555-0199"). Other groupings are more often parcel, gift card
//     or account numbers ("7489 1234 5678") than phone numbers;
//   - bare: 9 to 15 digits in one run, only after a word that says a phone
//     number follows ("phone", "tel", "mobile", "cell", "call", "sms",
//     "whatsapp", "fax", "reach") within 24 bytes.
//
// A national number is left alone when it has the shape of something else:
// thousands grouping ("1 234 567", "123 456 789"), an IPv4 address, a US
// Social Security number (the national_id detector's), or a date or time
// ("2026-11-02 09:30"), and any number is left alone when a letter, digit,
// "#", "$", "." or "/" is glued to it, or when it continues as a decimal,
// time or range (a ".", ":", "-" or "/" followed by a digit). Prices in other
// currency signs are preceded by a non-ASCII byte and so left alone too.

// phoneContext are the words after which a bare run of digits is a phone
// number.
var phoneContext = []string{"phone", "tel", "mobile", "cell", "call", "sms", "whatsapp", "fax", "reach", "text me"}

func findPhones(in *input, dst []match) []match {
	s := in.s
	next := 0 // no match starts before next
	for _, run := range in.digits() {
		if run.start < next {
			continue
		}
		start := run.start
		switch before(s, start) {
		case '+':
			start--
		case '(':
			start--
			if before(s, start) == '+' { // "+(44)"
				start--
			}
		}
		end, ok := parsePhone(s, start)
		if !ok && (before(s, start) == ':' || before(s, start) == '=') && s[start] == '+' {
			// "Telefon:+49 30 901820", "phone=+14155550132".
			end, ok = parsePhone(s[start:], 0)
			end += start
		}
		if !ok {
			// A phone context before the number ("Telefon", "call me
			// on", "电话", "phone="), or the number alone on its line
			// and valid for some region: any phone-shaped number.
			if e, shaped := loosePhone(s, start); shaped && (phoneContextBefore(in, start) ||
				aloneOnLine(s, start, phoneExtension(s, e)) && (afterNameLine(s, start) || validPhone(s[start:e], in))) {
				end, ok = e, true
			}
		}
		if ok {
			end = phoneExtension(s, end)
			dst = append(dst, match{start: start, end: end, mask: maskPhone})
		}
		// Either way, the groups read belong to one number: a group
		// inside it is not the start of another ("4111 1111 1111 1111"
		// is not "4111" and a phone number).
		next = max(next, end)
	}
	return findKeyed(in, keyPhone, func(v string) (string, bool) { return maskPhone, isPhoneValue(v) }, dst)
}

// loosePhone reads a phone-shaped number at s[start]: an optional "+",
// then 6 to 15 digits in groups separated by single spaces, dashes, dots or
// slashes, or around a parenthesized group, and no letter or digit glued to
// either end.
func loosePhone(s string, start int) (int, bool) {
	if c := before(s, start); isAlnum(c) || c == '.' || c == '-' || c == '/' || c == '#' || c == '$' {
		return 0, false
	}
	i := start
	if at(s, i) == '+' {
		i++
	}
	digits, end := 0, i
	for i < len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			digits++
			i++
			end = i
		case (c == ' ' || c == '-' || c == '.' || c == '/') && (isDigit(at(s, i+1)) || at(s, i+1) == '('):
			i++
		case c == '(' && (isDigit(at(s, i+1))):
			i++
		case c == ')' && isDigit(at(s, i-1)):
			i++
			end = i
		default:
			goto done
		}
		if digits > 15 {
			return 0, false
		}
	}
done:
	if digits < 6 || digits > 15 {
		return 0, false
	}
	if c := at(s, end); isAlnum(c) && c != 'x' || (c == '.' || c == '/' || c == ':' || c == '-') && isDigit(at(s, end+1)) {
		return 0, false
	}
	return end, true
}

// phoneExtension extends a phone number that ends at s[end] over an
// extension: "x2395", " ext. 12", " ext 12", "#12".
func phoneExtension(s string, end int) int {
	for _, p := range []string{"x", " x", " ext. ", " ext ", "ext.", " ext.", "#", " #"} {
		if strings.HasPrefix(s[end:], p) && isDigit(at(s, end+len(p))) {
			e := end + len(p)
			for e < len(s) && isDigit(s[e]) && e-end < 8 {
				e++
			}
			if !isAlnum(at(s, e)) {
				return e
			}
		}
	}
	return end
}

// cjkPhoneWords announce a phone number in CJK text.
var cjkPhoneWords = []string{"电话", "電話", "手机", "手機", "携帯", "전화", "휴대폰", "연락처", "联系电话", "番号", "拨打", "撥打", "致电", "联系", "聯繫", "連絡", "문의"}

// phoneContextBefore reports whether a phone context comes within 48 bytes
// before s[start]: a word that announces a phone number ("phone",
// "Telefon", "call", "reach me at", "Llámame al", "emergency contact"), a
// CJK one, or "tel:", "phone=", "to=" right before.
func phoneContextBefore(in *input, start int) bool {
	s := in.s
	from := max(0, start-48)
	if p := strings.LastIndexByte(s[from:start], '\n'); p >= 0 && start-from-p > 1 {
		// Only the line the number is on, and the one before when the
		// number starts its line ("Phone:\n0123 ...").
		if strings.TrimSpace(s[from+p+1:start]) != "" {
			from += p + 1
		}
	}
	for _, w := range in.words() {
		if w.end > start {
			break
		}
		if w.start < from {
			continue
		}
		if w.flags&wCtxPhone != 0 {
			return true
		}
		// "my number is ...", "mein Nummer", "mi número": a number word
		// after a possessive.
		if isFold(numberWords, s[w.start:w.end]) && w.start >= 2 {
			prev := lastWordBefore(s, w.start)
			if isFold(possessives, prev) {
				return true
			}
		}
		if w.cjk {
			for _, k := range cjkPhoneWords {
				if strings.Contains(s[w.start:w.end], k) {
					return true
				}
			}
		}
	}
	return false
}

// aloneOnLine reports whether s[start:end] is alone on its line (as in a
// signature), but for spaces and a "> " quote mark.
func aloneOnLine(s string, start, end int) bool {
	a := strings.LastIndexByte(s[:start], '\n') + 1
	b := strings.IndexByte(s[end:], '\n')
	if b < 0 {
		b = len(s)
	} else {
		b += end
	}
	return a > 0 && strings.Trim(s[a:start], " >\t") == "" && strings.Trim(s[end:b], " \t\r\"'") == ""
}

// afterNameLine reports whether the line before the one that starts at
// s[start] holds only a name, as in a signature ("Thanks,\nJane Doe\n+44
// ..."): capitalized words, or a CJK run.
func afterNameLine(s string, start int) bool {
	a := strings.LastIndexByte(s[:start], '\n')
	if a <= 0 {
		return false
	}
	p := strings.LastIndexByte(s[:a], '\n') + 1
	line := strings.Trim(s[p:a], " >\t\"")
	if line == "" || len(line) > 80 {
		return false
	}
	return isNameValue(line, true) || isNameValue(strings.TrimPrefix(strings.TrimPrefix(line, "Prof. "), "Dr. "), true)
}

// parsePhone reports whether a phone number starts at s[start]. It returns
// where the number, or the digit groups read in vain, end.
func parsePhone(s string, start int) (end int, ok bool) {
	if !phoneLeftBoundary(before(s, start)) {
		return start, false
	}
	i := start
	plus := s[i] == '+'
	if plus {
		i++
	}
	var (
		groups    [16]int  // digits in each group
		seps      [16]byte // separator before each group; 0 for none
		ng        int
		digits    int
		parens    bool
		prevParen bool
	)
	for ng < len(groups) {
		j := i
		var sep byte
		if c := at(s, j); ng > 0 && (c == ' ' || c == '-' || c == '.') {
			sep = c
			j++
		}
		// Only the area code is in parentheses, first or after the
		// country code: "(415) 555-0132", "+44 (0)20 7946 0958".
		open := at(s, j) == '(' && (ng == 0 || plus && ng == 1)
		// Groups follow each other through one separator, or directly
		// around a parenthesized group: "(415)555-0132", "+44(0)20".
		if ng > 0 && sep == 0 && !open && !prevParen {
			break
		}
		k := j
		if open {
			k++
		}
		d := k
		for d < len(s) && isDigit(s[d]) {
			d++
		}
		n := d - k
		if n == 0 || (open && at(s, d) != ')') {
			break
		}
		if open {
			d++
			parens = true
		}
		groups[ng], seps[ng] = n, sep
		ng++
		digits += n
		prevParen = open
		i = d
	}
	end = i
	if ng == 0 || !phoneRightBoundary(s, end) {
		return end, false
	}
	if plus {
		return end, digits >= 8 && digits <= 15
	}
	if ng == 1 {
		if parens || digits < 9 || digits > 15 {
			return end, false
		}
		return end, precededByWord(s, start, 24, phoneContext...)
	}
	if digits < 9 || digits > 12 || !isTrunkOrNANP(s[start:end], groups[:ng]) {
		return end, false
	}
	for k, g := range groups[:ng] {
		if (g < 2 && !(k == 0 && ng == 4)) || g > 8 {
			return end, false
		}
	}
	if looksLikeThousands(groups[:ng], seps[:ng], parens) ||
		looksLikeIPv4(groups[:ng], seps[:ng]) ||
		looksLikeSSN(groups[:ng], seps[:ng]) ||
		looksLikeDate(s[start:end], groups[:ng], seps[:ng]) {
		return end, false
	}
	return end, true
}

// phoneLeftBoundary reports whether c may come right before a phone number.
func phoneLeftBoundary(c byte) bool {
	if isWord(c) || c >= 0x80 {
		return false
	}
	switch c {
	case '#', '$', '.', '/', '-', '+', ':', ',', '=', '*', '\\':
		return false
	}
	return true
}

// phoneRightBoundary reports whether a phone number may end at s[end].
func phoneRightBoundary(s string, end int) bool {
	c := at(s, end)
	if isWord(c) || c >= 0x80 || c == '(' || c == '+' {
		return false
	}
	switch c {
	case '.', ':', '-', '/', ',':
		return !isDigit(at(s, end+1))
	}
	return true
}

// looksLikeThousands reports whether groups are a number written with
// thousands separators: 1 to 3 digits, then groups of exactly 3.
func looksLikeThousands(groups []int, seps []byte, parens bool) bool {
	if parens || groups[0] > 3 {
		return false
	}
	for k := 1; k < len(groups); k++ {
		if groups[k] != 3 || (seps[k] != ' ' && seps[k] != '.') {
			return false
		}
	}
	return true
}

// looksLikeIPv4 reports whether groups are four dot-separated groups of at
// most three digits.
func looksLikeIPv4(groups []int, seps []byte) bool {
	if len(groups) != 4 {
		return false
	}
	for k, g := range groups {
		if g > 3 || (k > 0 && seps[k] != '.') {
			return false
		}
	}
	return true
}

// looksLikeSSN reports whether groups have the 3-2-4 shape of a US Social
// Security number, which the national_id detector judges.
func looksLikeSSN(groups []int, seps []byte) bool {
	return len(groups) == 3 && groups[0] == 3 && groups[1] == 2 && groups[2] == 4 &&
		seps[1] == seps[2] && (seps[1] == '-' || seps[1] == ' ')
}

// looksLikeDate reports whether a number starts with a year-month-day date
// ("2026-11-02", "2026.11.02") or a day-month-year date with a four-digit
// year ("02.11.2026 0930").
func looksLikeDate(num string, groups []int, seps []byte) bool {
	if len(groups) < 3 || seps[1] != seps[2] || seps[1] == ' ' {
		return false
	}
	year := func(g string) bool { return g[:2] == "19" || g[:2] == "20" }
	if groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2 && year(num) {
		return true
	}
	if groups[0] <= 2 && groups[1] <= 2 && groups[2] == 4 {
		off := groups[0] + groups[1] + 2
		return year(num[off:])
	}
	return false
}

// isTrunkOrNANP reports whether a national number starts with the trunk
// prefix 0, or has the North American shape: 3-3-4 digits (after an
// optional "1") whose area code and exchange start with 2 to 9.
func isTrunkOrNANP(num string, groups []int) bool {
	var d [12]byte
	n := 0
	for i := 0; i < len(num) && n < len(d); i++ {
		if isDigit(num[i]) {
			d[n] = num[i]
			n++
		}
	}
	if d[0] == '0' {
		return true
	}
	off := 0
	if len(groups) == 4 && groups[0] == 1 && d[0] == '1' {
		groups, off = groups[1:], 1
	}
	return len(groups) == 3 && groups[0] == 3 && groups[1] == 3 && groups[2] == 4 &&
		d[off] >= '2' && d[off+3] >= '2'
}

var (
	numberWords = map[string]bool{"number": true, "no": true, "nr": true, "numéro": true, "número": true, "numero": true,
		"nummer": true, "numer": true, "номер": true, "numara": true}
	possessives = map[string]bool{"my": true, "your": true, "his": true, "her": true, "our": true, "mein": true, "meine": true,
		"ihre": true, "mon": true, "ma": true, "votre": true, "mi": true, "su": true, "meu": true, "seu": true, "mio": true,
		"il": true, "mijn": true, "uw": true, "mój": true, "twój": true, "moje": true, "мой": true, "min": true, "mitt": true,
		"phone": true, "mobile": true, "cell": true, "contact": true, "telephone": true, "whatsapp": true, "home": true, "work": true,
		"fax": true, "telefon": true, "telefono": true, "téléphone": true, "numaram": true, "numaramız": true}
)

// lastWordBefore returns the word that ends before s[i], past spaces.
func lastWordBefore(s string, i int) string {
	j := i
	for j > 0 && s[j-1] == ' ' {
		j--
	}
	k := j
	for k > 0 && (isAlpha(s[k-1]) || s[k-1] >= 0x80) {
		k--
	}
	return s[k:j]
}
