package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const maskAddress = "[ADDRESS]"

// findAddresses finds street addresses (mask [ADDRESS]) in the ways they
// are written across the gazetteer's locales:
//
//   - a house number, then capitalized words ending in a street type
//     ("743 Rachel Burgs", "10 Downing Street", "221B Baker St");
//   - a house number and a street type first ("507, rue de Maury");
//   - a street type, the street's name, then the number ("Via Roma 5",
//     "Callejón de Lorena Granados 115", "ul. Toruńska 391",
//     "ул. Шишкина, д. 211");
//   - a name glued to a street type, then the number ("Hauptstraße 5",
//     "Jentesingel 391", "Stationsvägen 39");
//   - after a context word ("Address:", "Ship to", "Anschrift:", "I live
//     at", "住所：") the rest of the line or sentence, when it holds a digit;
//   - in CJK scripts, a run that names an administrative division and a
//     number ("兵庫県狛江市丹勢29丁目9番8号", "北京市朝阳区...路8号",
//     "경기도 충주시 강남대로 27").
//
// A street found this way is extended over what follows it on the same
// line or the next one when that reads as the rest of an address: a unit
// ("Apt. 4", "Suite 100"), a town with a postal code ("Springfield, IL
// 62704", "08063 Wertingen", "London NW1 6XE").
func findAddresses(in *input, dst []match) []match {
	s := in.s
	ws := in.words()
	lx := theLexicon()
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if w.cjk {
			if a, b, ok := cjkAddress(s, w); ok {
				dst = append(dst, match{start: a, end: extendAddress(s, b), mask: maskAddress})
			}
			continue
		}
		// After a context word, the rest of the segment.
		if w.flags&wCtxAddress != 0 {
			if a, b, ok := contextAddress(s, ws, i); ok {
				dst = append(dst, match{start: a, end: b, mask: maskAddress})
				for i+1 < len(ws) && ws[i+1].start < b {
					i++
				}
				continue
			}
		}
		// A street type with the street's name and a number.
		if w.flags&wStreet != 0 || w.capital && w.end-w.start >= 6 && streetEnding(lx, s[w.start:w.end]) {
			if a, b, ok := streetAround(s, ws, i); ok {
				dst = append(dst, match{start: a, end: extendAddress(s, b), mask: maskAddress})
				for i+1 < len(ws) && ws[i+1].start < b {
					i++
				}
			}
		}
	}
	return dst
}

// streetEnding reports whether a word is a name glued to a street type:
// "Hauptstraße", "Jentesingel", "Stationsvägen" (at least three letters of
// name before the type).
func streetEnding(lx *lexicon, w string) bool {
	if len(w) < 6 {
		return false
	}
	if hasSuffixFold(w, "str") {
		return true // "Matthäistr.": the dot follows the word
	}
	for _, e := range lx.endingsByTail[tailKey(w)] {
		if len(w) >= len(e)+3 && hasSuffixFold(w, e) {
			return true
		}
	}
	return false
}

// tailKey is the last two bytes of a word, ASCII lower-cased: the index of
// the street endings.
func tailKey(w string) uint16 {
	return uint16(lower(w[len(w)-2]))<<8 | uint16(lower(w[len(w)-1]))
}

// hasSuffixFold reports whether w ends with the lower-case suffix e,
// ignoring the ASCII case of w.
func hasSuffixFold(w, e string) bool {
	if len(w) < len(e) {
		return false
	}
	off := len(w) - len(e)
	for i := 0; i < len(e); i++ {
		if lower(w[off+i]) != e[i] {
			return false
		}
	}
	return true
}

// houseNumber returns the end of a house number at s[i]: 1 to 5 digits,
// an optional letter ("221B") or range ("12-14", "3/1"), or -1.
func houseNumber(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) && j-i < 6 {
		j++
	}
	if j == i || j-i > 5 || j < len(s) && isDigit(s[j]) {
		return -1
	}
	if j < len(s) && isAlpha(s[j]) && !isAlpha(at(s, j+1)) {
		j++
	}
	if (at(s, j) == '-' || at(s, j) == '/') && isDigit(at(s, j+1)) {
		k := j + 1
		for k < len(s) && isDigit(s[k]) && k-j < 5 {
			k++
		}
		j = k
	}
	return j
}

