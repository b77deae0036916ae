package redact

import (
	"net/netip"
	"strings"
)

// findIPs finds IP addresses (mask [IP]). Every valid address is masked,
// loopback, private and link-local ones included: in a log, an internal
// address still points at one host and often at one person's machine, and a
// rule that is the same for every address is one a reader can rely on. A
// CIDR suffix or a port stays visible ("[IP]/24", "[IP]:8080").
//
//   - IPv4: four decimal octets of at most 255 without leading zeros. Not
//     version strings: a letter, digit or "." glued to either end
//     ("v1.2.3.4", "1.2.3.4.5"), or the word "version", "release",
//     "build" or "section" just before, leaves the number alone.
//   - IPv6: anything net/netip parses as an IPv6 address, with an optional
//     zone ("fe80::1%eth0"), that holds a decimal digit or at least three
//     colons, so that "::" and C++ or Rust paths ("std::io", "a::b") are not
//     addresses.
func findIPs(in *input, dst []match) []match {
	s := in.s
	next := 0
	for _, run := range in.digits() {
		if run.start < next || run.end-run.start > 3 || at(s, run.end) != '.' {
			continue
		}
		if end, ok := parseIPv4(s, run.start); ok {
			dst = append(dst, match{start: run.start, end: end, mask: maskIP})
			next = end
		}
	}
	return findIPv6s(in, dst)
}

// parseIPv4 reports whether an IPv4 address starts at s[start] and, if so,
// where it ends.
func parseIPv4(s string, start int) (int, bool) {
	if c := before(s, start); isWord(c) || c >= 0x80 || c == '.' {
		return 0, false
	}
	i := start
	for octet := 0; octet < 4; octet++ {
		if octet > 0 {
			if at(s, i) != '.' {
				return 0, false
			}
			i++
		}
		j := i
		v := 0
		for j < len(s) && j-i < 4 && isDigit(s[j]) {
			v = v*10 + int(s[j]-'0')
			j++
		}
		if n := j - i; n == 0 || n > 3 || v > 255 || (n > 1 && s[i] == '0') {
			return 0, false
		}
		i = j
	}
	if c := at(s, i); isWord(c) || c >= 0x80 || c == '.' && isDigit(at(s, i+1)) {
		return 0, false
	}
	if precededByWord(s, start, 12, "version", "release", "build", "section") {
		return 0, false
	}
	return i, true
}

// findIPv6s appends the IPv6 addresses in the input to dst.
func findIPv6s(in *input, dst []match) []match {
	s := in.s
	from := 0
	for _, colon := range in.seps() {
		if colon < from || s[colon] != ':' {
			continue
		}
		from = colon + 1
		isAddr := func(c byte) bool { return isHex(c) || c == ':' || c == '.' }
		if !isAddr(at(s, colon+1)) && !isAddr(before(s, colon)) {
			continue
		}
		start := colon
		for start > 0 && isAddr(s[start-1]) {
			start--
		}
		end := colon + 1
		for end < len(s) && isAddr(s[end]) {
			end++
		}
		for end > colon+1 && s[end-1] == '.' { // end of sentence
			end--
		}
		from = max(from, end)
		if c := before(s, start); isWord(c) || c >= 0x80 {
			continue
		}
		addrEnd := end
		if at(s, end) == '%' { // zone
			z := end + 1
			for z < len(s) && (isAlnum(s[z]) || s[z] == '_' || s[z] == '-' || s[z] == '.') {
				z++
			}
			if z > end+1 {
				end = z
			}
		}
		if c := at(s, end); isWord(c) || c >= 0x80 {
			continue
		}
		cand := s[start:addrEnd]
		if !hasIPv6Shape(cand) {
			continue
		}
		addr, err := netip.ParseAddr(s[start:end])
		if err != nil || !addr.Is6() {
			continue
		}
		dst = append(dst, match{start: start, end: end, mask: maskIP})
	}
	return dst
}

// hasIPv6Shape reports whether cand can be an IPv6 address worth parsing:
// eight groups of hex digits, or fewer with "::", with an IPv4 address in
// place of the last two groups allowed; and a decimal digit or at least
// three colons, so that "::" and paths such as "a::b" are not addresses. It
// keeps times ("09:30:00") and ratios ("16:9") away from netip.ParseAddr,
// whose errors allocate.
func hasIPv6Shape(cand string) bool {
	colons := strings.Count(cand, ":")
	dotted := strings.Contains(cand, ".")
	compressed := strings.Contains(cand, "::")
	switch {
	case colons < 2 || colons > 7:
		return false
	case !compressed && colons != 7 && !(dotted && colons == 6):
		return false
	case !strings.ContainsAny(cand, "0123456789") && colons < 3:
		return false
	}
	return true
}
