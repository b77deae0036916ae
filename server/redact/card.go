package redact

// findCards finds payment card numbers (mask "[CARD ****4242]", keeping the
// last four digits so that a developer can tell cards apart, as receipts
// do): 13 to 19 digits, either in one run or in groups of 3 to 6 digits
// separated by single spaces or by single dashes, that pass the Luhn check
// and start with the issuer prefix of a card network (Visa, Mastercard,
// American Express, Discover, Diners Club, JCB, UnionPay, Maestro) with as
// many digits as that network's cards have.
//
// The prefix and length rules keep Luhn-valid ids of other kinds (parcel
// tracking numbers, 15-digit IMEIs, account numbers starting with 0, 1, 7,
// 8 or 9) visible.
// When groups run on past a card ("4242 4242 4242 4242 12 28"), the longest
// leading groups that make a valid card are masked.
func findCards(in *input, dst []match) []match {
	s := in.s
	next := 0
	for _, run := range in.digits() {
		if run.start < next || !cardLeftBoundary(before(s, run.start)) {
			continue
		}
		if end, ok := parseCard(s, run.start); ok {
			dst = append(dst, match{start: run.start, end: end, mask: cardMask(s[run.start:end])})
			next = end
		}
	}
	return dst
}

// parseCard reports whether a card number starts at s[start] and, if so,
// where it ends.
func parseCard(s string, start int) (int, bool) {
	var (
		ends   [8]int // end of the number after each group
		digits [8]int // digits up to the end of each group
		ng     int
		sep    byte
		total  int
	)
	i := start
	for ng < len(ends) {
		j := i
		if ng > 0 {
			c, n := cardSeparator(s, j)
			if n == 0 || (sep != 0 && c != sep) {
				break
			}
			sep = c
			j += n
		}
		d := j
		for d < len(s) && isDigit(s[d]) {
			d++
		}
		n := d - j
		if _, more := cardSeparator(s, d); n == 0 || (ng > 0 && (n < 2 || n > 6 || n == 2 && (more > 0 || total+n < 13))) || total+n > 19 {
			break
		}
		total += n
		ends[ng], digits[ng] = d, total
		ng++
		i = d
		if ng == 1 && n > 6 { // one run of digits, not groups
			break
		}
	}
	if ng > 1 && (digits[0] < 3 || digits[0] > 6) {
		return 0, false
	}
	for k := ng - 1; k >= 0; k-- {
		if digits[k] < 13 || !cardRightBoundary(s, ends[k], k < ng-1) {
			continue
		}
		num := s[start:ends[k]]
		if hasCardPrefix(num) && luhn(num) {
			return ends[k], true
		}
	}
	return 0, false
}

// cardLeftBoundary reports whether c may come right before a card number.
func cardLeftBoundary(c byte) bool {
	return !isWord(c) && c < 0x80 && c != '.' && c != '-' && c != '+' && c != '/' && c != '#'
}

// cardRightBoundary reports whether a card number may end at s[end]. inside
// is true when more groups follow, which is a valid end: the groups after a
// card are an expiry date or a code.
func cardRightBoundary(s string, end int, inside bool) bool {
	if inside {
		return true
	}
	c := at(s, end)
	if isWord(c) || c >= 0x80 {
		return false
	}
	switch c {
	case '.', '-', '/', ',':
		return !isDigit(at(s, end+1))
	}
	return true
}

// cardDigits calls f with each digit of a card number written with
// separators.
func cardDigits(num string, f func(d int)) {
	for i := 0; i < len(num); i++ {
		if isDigit(num[i]) {
			f(int(num[i] - '0'))
		}
	}
}

// luhn reports whether the digits of num pass the Luhn check.
func luhn(num string) bool {
	sum, n := 0, 0
	for i := len(num) - 1; i >= 0; i-- {
		if !isDigit(num[i]) {
			continue
		}
		d := int(num[i] - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return sum%10 == 0
}

// hasCardPrefix reports whether the digits of num start with the issuer
// identification number of a card network, and are as many as that
// network's cards have. The lengths keep out other Luhn-checked numbers of
// similar prefixes, such as 15-digit IMEIs.
func hasCardPrefix(num string) bool {
	p := 0 // the first six digits, as a number
	n := 0 // all the digits
	cardDigits(num, func(d int) {
		if n < 6 {
			p = p*10 + d
		}
		n++
	})
	p1, p2, p3, p4 := p/100000, p/10000, p/1000, p/100
	switch {
	case p1 == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649, p2 == 62: // Discover, UnionPay
		return n >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14
	case p2 == 35: // JCB (3528-3589, and issuers' test ranges in 35)
		return n >= 16
	case p2 == 50, p2 >= 56 && p2 <= 69: // Maestro
		return n >= 12
	}
	return false
}

// cardMask returns the mask of a card number: its last four digits, as
// receipts print them.
func cardMask(num string) string {
	var last [4]byte
	k := 4
	for i := len(num) - 1; i >= 0 && k > 0; i-- {
		if isDigit(num[i]) {
			k--
			last[k] = num[i]
		}
	}
	return "[CARD ****" + string(last[:]) + "]"
}

// cardSeparator reads the separator between two groups of a card number at
// s[i]: a space, a dash or a dot, or a line break with spaces around it (a
// number split over two lines), which counts as a space. It returns the
// separator and its length, or a zero length.
func cardSeparator(s string, i int) (byte, int) {
	switch c := at(s, i); c {
	case '-', '.':
		if i < len(s) && isDigit(at(s, i+1)) {
			return c, 1
		}
		return 0, 0
	case ' ', '\n', '\r', '\t':
		j, newlines := i, 0
		for j < len(s) && (s[j] == ' ' || s[j] == '\n' || s[j] == '\r' || s[j] == '\t') && j-i < 8 {
			if s[j] == '\n' {
				newlines++
			}
			j++
		}
		if newlines > 1 || newlines == 0 && j-i > 1 || !isDigit(at(s, j)) {
			return 0, 0
		}
		return ' ', j - i
	}
	return 0, 0
}