// numberBefore returns the start of a house number that ends just before
// s[i] (with a space, or ", " between), or -1.
func numberBefore(s string, i int) int {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == ',') && i-j < 3 {
		j--
	}
	if j == i {
		return -1
	}
	k := j
	if k > 0 && isAlpha(s[k-1]) && k > 1 && isDigit(s[k-2]) { // "221B"
		k--
	}
	e := k
	for k > 0 && isDigit(s[k-1]) && e-k < 5 {
		k--
	}
	if k == e || k > 0 && (isAlnum(s[k-1]) || s[k-1] == '.' || s[k-1] == '#' || s[k-1] == '$') {
		return -1
	}
	return k
}

// streetAround finds a street address around the street type ws[i].
func streetAround(s string, ws []word, i int) (int, int, bool) {
	w := ws[i]
	// Number first, name words, then the type: "743 Rachel Burgs".
	if w.capital || w.upper {
		j := i
		for j > 0 && i-j < 4 && s[ws[j-1].end:ws[j].start] == " " && !(ws[j-1].start > 0 && isDigit(s[ws[j-1].start-1])) &&
			(ws[j-1].capital || isFold(nameParticles, s[ws[j-1].start:ws[j-1].end]) && j-1 > 0) {
			j--
		}
		named := false
		for k := j; k < i; k++ {
			if ws[k].flags&wCommon == 0 || ws[k].flags&(wFirst|wLast) != 0 && ws[k].flags&wCommon == 0 {
				named = true
			}
		}
		if j < i && named {
			if a := numberBefore(s, ws[j].start); a >= 0 {
				a = unitBefore(s, a)
				end := w.end
				if at(s, end) == '.' {
					end++
				}
				return a, end, true
			}
		}
	}
	// The type first, then the name, then the number: "Via Roma 5", "ul.
	// Toruńska 391", "Callejón de Lorena Granados 115", "ул. Шишкина, д.
	// 211". Or the number first: "507, rue de Maury".
	typeEnd := w.end
	if at(s, typeEnd) == '.' {
		typeEnd++
	}
	// Name words after the type.
	j := i + 1
	nameEnd := -1
	for j < len(ws) && j-i <= 5 {
		g := s[ws[j-1].end:ws[j].start]
		if j == i+1 {
			g = s[typeEnd:ws[j].start]
		}
		if g != " " && g != "-" && g != ". " {
			break
		}
		t := s[ws[j].start:ws[j].end]
		if !ws[j].capital && !isFold(nameParticles, t) && !ws[j].upper {
			break
		}
		nameEnd = ws[j].end
		j++
	}
	if nameEnd < 0 {
		// A glued type ("Jentesingel") is its own name.
		if !streetEnding(theLexicon(), s[w.start:w.end]) {
			return 0, 0, false
		}
		nameEnd = typeEnd
		if s[typeEnd-1] == '.' {
			nameEnd = typeEnd
		}
	}
	// The number after the name: " 5", ", 4", ", д. 211", " Nr. 5".
	k := nameEnd
	for k < len(s) && (s[k] == ' ' || s[k] == ',') && k-nameEnd < 3 {
		k++
	}
	if k > nameEnd {
		for _, p := range []string{"д. ", "д.", "дом ", "No. ", "Nr. ", "nº ", "n° ", "no. ", "#"} {
			if strings.HasPrefix(s[k:], p) {
				k += len(p)
				break
			}
		}
		if e := houseNumber(s, k); e > 0 && !isDigit(at(s, e)) {
			a := w.start
			if nb := numberBefore(s, w.start); nb >= 0 { // "97, chemin Auger, 66120"
				a = nb
			}
			return a, e, true
		}
	}
	// The number before the type: "507, rue de Maury", "12 Via Roma", when
	// the street's name is not made of common words only ("3 Park Avenue
	// project").
	if a := numberBefore(s, w.start); a >= 0 && nameEnd > typeEnd {
		for k := i + 1; k < len(ws) && ws[k].end <= nameEnd; k++ {
			if ws[k].capital && ws[k].flags&(wCommon|wStreet) == 0 {
				return a, nameEnd, true
			}
		}
	}
	return 0, 0, false
}

