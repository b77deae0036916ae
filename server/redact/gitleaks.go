package redact

import (
	_ "embed"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/coregx/ahocorasick"
)

// The secret_rules detector applies the rule set of gitleaks, the secret
// scanner most widely maintained: data/gitleaks.json is its default
// configuration (config/gitleaks.toml of github.com/zricethezav/gitleaks/v8,
// at the version and module hash recorded in the file, MIT licence),
// converted by tools/gitleaksrules. Each rule is a regular expression for
// one provider's keys and tokens (DigitalOcean, Hugging Face, Twilio,
// SendGrid, Shopify, Databricks, Atlassian, and some two hundred more), with
// keywords and a minimum entropy for the secret it captures, and stop words
// and allow patterns for placeholders.
//
// As in gitleaks, the keywords gate the expressions: an Aho-Corasick
// automaton (github.com/coregx/ahocorasick) finds them in one pass, and only
// the rules whose keywords occur run. Here the automaton runs only on a
// window around each run of at least 16 token characters, since every rule
// captures a secret at least that long or ending in one; text without such
// runs costs nothing.
//
// Three rules are left out, each covered by a detector of this package
// that knows its context better: generic-api-key (assignments to secret
// names, the keyed detectors), jwt (the jwt detector) and private-key (the
// private_key detector, which masks the whole block).

//go:embed data/gitleaks.json
var gitleaksJSON []byte

// excludedRules are the gitleaks rules this package does not apply, and why.
var excludedRules = map[string]string{
	"generic-api-key": "assignments to secret names are found by the keyed detectors",
	"jwt":             "the jwt detector checks the header",
	"jwt-base64":      "the jwt detector checks the header",
	"private-key":     "the private_key detector masks the whole block",
}

type secretRule struct {
	id       string
	re       *regexp.Regexp
	group    int
	entropy  float64
	stop     []string
	allow    []*regexp.Regexp
	keywords []string
}

type secretRules struct {
	rules []secretRule
	ac    *ahocorasick.Automaton
	// byKeyword lists, for each keyword of the automaton, the rules it
	// gates.
	byKeyword   [][]int
	globalStop  []string
	globalAllow []*regexp.Regexp
	version     string
}

var theSecretRules = sync.OnceValue(loadSecretRules)

