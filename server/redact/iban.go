package redact

// ibanLengths is the length of the IBAN of every country that issues them
// (SWIFT IBAN registry), by ISO 3166 country code.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
	"BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
	"DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
	"FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
	"GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
	"LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
	"MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
	"SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
	"YE": 30,
}

// findIBANs finds international bank account numbers (mask [IBAN]): a
// country code, two check digits and the account number, written in one run
// ("GB82WEST12345698765432") or in groups of four separated by single spaces
// ("DE89 3704 0044 0532 0130 00"), with exactly the length of the country's
// IBAN and a valid ISO 7064 mod-97 checksum. Letters may be in either case.
func findIBANs(in *input, dst []match) []match {
	s := in.s
	next := 0
	for _, run := range in.digits() {
		start := run.start - 2
		if start < next || run.end-run.start < 2 || !isAlpha(at(s, start)) || !isAlpha(at(s, start+1)) || isWord(before(s, start)) {
			continue
		}
		if end, ok := parseIBAN(s, start); ok {
			dst = append(dst, match{start: start, end: end, mask: maskIBAN})
			next = end
		}
	}
	return dst
}

// parseIBAN reports whether an IBAN starts at s[start] and, if so, where it
// ends.
func parseIBAN(s string, start int) (int, bool) {
	cc := [2]byte{s[start] &^ 0x20, s[start+1] &^ 0x20}
	want, ok := ibanLengths[string(cc[:])]
	if !ok {
		return 0, false
	}
	// The checksum moves the first four characters to the end, so it is
	// computed over the account number first, then over the country code
	// and check digits.
	rem := 0
	add := func(c byte) {
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c&^0x20-'A'+10)) % 97
		}
	}
	n := 0   // characters of the IBAN read
	run := 0 // characters since the last separator
	i := start
	for n < want && i < len(s) {
		c := s[i]
		switch {
		case isAlnum(c):
			if n >= 2 && n < 4 && !isDigit(c) {
				return 0, false
			}
			if n >= 4 {
				add(c)
			}
			n++
			run++
			i++
		case c == ' ' && run == 4 && isAlnum(at(s, i+1)):
			run = 0
			i++
		default:
			return 0, false
		}
	}
	if n != want || isWord(at(s, i)) {
		return 0, false
	}
	for k := start; k < start+4; k++ {
		add(s[k])
	}
	return i, rem == 1
}
