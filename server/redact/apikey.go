package redact

import "strings"

// provider describes the API keys of one provider by their fixed prefix.
type provider struct {
	// prefix starts every key.
	prefix string
	// min is the fewest characters after the prefix.
	min int
	// mixed requires upper- and lower-case letters and digits after the
	// prefix, for prefixes that ordinary words and names also start with
	// ("sk-learn").
	mixed bool
	// exact, when set, is the only length allowed after the prefix, which
	// is then upper-case letters and digits only (AWS key ids), or hex
	// digits with hex.
	exact int
	hex   bool
}

// providers are the key formats recognized by prefix. Each key is a run of
// letters, digits, "_" and "-" that starts with the prefix.
var providers = []provider{
	{prefix: "sk-ant-", min: 32},                      // Anthropic
	{prefix: "sk-proj-", min: 32},                     // OpenAI project keys
	{prefix: "sk-svcacct-", min: 32},                  // OpenAI service accounts
	{prefix: "sk-", min: 20, mixed: true},             // OpenAI and others
	{prefix: "sk_live_", min: 16},                     // Stripe secret keys
	{prefix: "sk_test_", min: 16},                     // Stripe test secret keys
	{prefix: "rk_live_", min: 16},                     // Stripe restricted keys
	{prefix: "rk_test_", min: 16},                     // Stripe restricted test keys
	{prefix: "whsec_", min: 24},                       // Stripe webhook secrets
	{prefix: "AKIA", min: 16, exact: 16},              // AWS access key ids
	{prefix: "ASIA", min: 16, exact: 16},              // AWS temporary access key ids
	{prefix: "ghp_", min: 30},                         // GitHub personal access tokens
	{prefix: "gho_", min: 30},                         // GitHub OAuth tokens
	{prefix: "ghu_", min: 30},                         // GitHub user-to-server tokens
	{prefix: "ghs_", min: 30},                         // GitHub server-to-server tokens
	{prefix: "ghr_", min: 30},                         // GitHub refresh tokens
	{prefix: "github_pat_", min: 40},                  // GitHub fine-grained tokens
	{prefix: "glpat-", min: 20},                       // GitLab personal access tokens
	{prefix: "xoxb-", min: 16},                        // Slack bot tokens
	{prefix: "xoxp-", min: 16},                        // Slack user tokens
	{prefix: "xoxa-", min: 16},                        // Slack app tokens
	{prefix: "xoxr-", min: 16},                        // Slack refresh tokens
	{prefix: "xapp-", min: 16},                        // Slack app-level tokens
	{prefix: "AIza", min: 35},                         // Google API keys
	{prefix: "hf_", min: 30, mixed: true},             // Hugging Face tokens
	{prefix: "npm_", min: 36},                         // npm tokens
	{prefix: "gsk_", min: 40},                         // Groq keys
	{prefix: "xai-", min: 40},                         // xAI keys
	{prefix: "pplx-", min: 40},                        // Perplexity keys
	{prefix: "dop_v1_", min: 64},                      // DigitalOcean personal access tokens
	{prefix: "doo_v1_", min: 64},                      // DigitalOcean OAuth tokens
	{prefix: "dapi", min: 32, exact: 32, hex: true},   // Databricks tokens
	{prefix: "key-", min: 32, exact: 32, hex: true},   // Mailgun keys
	{prefix: "shpat_", min: 32, exact: 32, hex: true}, // Shopify access tokens
	{prefix: "shpss_", min: 32, exact: 32, hex: true}, // Shopify shared secrets
}

// findAPIKeys finds API keys (mask [API_KEY]): keys of well-known providers
// recognized by their prefix (see providers: OpenAI, Anthropic, AWS access
// key ids, GitHub, GitLab, Slack, Stripe, Google, Hugging Face, npm and
// others), and the values of assignments whose name says they hold a key,
// token or secret: "api_key=...", "API_KEY: ...", "X-Api-Key: ...",
// `"apiKey": "..."`, "aws_secret_access_key = ...", "client_secret=...",
// "access_token=..." (see classifyKey).
//
// An assigned value is masked when it is at least 8 bytes long and is not a
// placeholder (see isSecretValue). A value after ":" must be quoted or end
// its line, so that prose such as "Token: the next step is ..." is left
// alone.
func findAPIKeys(in *input, dst []match) []match {
	s := in.s
	for _, run := range in.keys() {
		dst = providerKeys(s, run, dst)
	}
	return findAssignments(in, keyAPIKey, 8, maskAPIKey, dst)
}