func loadSecretRules() *secretRules {
	var data struct {
		Version            string   `json:"version"`
		GlobalStopwords    []string `json:"global_stopwords"`
		GlobalAllowRegexes []string `json:"global_allow_regexes"`
		Rules              []struct {
			ID           string   `json:"id"`
			Regex        string   `json:"regex"`
			SecretGroup  int      `json:"secret_group"`
			Entropy      float64  `json:"entropy"`
			Keywords     []string `json:"keywords"`
			Stopwords    []string `json:"stopwords"`
			AllowRegexes []string `json:"allow_regexes"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(gitleaksJSON, &data); err != nil {
		panic("redact: data/gitleaks.json: " + err.Error())
	}
	rs := &secretRules{version: data.Version, globalStop: lowerAll(data.GlobalStopwords)}
	for _, a := range data.GlobalAllowRegexes {
		if re, err := regexp.Compile(a); err == nil {
			rs.globalAllow = append(rs.globalAllow, re)
		}
	}
	keywordIndex := map[string]int{}
	var keywords []string
	for _, r := range data.Rules {
		if _, skip := excludedRules[r.ID]; skip || len(r.Keywords) == 0 {
			continue
		}
		re, err := regexp.Compile(r.Regex)
		if err != nil {
			continue // a rule Go's regexp cannot read; none is, at this version
		}
		sr := secretRule{id: r.ID, re: re, group: r.SecretGroup, entropy: r.Entropy, stop: lowerAll(r.Stopwords), keywords: r.Keywords}
		for _, a := range r.AllowRegexes {
			if are, err := regexp.Compile(a); err == nil {
				sr.allow = append(sr.allow, are)
			}
		}
		idx := len(rs.rules)
		rs.rules = append(rs.rules, sr)
		for _, k := range r.Keywords {
			k = strings.ToLower(k)
			ki, ok := keywordIndex[k]
			if !ok {
				ki = len(keywords)
				keywordIndex[k] = ki
				keywords = append(keywords, k)
				rs.byKeyword = append(rs.byKeyword, nil)
			}
			rs.byKeyword[ki] = append(rs.byKeyword[ki], idx)
		}
	}
	ac, err := ahocorasick.NewBuilder().AddStrings(keywords).Build()
	if err != nil {
		panic("redact: gitleaks keywords: " + err.Error())
	}
	rs.ac = ac
	return rs
}

func lowerAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}

// minSecretRun is the shortest run of token characters around which the
// rules are tried.
const minSecretRun = 16

// isSecretChar reports whether c may be part of a secret the rules capture.
func isSecretChar(c byte) bool {
	return isKeyChar(c) || c == '+' || c == '/' || c == '=' || c == '.' || c == '~' || c == ':'
}

// secretRuns returns the runs of at least minSecretRun secret characters,
// probing one byte in minSecretRun as keys does.
func secretRuns(s string, dst []span) []span {
	floor := 0
	for p := minSecretRun - 1; p < len(s); {
		if !isSecretChar(s[p]) {
			p += minSecretRun
			continue
		}
		a := p
		for a > floor && isSecretChar(s[a-1]) {
			a--
		}
		b := p + 1
		for b < len(s) && isSecretChar(s[b]) {
			b++
		}
		if b-a >= minSecretRun {
			dst = append(dst, span{a, b})
		}
		floor = b
		p = b + minSecretRun
	}
	return dst
}

// findSecretRules finds the secrets the gitleaks rules describe (mask
// [API_KEY]).
func findSecretRules(in *input, dst []match) []match {
	s := in.s
	var runsBuf [16]span
	runs := secretRuns(s, runsBuf[:0])
	if len(runs) == 0 {
		return dst
	}
	rs := theSecretRules()
	var lowBuf [512]byte
	var seen [8]int
	for _, run := range runs {
		// The window: the run, and what may name it before.
		a := max(0, run.start-96)
		b := min(len(s), run.end+4)
		if b-a > len(lowBuf) {
			b = min(len(s), a+len(lowBuf))
			if b <= run.start {
				continue
			}
		}
		low := lowBuf[:b-a]
		for i := range low {
			low[i] = lower(s[a+i])
		}
		tried := seen[:0]
		for _, m := range rs.ac.FindAllOverlapping(low) {
			for _, ri := range rs.byKeyword[m.PatternID] {
				if containsInt(tried, ri) {
					continue
				}
				tried = append(tried, ri)
				dst = rs.rules[ri].find(rs, s, a, b, run, dst)
			}
		}
	}
	return dst
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// find applies one rule to the window s[a:b] and appends the secrets it
// captures that lie in run.
func (r *secretRule) find(rs *secretRules, s string, a, b int, run span, dst []match) []match {
	w := s[a:b]
	// gitleaks wants a secret to end at a quote, a space, a semicolon or
	// the end of the text; in prose it often ends at a full stop, a comma
	// or a parenthesis, which are read as a space here.
	if e := run.end; strings.IndexByte(".,:", s[e-1]) >= 0 {
		w = s[a:e-1] + " " + s[e:b]
	} else if e < b && strings.IndexByte(".,)!?]>", s[e]) >= 0 {
		w = s[a:e] + " " + s[e+1:b]
	}
	for _, loc := range r.re.FindAllStringSubmatchIndex(w, 4) {
		start, end := loc[0], loc[1]
		g := r.group
		if g == 0 && len(loc) > 2 {
			// gitleaks takes the first group that matched.
			for k := 1; k*2+1 < len(loc); k++ {
				if loc[2*k] >= 0 {
					g = k
					break
				}
			}
		}
		if g > 0 && 2*g+1 < len(loc) && loc[2*g] >= 0 {
			start, end = loc[2*g], loc[2*g+1]
		}
		secret := w[start:end]
		if start+a >= run.end || end+a <= run.start || len(secret) < 8 {
			continue
		}
		if r.entropy > 0 && shannon(secret) < r.entropy {
			continue
		}
		if r.allowed(rs, secret) {
			continue
		}
		dst = append(dst, match{start: a + start, end: a + end, mask: maskAPIKey})
	}
	return dst
}

// allowed reports whether the rule's or the rule set's allowlist lets a
// secret pass: a stop word inside it, or an allow pattern that matches it.
func (r *secretRule) allowed(rs *secretRules, secret string) bool {
	ls := strings.ToLower(secret)
	for _, w := range r.stop {
		if strings.Contains(ls, w) {
			return true
		}
	}
	for _, w := range rs.globalStop {
		if strings.Contains(ls, w) {
			return true
		}
	}
	for _, re := range r.allow {
		if re.MatchString(secret) {
			return true
		}
	}
	for _, re := range rs.globalAllow {
		if re.MatchString(secret) {
			return true
		}
	}
	return false
}

// shannon returns the Shannon entropy of s, in bits per byte, as gitleaks
// computes it.
func shannon(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
