package redact

import (
	"strings"
	"unicode/utf8"
)

const (
	maskDOB      = "[DOB]"
	maskPassport = "[PASSPORT]"
)

// Values that only their context tells apart, as Presidio's context-aware
// recognizers find them: a date is a date of birth after "DOB", "born",
// "Geburtsdatum" or "生年月日"; a number is a passport number after
// "passport", "Reisepass" or "护照"; an id is a national id after "SSN",
// "PESEL" or "codice fiscale". The context word comes first, then at most a
// few words that complete it ("date of birth", "passport no.", "social
// security number") and a separator; the value must have the form of its
// kind.

// afterContext returns where the value announced by the context word ws[i]
// starts: past the words that complete the context (those in skip, or any
// with one of the flags in also), and a separator (":", "=", "#", "-",
// spaces, "is"). It returns -1 when the value is too far away.
func afterContext(s string, ws []word, i int, also wordFlags, skip map[string]bool) int {
	k := ws[i].end
	j := i + 1
	for j < len(ws) && j-i <= 5 {
		g := s[k:ws[j].start]
		if !contextGap(g) {
			break
		}
		if ws[j].flags&also == 0 && !isFold(skip, s[ws[j].start:ws[j].end]) {
			break
		}
		k = ws[j].end
		j++
	}
	// The separator.
	start := k
	for start < len(s) && start-k < 6 {
		c := s[start]
		if c == ' ' || c == ':' || c == '=' || c == '#' || c == '-' || c == '.' || c == '\t' || c == '"' || c == '\'' || c == '(' {
			start++
			continue
		}
		if p, ok := hasAnyPrefix(s[start:], "：", "°", "º", "＃", "№"); ok {
			start += len(p)
			continue
		}
		break
	}
	// "is", "est", "ist": one verb.
	for _, v := range []string{"is ", "est ", "ist ", "es ", "è ", "är ", "er ", "was "} {
		if strings.HasPrefix(s[start:], v) {
			start += len(v)
			break
		}
	}
	return start
}

// hasAnyPrefix returns the first of prefixes that s starts with.
func hasAnyPrefix(s string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return p, true
		}
	}
	return "", false
}

// contextGap reports whether the text between two words of a context is
// only spaces and punctuation that joins them ("date of birth", "Soc. Sec.
// No.", "passport-no").
func contextGap(g string) bool {
	if len(g) == 0 || len(g) > 4 {
		return false
	}
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case ' ', '.', '-', '_', '/', ':', '\'':
		default:
			return false
		}
	}
	return true
}

var dobSkip = map[string]bool{
	"of": true, "date": true, "birth": true, "on": true, "in": true, "the": true, "de": true, "le": true, "el": true, "il": true, "am": true,
	"op": true, "em": true, "dia": true, "dnia": true, "den": true, "tarihi": true, "datum": true, "fecha": true, "data": true, "date's": true,
	"dato": true, "dag": true,
}

// findDOBs finds dates of birth (mask [DOB]): a date after a context word
// ("DOB", "date of birth", "born", "birthday", "Geburtsdatum", "né le",
// "fecha de nacimiento", "data di nascita", "дата рождения", "生年月日",
// "出生日期", "생년월일"), or before "生まれ" or "생".
func findDOBs(in *input, dst []match) []match {
	s := in.s
	ws := in.words()
	for i, w := range ws {
		t := s[w.start:w.end]
		// "D.O.B." and "b." are spelled in letters the lexicon does not
		// hold as words.
		if w.end-w.start == 1 && (hasPrefixFold(s, w.start, "d.o.b") || (t == "b" || t == "B") && at(s, w.end) == '.' && at(s, w.end+1) == ' ' && (w.start == 0 || !isAlnum(s[w.start-1]))) {
			k := w.start + 5
			if t == "b" || t == "B" {
				k = w.end + 1
			} else if at(s, k) == '.' {
				k++
			}
			start := skipSeparators(s, k)
			if end, ok := parseDate(s, start); ok {
				dst = append(dst, match{start: start, end: end, mask: maskDOB})
			}
			continue
		}
		if w.flags&wCtxDOB != 0 {
			start := afterContext(s, ws, i, wCtxDOB, dobSkip)
			if start >= 0 {
				if end, ok := parseDate(s, start); ok {
					dst = append(dst, match{start: start, end: end, mask: maskDOB})
				}
			}
			continue
		}
		if !w.cjk {
			continue
		}
		run := s[w.start:w.end]
		for _, k := range []string{"生年月日", "出生日期", "出生年月日", "생년월일", "生日", "誕生日", "出生"} {
			if j := strings.Index(run, k); j >= 0 && j+len(k) == len(run) || j >= 0 && strings.HasSuffix(run, k) {
				start := skipSeparators(s, w.end)
				if end, ok := parseDate(s, start); ok {
					dst = append(dst, match{start: start, end: end, mask: maskDOB})
				}
			}
		}
	}
	// A date followed by "生まれ" or "생".
	for _, suffix := range []string{"生まれ", "생"} {
		for off := 0; ; {
			j := strings.Index(s[off:], suffix)
			if j < 0 {
				break
			}
			p := off + j
			off = p + len(suffix)
			if a, ok := dateBefore(s, p); ok {
				dst = append(dst, match{start: a, end: p, mask: maskDOB})
			}
		}
	}
	return dst
}