// providerKeys appends to dst the provider keys in a run of key characters.
// A key starts at the start of the run or after a "+" or "/" in it.
func providerKeys(s string, run span, dst []match) []match {
	for a := run.start; a < run.end; {
		b := a
		for b < run.end && isKeyChar(s[b]) {
			b++
		}
		if b-a >= minKeyRun {
			if n, ok := providerKey(s[a:b]); ok {
				dst = append(dst, match{start: a, end: a + n, mask: maskAPIKey})
			}
		}
		a = b + 1
	}
	return dst
}

// providerKey reports whether tok starts with a provider's key and, if so,
// how long the key is. The key must take up the rest of the token.
func providerKey(tok string) (int, bool) {
	for _, p := range providers {
		if !strings.HasPrefix(tok, p.prefix) {
			continue
		}
		body := tok[len(p.prefix):]
		if len(body) < p.min || p.exact != 0 && len(body) != p.exact {
			return 0, false
		}
		var up, lo, dig bool
		for i := 0; i < len(body); i++ {
			c := body[i]
			switch {
			case isUpper(c):
				up = true
			case isLower(c):
				lo = true
			case isDigit(c):
				dig = true
			case c == '_' || c == '-':
			default:
				return 0, false
			}
			if p.hex && !isHex(c) || p.exact != 0 && !p.hex && !isUpper(c) && !isDigit(c) {
				return 0, false
			}
		}
		if p.mixed && !(up && lo && dig) {
			return 0, false
		}
		return len(tok), true
	}
	return 0, false
}

// findAssignments appends to dst the values assigned to keys of the given
// kind in s: after "=" or ":", with the key name just before (quoted or not)
// and the value just after (quoted or not, or alone on the next line when
// nothing follows the separator on its own). Values shorter than min or that
// are placeholders are left alone.
func findAssignments(in *input, kind keyKind, min int, mask string, dst []match) []match {
	return findKeyed(in, kind, func(v string) (string, bool) {
		return mask, isSecretValue(v, min)
	}, dst)
}

// findKeyed appends to dst the values assigned to keys of the given kind
// that valid accepts, with the mask valid returns.
func findKeyed(in *input, kind keyKind, valid func(v string) (string, bool), dst []match) []match {
	s := in.s
	next := 0
	for _, i := range in.seps() {
		if i < next {
			continue
		}
		name, at := assignedName(s, i)
		if name == "" || classifyKey(name) != kind {
			continue
		}
		query := before(s, at) == '?' || before(s, at) == '&'
		start, end, ok := assignedValue(s, i+1, s[i], query)
		if ok {
			if mask, yes := valid(s[start:end]); yes {
				dst = append(dst, match{start: start, end: end, mask: mask})
			}
		}
		if ok || start < 0 {
			// A value found, or one rejected for where it ends: every
			// separator inside it shares that end and that fate.
			next = end
		}
	}
	return dst
}

// assignedName returns the key name that ends just before the separator at
// s[i], skipping spaces and a closing quote: "api_key", `"apiKey"`,
// `\"apiKey\"` (JSON inside a JSON string), "X-Api-Key". It returns "" when
// no name is there, or when the name is that of a shell variable being
// expanded ("${API_KEY:?unset}"). It also returns where the name starts.
func assignedName(s string, i int) (string, int) {
	j := i
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	for j > 0 && (s[j-1] == '"' || s[j-1] == '\'' || s[j-1] == '\\') {
		j--
	}
	end := j
	for j > 0 && end-j < maxKeyName && (isAlnum(s[j-1]) || s[j-1] == '_' || s[j-1] == '-' || s[j-1] == '.' || s[j-1] >= 0x80) {
		j--
	}
	for j < end && s[j] >= 0x80 && s[j] < 0xC0 { // not in the middle of a character
		j++
	}
	if c := before(s, j); c == '$' || c == '{' && before(s, j-1) == '$' {
		return "", j // a shell expansion, "${API_KEY:-default}", not an assignment
	}
	return s[j:end], j
}

