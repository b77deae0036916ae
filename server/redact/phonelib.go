package redact

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Numbers without a context or a phone number's written shape are judged
// by libphonenumber's metadata (github.com/nyaruka/phonenumbers): a number
// is a phone number when it is valid for a region, tried in the order of
// the hints the text gives (its script, its country codes) and then the
// regions of the gazetteer's locales. Parsing is slow (about 10 µs per
// region), so it runs only on the few numbers that stand alone on their
// line, and the answers are kept, per digits, up to a bound.

// phoneRegions are the regions tried for a number, after the text's hints.
var phoneRegions = []string{
	"US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "PL", "SE", "RU", "JP", "CN", "KR", "TR", "DK", "IN", "CA", "AU", "MX",
	"CH", "AT", "BE", "PT", "NO", "FI", "IE", "AR", "CO", "CL", "ZA", "NG", "EG", "SA", "AE", "IL", "UA", "CZ", "RO", "GR", "HU",
	"TW", "HK", "SG", "MY", "TH", "VN", "ID", "PH", "PK", "BD", "NZ",
}

var (
	phoneCacheMu sync.Mutex
	phoneCache   = map[string]bool{}
)

// maxPhoneCache bounds the remembered answers; past it the cache starts
// over.
const maxPhoneCache = 4096

// validPhone reports whether a number written without a country code is a
// valid phone number in some region, per libphonenumber.
func validPhone(num string, in *input) bool {
	var buf [20]byte
	n := 0
	for i := 0; i < len(num) && n < len(buf); i++ {
		if isDigit(num[i]) || num[i] == '+' {
			buf[n] = num[i]
			n++
		}
	}
	digits := string(buf[:n])
	phoneCacheMu.Lock()
	ok, seen := phoneCache[digits]
	phoneCacheMu.Unlock()
	if seen {
		return ok
	}
	ok = validInSomeRegion(digits, scriptRegions(in.s))
	phoneCacheMu.Lock()
	if len(phoneCache) >= maxPhoneCache {
		clear(phoneCache)
	}
	phoneCache[digits] = ok
	phoneCacheMu.Unlock()
	return ok
}

func validInSomeRegion(digits string, hints []string) bool {
	if len(digits) > 0 && digits[0] == '+' {
		n, err := phonenumbers.Parse(digits, "ZZ")
		return err == nil && phonenumbers.IsValidNumber(n)
	}
	tried := map[string]bool{}
	for _, list := range [][]string{hints, phoneRegions} {
		for _, r := range list {
			if tried[r] {
				continue
			}
			tried[r] = true
			n, err := phonenumbers.Parse(digits, r)
			if err == nil && phonenumbers.IsValidNumberForRegion(n, r) {
				return true
			}
		}
	}
	return false
}

// scriptRegions returns the regions a text's script suggests.
func scriptRegions(s string) []string {
	if !hasFoldable(s) {
		return nil
	}
	var out []string
	for _, r := range s {
		switch {
		case r >= 0x0400 && r <= 0x04FF:
			return append(out, "RU", "UA", "KZ", "BY")
		case r >= 0x3040 && r <= 0x30FF:
			return append(out, "JP")
		case r >= 0xAC00 && r <= 0xD7AF:
			return append(out, "KR")
		case r >= 0x4E00 && r <= 0x9FFF:
			return append(out, "CN", "TW", "HK", "JP")
		case r >= 0x0600 && r <= 0x06FF:
			return append(out, "SA", "AE", "EG", "IR", "PK")
		case r >= 0x0900 && r <= 0x097F:
			return append(out, "IN")
		}
	}
	return out
}