// addressUnits start the secondary parts of an address.
var addressUnits = []string{"apt", "apt.", "apartment", "suite", "ste", "ste.", "unit", "flat", "studio", "floor", "fl.", "room", "rm",
	"building", "bldg", "piso", "piano", "étage", "etage", "bus", "box", "po box", "p.o. box", "kv.", "кв.", "стр.", "к.", "c/o", "#", "no.", "nr.",
	"appartamento", "interno", "int.", "scala", "puerta", "escalera", "esc.", "bloque", "apto", "apto.", "apartamento", "bloco", "casa",
	"lokal", "m.", "wohnung", "whg.", "bâtiment", "bât.", "porte", "lgh", "lejl.", "lejlighed", "daire", "kat"}

// extendAddress extends an address that ends at s[end] over what follows
// it on its line, or on the next line, when that reads as more of the
// address: a unit, a town and a postal code. At most three more parts.
func extendAddress(s string, end int) int {
	for parts := 0; parts < 3; parts++ {
		i := end
		// A separator: ", ", " ", " / ", or a line break (once).
		sep := i
		for sep < len(s) && (s[sep] == ',' || s[sep] == ' ' || s[sep] == '/' || s[sep] == '\n' || s[sep] == '\r') && sep-i < 4 {
			sep++
		}
		if sep == i || sep >= len(s) {
			return end
		}
		// The part runs to the next comma, slash, line break or sentence end.
		e := sep
		for e < len(s) && s[e] != ',' && s[e] != '\n' && s[e] != '/' && s[e] != ';' && s[e] != '"' && s[e] != ')' && s[e] != '(' && e-sep < 48 {
			if s[e] == '.' && (e+1 >= len(s) || s[e+1] == ' ' || s[e+1] == '\n') {
				// A full stop ends the part, but not the dot of an
				// abbreviation ("Apt. 945", "ul. ").
				w := e
				for w > sep && isAlpha(s[w-1]) {
					w--
				}
				if e-w == 0 || e-w > 4 || e+1 >= len(s) || s[e+1] == '\n' {
					break
				}
			}
			e++
		}
		// A word in lower case ends the part ("74250 Piteå before
		// Friday"), unless it is a particle.
		for k := sep; k < e; k++ {
			if isLower(s[k]) && (k == sep || s[k-1] == ' ') {
				q := k
				for q < e && isAlpha(s[q]) {
					q++
				}
				if t := s[k:q]; len(t) >= 3 && !isFold(nameParticles, t) && theLexicon().lookup(t)&wStreet == 0 {
					e = k
					break
				}
			}
		}
		part := strings.TrimSpace(s[sep:e])
		if part == "" || !addressPart(part) {
			return end
		}
		// A "(PZ)" province after a town.
		if at(s, e) == ' ' && at(s, e+1) == '(' {
			if c := strings.IndexByte(s[e+1:min(len(s), e+8)], ')'); c > 0 {
				e = e + 1 + c + 1
			}
		}
		end = sep + len(strings.TrimRight(s[sep:e], " "))
	}
	return end
}

// addressPart reports whether a part that follows a street reads as more of
// the address: a unit with a number, or a postal code with or without a
// town, or a town name of capitalized words followed by a postal code
// ("North Debratown, FM 50466" is two parts: the town, then state and
// code).
func addressPart(p string) bool {
	lp := strings.ToLower(p)
	for _, u := range addressUnits {
		if strings.HasPrefix(lp, u+" ") || strings.HasPrefix(lp, u) && len(lp) > len(u) && isDigit(lp[len(u)]) {
			return strings.ContainsAny(p, "0123456789")
		}
	}
	if looksLikePostcodePart(p) {
		return true
	}
	// A town alone, when a postal code follows it: the caller takes it
	// only if the next part is one, so check for capitalized words only,
	// up to four.
	fields := strings.Fields(p)
	if len(fields) == 0 || len(fields) > 4 {
		return false
	}
	for _, f := range fields {
		r, _ := utf8.DecodeRuneInString(f)
		if !unicode.IsUpper(r) && !isFold(nameParticles, f) {
			return false
		}
		for _, c := range f {
			if unicode.IsDigit(c) {
				return false
			}
		}
	}
	return true
}