// assignedValue returns the bounds of the value that starts after the
// separator sep ending at s[i-1]: a quoted string (in ", ' or \"), or an
// unquoted word ending at white space or punctuation ("&" too when query
// says the assignment is a parameter of a URL's query). An unquoted value
// after ":" must end its line (or its inline object), as in YAML and HTTP
// headers.
//
// When an unquoted value is rejected for where it ends (nothing there, a
// call, not at the end of its line), it returns start -1 and that end: a
// value starting after any separator inside it would end, and be rejected,
// the same way, so the caller skips them, which keeps the search linear.
func assignedValue(s string, i int, sep byte, query bool) (start, end int, ok bool) {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i < len(s) && s[i] == '\\' && at(s, i+1) == '"' { // \"value\"
		i++
	}
	if q := at(s, i); q == '"' || q == '\'' {
		// A value in escaped quotes (\"value\") ends at the next
		// backslash; one in plain quotes runs to its closing quote, past
		// escapes such as \n or \" inside it.
		escapedQuotes := i > 0 && s[i-1] == '\\'
		start = i + 1
		end = start
		for end < len(s) && s[end] != q && s[end] != '\n' {
			if s[end] == '\\' {
				if escapedQuotes {
					break
				}
				end++
			}
			end++
		}
		if end >= len(s) || s[end] == '\n' {
			return 0, 0, false
		}
		return start, end, end > start
	}
	// Nothing after the separator on its line: the value is alone on the
	// next line ("password=\n  hunter2").
	if c := at(s, i); i < len(s) && (c == '\n' || c == '\r' && at(s, i+1) == '\n') {
		k := i + 1
		if c == '\r' {
			k++
		}
		for k < len(s) && (s[k] == ' ' || s[k] == '\t') && k-i < 16 {
			k++
		}
		e := k
		for e < len(s) && !isSpace(s[e]) {
			e++
		}
		if e > k && (e == len(s) || s[e] == '\n' || s[e] == '\r') {
			return k, e, true
		}
		return -1, i, false
	}
	start = i
	end = start
	for end < len(s) && !isSpace(s[end]) && !strings.ContainsRune("\"'`,;)]}<>(", rune(s[end])) && !(s[end] == '&' && (query || isQueryParam(s, end+1))) {
		end++
	}
	for at(s, end) == '(' && end > start {
		// A call, "api_key=os.getenv("KEY")", has its closing parenthesis
		// before the next space; a password may hold a "(" too.
		k := end + 1
		for k < len(s) && !isSpace(s[k]) && s[k] != ')' {
			k++
		}
		if at(s, k) == ')' {
			return -1, end, false
		}
		end = k
	}
	if end == start {
		return -1, end, false
	}
	if s[end-1] == '[' || at(s, end) == '[' { // an index: os.environ["KEY"]
		return -1, end, false
	}
	if sep == ':' {
		rest := end
		for rest < len(s) && (s[rest] == ' ' || s[rest] == '\t') {
			rest++
		}
		if c := at(s, rest); rest < len(s) && c != '\n' && c != '\r' && c != ',' && c != '}' && c != ';' && !(c == '\\' && strings.ContainsRune("nr", rune(at(s, rest+1)))) {
			return -1, end, false
		}
	}
	if isDottedName(s[start:end]) { // a reference: api_key=settings.OPENAI_KEY
		return 0, 0, false
	}
	return start, end, true
}

// isDottedName reports whether v is a dotted reference to a name in code,
// such as "settings.OPENAI_KEY" or "os.environ".
func isDottedName(v string) bool {
	if !strings.Contains(v, ".") {
		return false
	}
	for part := range strings.SplitSeq(v, ".") {
		if part == "" || !isAlpha(part[0]) && part[0] != '_' {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !isAlnum(part[i]) && part[i] != '_' {
				return false
			}
		}
	}
	return true
}

// isQueryParam reports whether a query parameter ("name=") starts at s[i],
// so that a "&" before it separates parameters.
func isQueryParam(s string, i int) bool {
	j := i
	for j < len(s) && (isAlnum(s[j]) || s[j] == '_' || s[j] == '-' || s[j] == '.') && j-i < 32 {
		j++
	}
	return j > i && at(s, j) == '='
}
