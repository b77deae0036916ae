package redact

import (
	"strconv"
	"strings"
)

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
	if c := at(s, i); isWord(c) || c >= 0x80 || (c == '-' || c == '.' || c == '/') && isAlnum(at(s, i+1)) {
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
	// In upper case only: "ab123456c" in lower case is as often a
	// reference of another kind, and is taken after a context word
	// ("NI number ab 12 34 56 c", see findContextIDs).
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

// strongIDWords name a national id by themselves; the other national-id
// context words ("social", "national", "insurance", "tax", "codice") do only
// with another after them ("social security number", "national insurance
// no.", "tax id", "codice fiscale").
var strongIDWords = map[string]bool{
	"ssn": true, "ssn#": true, "ss#": true, "nino": true, "pesel": true, "cpf": true, "bsn": true, "burgerservicenummer": true,
	"personnummer": true, "personnr": true, "nir": true, "dni": true, "nie": true, "nif": true, "cpr": true, "cpr-nummer": true,
	"kimlik": true, "инн": true, "снилс": true, "steuer-id": true, "steueridentifikationsnummer": true, "steuernummer": true,
	"aadhaar": true, "aadhar": true, "hetu": true, "henkilötunnus": true, "fødselsnummer": true, "curp": true, "rut": true,
	"ahv": true, "avs": true, "cnp": true, "egn": true, "oib": true, "emšo": true, "tfn": true, "fiscale": true, "sin": true,
	"personalausweis": true, "ausweisnummer": true, "cf": true, "ss": true,
}

// idFollowers make a weak national-id context word a context: "social
// security", "national insurance", "tax id".
var idFollowers = map[string]bool{"security": true, "sec": true, "insurance": true, "number": true, "no": true, "id": true,
	"fiscale": true, "kimlik": true, "sécurité": true, "identité": true, "ss": true, "card": true}

// idSkip are the words that may complete a national-id context before the
// value: "social security number", "NI number", "T.C. Kimlik No".
var idSkip = map[string]bool{
	"security": true, "sec": true, "number": true, "no": true, "nr": true, "num": true, "id": true, "insurance": true, "card": true,
	"kimlik": true, "fiscale": true, "identity": true, "identification": true, "sécurité": true, "securite": true, "sociale": true,
	"social": true, "de": true, "d'identité": true, "identité": true, "nummer": true, "numer": true, "número": true, "numéro": true,
	"numero": true, "ss": true, "my": true, "the": true, "of": true, "is": true, "code": true, "tc": true, "t": true, "c": true,
}

// findContextIDs finds national ids after a context word (mask
// [NATIONAL_ID]), in any of the forms ids are written: digits with
// separators ("123 45 6789", "1 73 03 36 044 051 92", "138.297.634-84",
// "061076-6346"), or letters and digits ("ZZ 68 62 90 T", "Z2817751A",
// "PRCSVD93B65C795K"), with at least five digits. Also the values of
// assignments and JSON members named for a national id ("PESEL=...",
// {"tax_id": ...}).
func findContextIDs(in *input, dst []match) []match {
	s := in.s
	ws := in.words()
	for i, w := range ws {
		if w.flags&wCtxNationalID != 0 {
			if !isFold(strongIDWords, s[w.start:w.end]) {
				// A weak word needs another id word after it, or a colon
				// ("NI: ...").
				ok := at(s, w.end) == ':' && (w.upper || w.end-w.start <= 3)
				for j := i + 1; j < len(ws) && j <= i+3 && contextGap(s[ws[j-1].end:ws[j].start]); j++ {
					u := s[ws[j].start:ws[j].end]
					if isFold(strongIDWords, u) || isFold(idFollowers, u) {
						ok = true
						break
					}
				}
				if !ok {
					continue
				}
			}
			start := afterContext(s, ws, i, wCtxNationalID, idSkip)
			if end, ok := idValue(s, start); ok && !invalidSSNOrNINO(s[start:end]) {
				dst = append(dst, match{start: start, end: end, mask: maskNationalID})
			}
			continue
		}
		if w.cjk {
			run := s[w.start:w.end]
			for _, k := range []string{"身份证号码", "身份证号", "身份证", "주민등록번호", "외국인등록번호", "マイナンバー", "個人番号"} {
				if strings.HasSuffix(run, k) {
					start := skipSeparators(s, w.end)
					if end, ok := idValue(s, start); ok {
						dst = append(dst, match{start: start, end: end, mask: maskNationalID})
					}
					break
				}
			}
		}
	}
	return findKeyed(in, keyNationalID, func(v string) (string, bool) {
		end, ok := idValue(v, 0)
		return maskNationalID, ok && end == len(v)
	}, dst)
}

// idValue reports whether an id value starts at s[i]: letters, digits and
// single separators (space, ".", "-", "/") between them, with at least five
// digits, 6 to 24 bytes long, not followed by more of a word.
func idValue(s string, i int) (int, bool) {
	if i >= len(s) || !isAlnum(s[i]) || i > 0 && isAlnum(s[i-1]) {
		return 0, false
	}
	j := i
	digits, last := 0, i
	for j < len(s) && j-i <= 24 {
		c := s[j]
		switch {
		case isDigit(c):
			digits++
			last = j + 1
		case isAlpha(c):
			last = j + 1
		case (c == ' ' || c == '.' || c == '-' || c == '/') && isAlnum(at(s, j+1)) && isAlnum(at(s, j-1)):
			// A space separates groups only of digits or short letter
			// groups ("ZZ 68 62 90 T"), not words.
			if c == ' ' {
				k := j + 1
				for k < len(s) && isAlpha(s[k]) {
					k++
				}
				if k-j-1 > 2 {
					goto done
				}
			}
		default:
			goto done
		}
		j++
	}
done:
	n := last - i
	if digits < 5 || n < 6 || isAlnum(at(s, last)) {
		return 0, false
	}
	return last, true
}

// invalidSSNOrNINO reports whether an id has the form of a US Social
// Security number or a UK National Insurance number that is never issued
// ("000-12-3456", "666-...", "QQ 12 34 56 C"): a look-alike in forms and
// examples, not someone's id.
func invalidSSNOrNINO(v string) bool {
	if len(v) == 11 && (v[3] == '-' && v[6] == '-' || v[3] == ' ' && v[6] == ' ') && digitCount(v) == 9 {
		area, _ := strconv.Atoi(v[:3])
		group, _ := strconv.Atoi(v[4:6])
		serial, _ := strconv.Atoi(v[7:])
		return area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0
	}
	compact := strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	if len(compact) == 9 && isAlpha(compact[0]) && isAlpha(compact[1]) && isAlpha(compact[8]) && digitCount(compact) == 6 {
		return !ninoPrefix(compact[0], compact[1]) && compact[:2] != "ZZ" || compact[:2] == "QQ"
	}
	return false
}