// skipSeparators skips spaces, colons (ASCII and full-width) and "=" at
// s[i].
func skipSeparators(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == ':' || s[i] == '=' || s[i] == '\t' || s[i] == '(':
			i++
		case strings.HasPrefix(s[i:], "："):
			i += len("：")
		default:
			return i
		}
	}
	return i
}

// dateBefore finds a date that ends at s[p] (within 16 bytes).
func dateBefore(s string, p int) (int, bool) {
	for a := max(0, p-24); a < p; a++ {
		if isDigit(s[a]) && (a == 0 || !isDigit(s[a-1])) {
			if end, ok := parseDate(s, a); ok && end == p {
				return a, true
			}
		}
	}
	return 0, false
}

// parseDate reports whether a date starts at s[i] and where it ends:
// "1990-07-19", "1990/07/19", "19/07/1990", "07/19/1990", "19.07.1990",
// "19-07-1990", "7/19/1990", "July 19, 1990", "19 July 1990", "19. Juli
// 1990", "19 juillet 1990", "1990年7月19日", "1990년 7월 19일", "1990.07.19",
// and with a two-digit year after a context ("19/07/90"). Months and days
// must be valid, the year between 1900 and 2099.
func parseDate(s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	num := func(i, minN, maxN int) (v, end int, ok bool) {
		j := i
		for j < len(s) && isDigit(s[j]) && j-i < maxN {
			v = v*10 + int(s[j]-'0')
			j++
		}
		if j-i < minN || j < len(s) && isDigit(s[j]) {
			return 0, i, false
		}
		return v, j, true
	}
	validYMD := func(y, m, d int) bool {
		return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31
	}
	endOK := func(e int) bool { c := at(s, e); return !isAlnum(c) || c >= 0x80 }
	if isDigit(s[i]) {
		a, e1, ok := num(i, 1, 4)
		if !ok {
			return 0, false
		}
		// CJK: 1990年7月19日, 1990년 7월 19일.
		if e1-i == 4 {
			for _, marks := range [][3]string{{"年", "月", "日"}, {"년 ", "월 ", "일"}, {"년", "월", "일"}} {
				if strings.HasPrefix(s[e1:], marks[0]) {
					m, e2, ok := num(e1+len(marks[0]), 1, 2)
					if ok && strings.HasPrefix(s[e2:], marks[1]) {
						d, e3, ok := num(e2+len(marks[1]), 1, 2)
						if ok && strings.HasPrefix(s[e3:], marks[2]) && validYMD(a, m, d) {
							return e3 + len(marks[2]), true
						}
					}
				}
			}
		}
		sep := at(s, e1)
		switch sep {
		case '-', '/', '.':
			b, e2, ok := num(e1+1, 1, 2)
			if !ok || at(s, e2) != sep {
				return 0, false
			}
			c, e3, ok := num(e2+1, 2, 4)
			if !ok || !endOK(e3) {
				return 0, false
			}
			if at(s, e3) == '.' && isDigit(at(s, e3+1)) {
				return 0, false
			}
			switch {
			case e1-i == 4: // y-m-d
				return e3, e3-e2-1 <= 2 && validYMD(a, b, c)
			case e3-e2-1 == 4: // d-m-y or m-d-y
				return e3, validYMD(c, b, a) || validYMD(c, a, b)
			case e3-e2-1 == 2: // two-digit year
				return e3, (b >= 1 && b <= 12 && a >= 1 && a <= 31 || a >= 1 && a <= 12 && b >= 1 && b <= 31)
			}
			return 0, false
		case ' ':
			// 19 July 1990, 19. Juli 1990 (with the dot before the space).
			return textMonthDate(s, e1+1, a, true)
		case 's', 'n', 'r', 't':
			// 3rd of May 1985, 21st May 1985.
			for _, suf := range []string{"st ", "nd ", "rd ", "th "} {
				if strings.HasPrefix(s[e1:], suf) {
					k := e1 + len(suf)
					if strings.HasPrefix(s[k:], "of ") {
						k += 3
					}
					return textMonthDate(s, k, a, true)
				}
			}
			return 0, false
		}
		if sep == '.' {
			return 0, false
		}
		if at(s, e1) == '.' && at(s, e1+1) == ' ' {
			return textMonthDate(s, e1+2, a, true)
		}
		return 0, false
	}
	// July 19, 1990.
	w := i
	for w < len(s) && (isAlpha(s[w]) || s[w] >= 0x80) {
		_, size := utf8.DecodeRuneInString(s[w:])
		w += size
	}
	m, ok := inFold(monthNumber, s[i:w])
	if !ok {
		return 0, false
	}
	j := w
	if at(s, j) == '.' {
		j++
	}
	if at(s, j) != ' ' {
		return 0, false
	}
	d, e, ok := num(j+1, 1, 2)
	if !ok {
		return 0, false
	}
	for _, suf := range []string{"st", "nd", "rd", "th"} {
		if strings.HasPrefix(s[e:], suf) {
			e += 2
			break
		}
	}
	if at(s, e) == ',' {
		e++
	}
	if at(s, e) != ' ' {
		return 0, false
	}
	y, e2, ok := num(e+1, 4, 4)
	if !ok || !validYMD(y, m, d) || !endOK(e2) {
		return 0, false
	}
	return e2, true
}