// looksLikePostcodePart reports whether a part holds a postal code: a word
// of 3 to 10 characters with at least 3 digits (and maybe letters and one
// dash: "62704", "08063", "41-032", "30277-546", "NW1 6XE", "9000 AY",
// "950 00"), alone or with a town or a state.
func looksLikePostcodePart(p string) bool {
	fields := strings.Fields(p)
	if len(fields) == 0 || len(fields) > 6 {
		return false
	}
	digits := 0
	for _, c := range p {
		if unicode.IsDigit(c) {
			digits++
		}
	}
	if digits < 3 && !ukPostcode(fields[len(fields)-1]+" ") && !(len(fields) >= 2 && ukPostcode(fields[len(fields)-2]+" "+fields[len(fields)-1])) || digits > 10 {
		return false
	}
	for _, f := range fields {
		d := 0
		for _, c := range f {
			if unicode.IsDigit(c) {
				d++
			}
		}
		if d == 0 {
			r, _ := utf8.DecodeRuneInString(f)
			if !unicode.IsUpper(r) && !isFold(nameParticles, f) && f != "-" && f != "/" {
				return false
			}
		}
	}
	return true
}

// addressSkip are the words that may complete an address context: "ship
// to", "I live at", "my address is".
var addressSkip = map[string]bool{"to": true, "at": true, "is": true, "address": true, "my": true, "in": true, "on": true, "de": true,
	"ist": true, "est": true, "es": true, "é": true, "è": true, "adres": true, "adresse": true, "the": true, "following": true, "au": true}

// contextAddress takes the address after a context word: "Address: ...",
// "Ship to: ...", "I live at ...", "Anschrift: ...". The address is the rest
// of the segment (to a line break, a sentence end, or a word in lower case
// that is no part of an address), and must hold a digit and a capitalized
// word or CJK.
func contextAddress(s string, ws []word, i int) (int, int, bool) {
	w := ws[i]
	k := w.end
	// Skip the words that complete the context: "to", "at", "is", "address".
	j := i + 1
	for j < len(ws) && j-i <= 3 {
		g := s[ws[j-1].end:ws[j].start]
		if !onlySpace(g, 2) {
			break
		}
		if !isFold(addressSkip, s[ws[j].start:ws[j].end]) {
			break
		}
		k = ws[j].end
		j++
	}
	// A separator: ":", "-", "=", spaces.
	start := k
	for start < len(s) && (s[start] == ' ' || s[start] == ':' || s[start] == '=' || s[start] == '-' || s[start] == '\t' || s[start] == '"') && start-k < 4 {
		start++
	}
	if strings.HasPrefix(s[start:], "：") {
		start += len("：")
	}
	if start == k && !(j > i+1) || start >= len(s) {
		return 0, 0, false
	}
	end := start
	lx := theLexicon()
	for end < len(s) {
		c := s[end]
		if c == '\n' || end-start > 160 {
			break // the next lines are added by extendAddress
		}
		if c == '"' || c == '<' || c == '>' || c == '\\' || c == ';' || c == '|' {
			break
		}
		if c == '.' && (end+1 >= len(s) || s[end+1] == ' ' && isUpper(at(s, end+2)) || s[end+1] == '\n') {
			// A sentence ends, unless the dot ends an abbreviation
			// ("St.", "ul.", "д.").
			ws := strings.LastIndexAny(s[start:end], " ,") + start + 1
			if lx.lookup(s[ws:end])&wStreet == 0 {
				break
			}
		}
		if isLower(c) && (end == start || !isAlnum(s[end-1]) && s[end-1] < 0x80 && s[end-1] != '.' && s[end-1] != '\'') {
			// A word in lower case ends the address, unless it is a
			// particle or a street type ("rue", "de", "ul.").
			e := end
			for e < len(s) && isAlpha(s[e]) {
				e++
			}
			t := s[end:e]
			if len(t) >= 3 && !nameParticles[t] && lx.lookup(t)&wStreet == 0 && t != "bis" && t != "ter" && t != "am" {
				break
			}
			end = e
			continue
		}
		if c >= 0x80 && (strings.HasPrefix(s[end:], "。") || strings.HasPrefix(s[end:], "，") || strings.HasPrefix(s[end:], "입니다") || strings.HasPrefix(s[end:], "です")) {
			break
		}
		end++
	}
	for end > start && (s[end-1] == ' ' || s[end-1] == ',' || s[end-1] == '.' && lx.lookup(lastWord(s[start:end-1]))&wStreet == 0) {
		end--
	}
	a := s[start:end]
	if len(a) < 5 || len(a) > 160 || !strings.ContainsAny(a, "0123456789") {
		return 0, 0, false
	}
	hasName := false
	for _, r := range a {
		if unicode.IsUpper(r) || isCJK(r) || unicode.IsLetter(r) && r > 0x3000 {
			hasName = true
			break
		}
	}
	if !hasName {
		return 0, 0, false
	}
	return start, extendAddress(s, end), true
}

