package redact

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is an extra detector a Policy adds to the built-in ones: every
// match of a regular expression in content text is replaced by a mask.
type Pattern struct {
	// Name identifies the pattern in errors; unique within the policy and
	// distinct from the built-in detector names.
	Name string `json:"name"`
	// Regexp is the expression, in Go's RE2 syntax. It must not match the
	// empty string. An expression that starts with a literal prefix
	// ("CUST-[0-9]{8}") is searched for much faster than one that does not.
	Regexp string `json:"regexp"`
	// Mask replaces each match, such as "[CUSTOMER_ID]". It must not be
	// empty and must not itself be matched by the pattern or by any
	// enabled detector, so that redacting twice changes nothing more.
	Mask string `json:"mask"`
}

// compilePattern validates p and returns its detector.
func compilePattern(p Pattern) (detector, error) {
	re, err := regexp.Compile(p.Regexp)
	if err != nil {
		return detector{}, fmt.Errorf("%w: pattern %q: %v", ErrInvalidPolicy, p.Name, err)
	}
	if re.MatchString("") {
		return detector{}, fmt.Errorf("%w: pattern %q: regexp %q matches the empty string", ErrInvalidPolicy, p.Name, p.Regexp)
	}
	if p.Mask == "" {
		return detector{}, fmt.Errorf("%w: pattern %q: mask is empty", ErrInvalidPolicy, p.Name)
	}
	if re.MatchString(p.Mask) {
		return detector{}, fmt.Errorf("%w: pattern %q: regexp %q matches its own mask %q, so masking would never end", ErrInvalidPolicy, p.Name, p.Regexp, p.Mask)
	}
	prefix, _ := re.LiteralPrefix()
	find := func(in *input, dst []match) []match {
		if prefix != "" && !strings.Contains(in.s, prefix) {
			return dst
		}
		for _, loc := range re.FindAllStringIndex(in.s, -1) {
			if loc[1] > loc[0] {
				dst = append(dst, match{start: loc[0], end: loc[1], mask: p.Mask})
			}
		}
		return dst
	}
	return detector{name: p.Name, find: find, needs: trAll}, nil
}