// textMonthDate parses "July 1990" after a day: "19 July 1990",
// "19 juillet 1990", "19 de julio de 1990", "19 июля 1990".
func textMonthDate(s string, i, day int, _ bool) (int, bool) {
	if i >= len(s) {
		return 0, false // the day ends the text: at reads past it as a space
	}
	if strings.HasPrefix(s[i:], "de ") {
		i += 3
	}
	w := i
	for w < len(s) && (isAlpha(s[w]) || s[w] >= 0x80) {
		_, size := utf8.DecodeRuneInString(s[w:])
		w += size
	}
	m, ok := inFold(monthNumber, s[i:w])
	if !ok {
		return 0, false
	}
	j := w
	if at(s, j) == '.' {
		j++
	}
	if at(s, j) == ',' {
		j++
	}
	if strings.HasPrefix(s[j:], " de ") {
		j += 3
	}
	if at(s, j) != ' ' {
		return 0, false
	}
	y := 0
	k := j + 1
	for k < len(s) && isDigit(s[k]) && k-j-1 < 4 {
		y = y*10 + int(s[k]-'0')
		k++
	}
	if k-j-1 != 4 || y < 1900 || y > 2099 || m < 1 || day < 1 || day > 31 || isDigit(at(s, k)) {
		return 0, false
	}
	return k, true
}

var passportSkip = map[string]bool{
	"no": true, "number": true, "nr": true, "num": true, "numero": true, "numéro": true, "número": true, "nummer": true, "numer": true,
	"id": true, "is": true, "de": true, "di": true, "do": true, "of": true, "my": true, "card": true, "document": true, "doc": true,
	"paszportu": true, "n": true, "nº": true, "n°": true,
}

// findPassports finds passport numbers (mask [PASSPORT]) after a context
// word ("passport", "Passport No.", "Reisepass", "passeport", "pasaporte",
// "паспорт", "护照号码", "旅券番号", "여권번호"): 6 to 10 letters and digits
// with at least 5 digits ("S14177763", "C01X00T47", "18AB12345"), or the
// Russian "NN NNNNNNN" form.
func findPassports(in *input, dst []match) []match {
	s := in.s
	ws := in.words()
	for i, w := range ws {
		if w.flags&wCtxPassport != 0 {
			start := afterContext(s, ws, i, 0, passportSkip)
			if end, ok := passportNumber(s, start); ok {
				dst = append(dst, match{start: start, end: end, mask: maskPassport})
			}
			continue
		}
		if !w.cjk {
			continue
		}
		run := s[w.start:w.end]
		for _, k := range []string{"护照号码", "护照号", "护照", "護照號碼", "護照", "旅券番号", "パスポート番号", "パスポート", "여권번호", "여권"} {
			if strings.HasSuffix(run, k) {
				start := skipSeparators(s, w.end)
				if v, ok := hasAnyPrefix(s[start:], "is ", "は", "는 ", "是"); ok {
					start = skipSeparators(s, start+len(v))
				}
				if end, ok := passportNumber(s, start); ok {
					dst = append(dst, match{start: start, end: end, mask: maskPassport})
				}
				break
			}
		}
	}
	return dst
}

// passportNumber reports whether a passport number starts at s[i].
func passportNumber(s string, i int) (int, bool) {
	if i >= len(s) || !isAlnum(s[i]) || i > 0 && isAlnum(s[i-1]) {
		return 0, false
	}
	j := i
	digits := 0
	for j < len(s) && isAlnum(s[j]) && j-i <= 12 {
		if isDigit(s[j]) {
			digits++
		}
		j++
	}
	n := j - i
	// "51 1187112": a series and a number.
	if n == 2 && digits == 2 && at(s, j) == ' ' {
		k := j + 1
		for k < len(s) && isDigit(s[k]) && k-j <= 8 {
			k++
		}
		if k-j-1 >= 6 && !isAlnum(at(s, k)) {
			return k, true
		}
	}
	// "0104 790829", "61 56 010614": series and number, all digits.
	if digits == n && (n == 4 || n == 2) && at(s, j) == ' ' {
		k := j + 1
		if n == 2 && isDigit(at(s, k)) && isDigit(at(s, k+1)) && at(s, k+2) == ' ' {
			k += 3
		}
		e := k
		for e < len(s) && isDigit(s[e]) && e-k <= 8 {
			e++
		}
		if e-k == 6 && !isAlnum(at(s, e)) {
			return e, true
		}
	}
	if n < 6 || n > 10 || digits < 1 || isAlnum(at(s, j)) {
		return 0, false
	}
	for k := i; k < j; k++ {
		if isLower(s[k]) {
			return 0, false
		}
	}
	return j, true
}