func lastWord(s string) string {
	i := strings.LastIndexAny(s, " ,")
	return s[i+1:]
}

// cjkAdminMarks are the characters that name administrative divisions and
// streets in Japanese, Chinese and Korean addresses.
var (
	cjkRegion   = []string{"都", "道", "府", "県", "省", "市", "自治区", "특별시", "광역시", "특별자치시", "특별자치도", "도"}
	cjkLocality = []string{"市", "区", "町", "村", "郡", "县", "镇", "乡", "路", "街", "道", "巷", "구", "군", "시", "읍", "면", "동", "로", "길"}
	cjkNumber   = []string{"丁目", "番地", "番", "号", "號", "座", "층", "호", "번지"}
)

// cjkAddress finds an address that starts in a CJK run: a region mark in
// the run, then a locality mark and a number (digits, or a CJK number
// mark) before the end of the line or sentence.
func cjkAddress(s string, w word) (int, int, bool) {
	run := s[w.start:w.end]
	region := -1
	for _, m := range cjkRegion {
		if j := strings.Index(run, m); j >= 0 && j <= 15 && (region < 0 || j < region) {
			region = j
		}
	}
	if region < 0 {
		return 0, 0, false
	}
	// The address runs on over digits, CJK, letters, spaces, "-" and
	// parentheses to the end of the line or a sentence mark.
	end := w.end
	for end < len(s) && end-w.start < 240 {
		c := s[end]
		if c == '\n' || c == '"' || c == ',' || c == ';' || c == '.' && !isDigit(at(s, end+1)) {
			break
		}
		if c < utf8.RuneSelf {
			if !isAlnum(c) && c != ' ' && c != '-' && c != '(' && c != ')' && c != '#' {
				break
			}
			end++
			continue
		}
		if strings.HasPrefix(s[end:], "입니다") || strings.HasPrefix(s[end:], "です") || strings.HasPrefix(s[end:], "에 ") {
			break
		}
		r, size := utf8.DecodeRuneInString(s[end:])
		if r == '。' || r == '、' || r == '，' || !isCJK(r) && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		end += size
	}
	for end > w.start && s[end-1] == ' ' {
		end--
	}
	addr := s[w.start+region : end]
	loc := false
	for _, m := range cjkLocality {
		if j := strings.Index(addr, m); j > 0 {
			loc = true
			break
		}
	}
	hasNumber := strings.ContainsAny(addr, "0123456789")
	for _, m := range cjkNumber {
		if strings.Contains(addr, m) {
			hasNumber = true
		}
	}
	if !loc || !hasNumber {
		return 0, 0, false
	}
	return w.start, end, true
}

// ukPostcode reports whether p is a UK postcode ("SW1A 1AA", "B6 6AW",
// "WA5 9RJ"), with a trailing dot or space allowed.
func ukPostcode(p string) bool {
	p = strings.TrimRight(p, ". ")
	sp := strings.IndexByte(p, ' ')
	if sp < 2 || sp > 4 || len(p)-sp-1 != 3 {
		return false
	}
	out, in := p[:sp], p[sp+1:]
	if !isUpper(out[0]) || !isDigit(in[0]) || !isUpper(in[1]) || !isUpper(in[2]) {
		return false
	}
	digit := false
	for i := 1; i < len(out); i++ {
		if isDigit(out[i]) {
			digit = true
		} else if !isUpper(out[i]) {
			return false
		}
	}
	return digit
}

// unitBefore extends an address that starts at s[a] back over a unit
// before it ("Studio 21, Lewis Circles", "Flat 3, 10 Downing Street").
func unitBefore(s string, a int) int {
	j := a
	for j > 0 && (s[j-1] == ' ' || s[j-1] == ',') && a-j < 3 {
		j--
	}
	e := j
	for j > 0 && isDigit(s[j-1]) && e-j < 5 {
		j--
	}
	if j == e || j == 0 || s[j-1] != ' ' {
		return a
	}
	k := j - 1
	w := k
	for w > 0 && isAlpha(s[w-1]) {
		w--
	}
	switch strings.ToLower(s[w:k]) {
	case "studio", "flat", "apt", "apartment", "suite", "unit", "room", "floor", "building":
		return w
	}
	return a
}
