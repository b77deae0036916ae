// Command gitleaksrules converts the default rule set of gitleaks
// (github.com/zricethezav/gitleaks/v8, config/gitleaks.toml, MIT licence),
// fetched through the Go module proxy at a pinned version, into the data
// file the developer view's secret_rules detector embeds
// (server/redact/data/gitleaks.json):
//
//	go run ./server/redact/tools/gitleaksrules -version v8.30.1 -out server/redact/data/gitleaks.json
//
// It keeps each rule's id, regular expression, secret group, minimum
// entropy and keywords, and the stop words and regular expressions of its
// allowlists that apply to the secret; rules that match file paths only are
// left out. The module's go.sum hash is recorded, so the data can be traced
// to the exact module the proxy served.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

type rule struct {
	ID          string   `json:"id"`
	Regex       string   `json:"regex"`
	SecretGroup int      `json:"secret_group,omitempty"`
	Entropy     float64  `json:"entropy,omitempty"`
	Keywords    []string `json:"keywords"`
	// Stopwords and AllowRegexes, from the rule's allowlists that test
	// the secret (regexTarget unset or "secret"): a finding that contains
	// a stop word, or whose secret an allow regex matches, is not one.
	Stopwords    []string `json:"stopwords,omitempty"`
	AllowRegexes []string `json:"allow_regexes,omitempty"`
}

type ruleSet struct {
	Source  string `json:"source"`
	Version string `json:"version"`
	Sum     string `json:"sum"`
	Licence string `json:"licence"`
	// GlobalStopwords and GlobalAllowRegexes are the rule set's global
	// allowlist entries that test the secret.
	GlobalStopwords    []string `json:"global_stopwords"`
	GlobalAllowRegexes []string `json:"global_allow_regexes"`
	Rules              []rule   `json:"rules"`
}

const module = "github.com/zricethezav/gitleaks/v8"

func main() {
	version := flag.String("version", "v8.30.1", "gitleaks module version")
	out := flag.String("out", "server/redact/data/gitleaks.json", "output file")
	flag.Parse()
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+*version)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		fail("go mod download: %v", err)
	}
	var info struct{ Dir, Sum string }
	if err := json.Unmarshal(b, &info); err != nil {
		fail("go mod download output: %v", err)
	}
	toml, err := os.ReadFile(filepath.Join(info.Dir, "config", "gitleaks.toml"))
	if err != nil {
		fail("%v", err)
	}
	rs, err := convert(string(toml))
	if err != nil {
		fail("config/gitleaks.toml: %v", err)
	}
	rs.Source, rs.Version, rs.Sum, rs.Licence = module+"/config/gitleaks.toml", *version, info.Sum, "MIT (Copyright (c) 2019 Zachary Rice)"
	data, err := json.MarshalIndent(rs, "", " ")
	if err != nil {
		fail("%v", err)
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		fail("%v", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d rules from %s@%s\n", *out, len(rs.Rules), module, *version)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gitleaksrules: "+format+"\n", args...)
	os.Exit(1)
}

// convert reads the subset of TOML that gitleaks.toml is written in: tables
// [allowlist], [[rules]] and [[rules.allowlists]], and key = value pairs
// whose values are strings (”'literal”' or "basic"), numbers, or arrays of
// strings, possibly over several lines.
func convert(src string) (ruleSet, error) {
	var rs ruleSet
	var cur *rule
	section := ""
	allow := map[string]any{}
	flushAllow := func() {
		if section == "" || len(allow) == 0 {
			allow = map[string]any{}
			return
		}
		target, _ := allow["regexTarget"].(string)
		if _, hasCond := allow["condition"]; target == "" || target == "secret" {
			stop, _ := allow["stopwords"].([]string)
			res, _ := allow["regexes"].([]string)
			if section == "global" {
				rs.GlobalStopwords = append(rs.GlobalStopwords, stop...)
				rs.GlobalAllowRegexes = append(rs.GlobalAllowRegexes, res...)
			} else if cur != nil && !hasCond {
				cur.Stopwords = append(cur.Stopwords, stop...)
				cur.AllowRegexes = append(cur.AllowRegexes, res...)
			}
		}
		allow = map[string]any{}
	}
	p := &parser{s: src}
	for {
		p.skipSpace()
		if p.done() {
			break
		}
		switch {
		case p.consume("[[rules.allowlists]]"):
			flushAllow()
			section = "rule"
		case p.consume("[[rules]]"):
			flushAllow()
			section = ""
			rs.Rules = append(rs.Rules, rule{})
			cur = &rs.Rules[len(rs.Rules)-1]
		case p.consume("[allowlist]"):
			flushAllow()
			section = "global"
		default:
			key := p.key()
			if key == "" {
				return rs, fmt.Errorf("offset %d: expected a key or a table", p.i)
			}
			p.skipInline()
			if !p.consume("=") {
				return rs, fmt.Errorf("offset %d: expected = after %s", p.i, key)
			}
			v, err := p.value()
			if err != nil {
				return rs, fmt.Errorf("%s: %v", key, err)
			}
			if section != "" {
				allow[key] = v
				continue
			}
			if cur == nil {
				continue // title, minVersion
			}
			switch key {
			case "id":
				cur.ID, _ = v.(string)
			case "regex":
				cur.Regex, _ = v.(string)
			case "keywords":
				cur.Keywords, _ = v.([]string)
			case "entropy":
				cur.Entropy, _ = v.(float64)
			case "secretGroup":
				f, _ := v.(float64)
				cur.SecretGroup = int(f)
			}
		}
	}
	flushAllow()
	kept := rs.Rules[:0]
	for _, r := range rs.Rules {
		if r.Regex != "" {
			kept = append(kept, r)
		}
	}
	rs.Rules = kept
	return rs, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) done() bool { return p.i >= len(p.s) }

func (p *parser) skipSpace() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

func (p *parser) skipInline() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) consume(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *parser) key() string {
	j := p.i
	for j < len(p.s) && (p.s[j] == '_' || p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= 'A' && p.s[j] <= 'Z' || p.s[j] >= '0' && p.s[j] <= '9') {
		j++
	}
	k := p.s[p.i:j]
	p.i = j
	return k
}

func (p *parser) value() (any, error) {
	p.skipInline()
	switch {
	case p.consume("'''"):
		j := strings.Index(p.s[p.i:], "'''")
		if j < 0 {
			return nil, fmt.Errorf("unterminated literal string")
		}
		v := p.s[p.i : p.i+j]
		p.i += j + 3
		return strings.TrimPrefix(v, "\n"), nil
	case p.consume("\""):
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' && p.i+1 < len(p.s) {
				p.i++
				switch p.s[p.i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(p.s[p.i])
				}
			} else {
				b.WriteByte(p.s[p.i])
			}
			p.i++
		}
		p.i++
		return b.String(), nil
	case p.consume("["):
		var out []string
		for {
			p.skipSpace()
			if p.consume("]") {
				return out, nil
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("array of non-strings")
			}
			out = append(out, s)
		}
	default:
		j := p.i
		for j < len(p.s) && p.s[j] != '\n' && p.s[j] != ' ' {
			j++
		}
		raw := p.s[p.i:j]
		p.i = j
		if raw == "true" || raw == "false" {
			return raw == "true", nil
		}
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return nil, fmt.Errorf("unknown value %q", raw)
		}
		return f, nil
	}
}
