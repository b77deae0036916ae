package redact

// findNationalIDs finds national identification numbers whose format is
// reliable enough to tell from other numbers (mask [NATIONAL_ID]):
//
//   - US Social Security numbers written "123-45-6789", or "123 45 6789" or
//     "123456789" after the word "SSN" or "social security" within 32 bytes.
//     Numbers that the Social Security Administration never issues are left
//     alone: area 000, 666 or 900-999, group 00, serial 0000.
//   - UK National Insurance numbers: two letters, six digits and a suffix
//     letter A to D, written "AB123456C", "AB 12 34 56 C" or "AB 123456 C", in upper case.
//     Prefixes HMRC never allocates are left alone: a first letter D, F, I,
//     Q, U or V, a second letter D, F, I, O, Q, U or V, and BG, GB, KN, NK,
//     NT, TN and ZZ. (The "QQ 12 34 56 C" of forms and examples is one.)
func findNationalIDs(in *input, dst []match) []match {
	s := in.s
	next := 0
	for _, run := range in.digits() {
		if run.start < next {
			continue
		}
		if end, ok := parseSSN(s, run.start); ok {
			dst = append(dst, match{start: run.start, end: end, mask: maskNationalID})
			next = end
			continue
		}
		start := run.start - 2
		if before(s, run.start) == ' ' {
			start--
		}
		if start >= next && start >= 0 {
			if end, ok := parseNINO(s, start); ok {
				dst = append(dst, match{start: start, end: end, mask: maskNationalID})
				next = end
			}
		}
	}
	return dst
}

// parseSSN reports whether a US Social Security number starts at s[start]
// and, if so, where it ends.
func parseSSN(s string, start int) (int, bool) {
	if c := before(s, start); isWord(c) || c >= 0x80 || c == '-' || c == '.' || c == '+' || c == '/' || c == '#' {
		return 0, false
	}
	var d [9]byte
	n := 0
	i := start
	var sep byte
	for n < 9 && i < len(s) {
		c := s[i]
		switch {
		case isDigit(c):
			d[n] = c - '0'
			n++
			i++
		case (n == 3 || n == 5) && (c == '-' || c == ' ') && (sep == 0 || sep == c) && (n == 3 || sep != 0) && isDigit(at(s, i+1)):
			sep = c
			i++
		default:
			return 0, false
		}
	}
	if n != 9 {
		return 0, false
	}
	if c := at(s, i); isWord(c) || c >= 0x80 || (c == '-' || c == '.' || c == '/') && isDigit(at(s, i+1)) {
		return 0, false
	}
	written := i - start
	if written != 9 && written != 11 {
		return 0, false // one separator but not the other: "123-456789"
	}
	if sep != '-' && !precededByWord(s, start, 32, "ssn", "social security") {
		return 0, false
	}
	area := int(d[0])*100 + int(d[1])*10 + int(d[2])
	group := int(d[3])*10 + int(d[4])
	serial := int(d[5])*1000 + int(d[6])*100 + int(d[7])*10 + int(d[8])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return 0, false
	}
	return i, true
}

// parseNINO reports whether a UK National Insurance number starts at
// s[start] and, if so, where it ends.
func parseNINO(s string, start int) (int, bool) {
	if isWord(before(s, start)) {
		return 0, false
	}
	a, b := at(s, start), at(s, start+1)
	if !isUpper(a) || !isUpper(b) || !ninoPrefix(a, b) {
		return 0, false
	}
	i := start + 2
	for pair := 0; pair < 3; pair++ {
		if at(s, i) == ' ' { // "AB 12 34 56 C", "AB 123456 C"
			i++
		}
		if !isDigit(at(s, i)) || !isDigit(at(s, i+1)) {
			return 0, false
		}
		i += 2
	}
	if at(s, i) == ' ' {
		i++
	}
	if c := at(s, i); c < 'A' || c > 'D' {
		return 0, false
	}
	i++
	if isWord(at(s, i)) {
		return 0, false
	}
	return i, true
}

// ninoPrefix reports whether HMRC allocates National Insurance numbers with
// the prefix ab.
func ninoPrefix(a, b byte) bool {
	switch a {
	case 'D', 'F', 'I', 'Q', 'U', 'V':
		return false
	}
	switch b {
	case 'D', 'F', 'I', 'O', 'Q', 'U', 'V':
		return false
	}
	switch string([]byte{a, b}) {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	return true
}
