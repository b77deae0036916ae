package redact

import (
	"slices"
	"strings"
)

// findPasswords finds passwords (mask [PASSWORD]):
//
//   - the password of a URL's user information, in any scheme
//     ("postgres://app:[PASSWORD]@db.internal:5432/app"); the user name
//     and the host stay visible;
//   - the values of assignments whose name says they hold a password
//     ("password=...", "DB_PASSWORD: ...", `"passwd": "..."`,
//     "PGPASSWORD=...", see classifyKey), at least 4 bytes long and not a
//     placeholder (see isSecretValue). As for API keys, a value after ":"
//     must be quoted or end its line, or stand alone on the next line;
//   - passwords in prose and on command lines (see findPasswordContext
//     and findCLIPasswords).
func findPasswords(in *input, dst []match) []match {
	dst = findCLIPasswords(in, dst)
	dst = findPasswordContext(in, dst)
	return findURLAndAssignedPasswords(in, dst)
}

// findURLPasswords finds the passwords of URLs' user information.
func findURLPasswords(in *input, dst []match) []match {
	s := in.s
	from := 0
	for _, colon := range in.seps() {
		if colon < from || s[colon] != ':' || !strings.HasPrefix(s[colon+1:], "//") {
			continue
		}
		i := colon + 3
		from = i
		// The user information ends at the last "@" before the end of
		// the authority (a password may itself hold "@").
		auth := i
		for auth < len(s) && !isSpace(s[auth]) && !strings.ContainsRune("/?#\"'<>`", rune(s[auth])) {
			auth++
		}
		from = auth // no other URL starts inside this one's authority
		atSign := strings.LastIndexByte(s[i:auth], '@')
		if atSign < 0 {
			continue
		}
		userinfo := s[i : i+atSign]
		colon := strings.IndexByte(userinfo, ':')
		if colon < 0 || colon == len(userinfo)-1 {
			continue
		}
		pw := userinfo[colon+1:]
		if !isURLPassword(pw) {
			continue
		}
		dst = append(dst, match{start: i + colon + 1, end: i + atSign, mask: maskPassword})
	}
	return dst
}

// findURLAndAssignedPasswords finds the passwords of URLs and of
// assignments (see findPasswords), not those of prose and command lines.
func findURLAndAssignedPasswords(in *input, dst []match) []match {
	return findAssignments(in, keyPassword, 4, maskPassword, findURLPasswords(in, dst))
}

// isURLPassword reports whether the password of a URL is one rather than a
// mask ("[PASSWORD]"), a variable ("$DB_PASSWORD", "${DB_PASSWORD}") or a
// template ("{password}", "<password>", "%s"). A percent-encoded password
// ("p%40ss") is one.
func isURLPassword(pw string) bool {
	switch pw[0] {
	case '[', '$', '{', '<':
		return false
	case '%':
		return len(pw) > 2 && isHex(pw[1]) && isHex(pw[2])
	}
	return true
}

// pwSkip are the words that may come between a password context word and
// the password: "my password is ...", "the wifi password: ...", "mot de
// passe : ...".
var pwSkip = map[string]bool{
	"is": true, "was": true, "de": true, "passe": true, "est": true, "ist": true, "es": true, "è": true, "é": true, "är": true,
	"er": true, "jest": true, "now": true, "still": true, "set": true, "to": true, "new": true, "old": true, "temporary": true,
	"temp": true, "initial": true, "default": true, "root": true, "admin": true, "db": true, "wifi": true, "wi-fi": true,
}

// findPasswordContext finds passwords in prose (mask [PASSWORD]): the word
// after a password context word, in any of the gazetteer's languages ("my
// password is ...", "the wifi password: ...", "Passwort: ...", "mot de
// passe : ...", "пароль ...", "パスワード：..."), when it reads as a password
// rather than a word: not a common word, and holding a digit, a symbol or
// an upper-case letter after the first.
func findPasswordContext(in *input, dst []match) []match {
	s := in.s
	ws := in.words()
	for i, w := range ws {
		var start int
		switch {
		case w.flags&wCtxPassword != 0:
			start = afterContext(s, ws, i, 0, pwSkip)
		case w.cjk && (strings.HasSuffix(s[w.start:w.end], "パスワード") || strings.HasSuffix(s[w.start:w.end], "密码") ||
			strings.HasSuffix(s[w.start:w.end], "비밀번호") || strings.HasSuffix(s[w.start:w.end], "暗証番号")):
			start = skipSeparators(s, w.end)
		default:
			continue
		}
		if start <= w.end && !w.cjk || strings.ContainsRune(s[w.end:start], '=') || strings.Contains(s[w.end:start], "--") {
			// No separator ("password123" is one word), or an assignment,
			// which findAssignments reads with its quotes and its end.
			continue
		}
		if a, b, ok := passwordToken(s, start); ok {
			dst = append(dst, match{start: a, end: b, mask: maskPassword})
		}
	}
	return dst
}

// passwordToken returns the password that starts at s[i]: a quoted string,
// or a run of non-space characters less a trailing full stop or comma, if
// it reads as a password.
func passwordToken(s string, i int) (int, int, bool) {
	if i >= len(s) {
		return 0, 0, false
	}
	a, b := i, i
	if q := s[i]; q == '"' || q == '\'' || q == '`' {
		e := strings.IndexByte(s[i+1:min(len(s), i+130)], q)
		if e <= 0 || strings.ContainsRune(s[i+1:i+1+e], '\n') {
			return 0, 0, false
		}
		a, b = i+1, i+1+e
	} else {
		for b < len(s) && !isSpace(s[b]) && s[b] != '"' && s[b] != '<' {
			if b-a > 128 {
				return 0, 0, false // no password is that long
			}
			b++
		}
		for b > a && strings.ContainsRune(".,;:)", rune(s[b-1])) {
			b--
		}
	}
	v := s[a:b]
	if !isSecretValue(v, 4) || len(v) > 128 || v[0] == '-' || v[0] == '/' || strings.Contains(v, "://") {
		return 0, 0, false // a flag, a path or a URL
	}
	if f := theLexicon().lookup(v); f&(wCommon|wCtxAny|wNameStop) != 0 && !strings.ContainsAny(v, "0123456789!@#$%^&*?_+=~") {
		return 0, 0, false
	}
	var digit, symbol, innerUpper bool
	for k := 0; k < len(v); k++ {
		c := v[k]
		switch {
		case isDigit(c):
			digit = true
		case isUpper(c) && k > 0:
			innerUpper = true
		case !isAlpha(c) && c < 0x80:
			symbol = true
		}
	}
	if !digit && !symbol && !innerUpper {
		return 0, 0, false
	}
	return a, b, true
}

// passwordFlagCommands are commands whose "-p" flag takes the password
// glued to it ("mysql -pSECRET"); their "-p VALUE" with a space names a
// database, not a password.
var gluedPasswordCommands = map[string]bool{"mysql": true, "mysqldump": true, "mariadb": true, "mysqladmin": true, "mysqlsh": true, "mycli": true, "mysqlimport": true}

// spacedPasswordFlags are, per command, the short flags whose next word is a
// password.
var spacedPasswordFlags = map[string]string{
	"sshpass": "-p", "docker": "-p", "podman": "-p", "nerdctl": "-p", "buildah": "-p", "skopeo": "-p", "helm": "-p", "oras": "-p",
	"mongo": "-p", "mongosh": "-p", "mongodump": "-p", "mongorestore": "-p", "mongoexport": "-p", "mongoimport": "-p",
	"redis-cli": "-a", "keydb-cli": "-a", "htpasswd": "-b", "smbclient": "-U", "rabbitmqctl": "-p", "vsql": "-w", "sqlcmd": "-P",
	"bcp": "-P", "ftp": "-p", "lftp": "-p",
}

// loginCommands take a password flag only in their login subcommand
// ("docker login -p ..."; "docker run -p 8080:80" publishes a port).
var loginCommands = map[string]bool{"docker": true, "podman": true, "nerdctl": true, "buildah": true, "skopeo": true, "helm": true, "oras": true}

// findCLIPasswords finds passwords on command lines (mask [PASSWORD]):
// "mysql -u app -pSECRET", "sshpass -p 'SECRET' ssh ...", "docker login -u
// me -p SECRET", "redis-cli -a SECRET", "curl -u user:SECRET ...", and the
// value of a long flag named for a password or a secret, given after a
// space ("--password SECRET", "--client-secret SECRET"; with "=" it is an
// assignment, found by findAssignments).
func findCLIPasswords(in *input, dst []match) []match {
	s := in.s
	n0 := len(dst)
	for from := 0; ; {
		k := strings.Index(s[from:], " -")
		if k < 0 {
			// A value that holds a mask ("-p[PASSWORD]") was masked by an
			// earlier round: matching it again would break the
			// detectors' contract (see detector.find), as isSecretValue
			// says for assignments.
			kept := slices.DeleteFunc(dst[n0:], func(m match) bool { return holdsMask(s[m.start:m.end]) })
			return dst[:n0+len(kept)]
		}
		i := from + k + 1 // the "-"
		from = i + 1
		j := i + 1
		long := at(s, j) == '-'
		if long {
			j++
		}
		e := j
		for e < len(s) && (isAlnum(s[e]) || s[e] == '-' || s[e] == '_') {
			e++
		}
		flag := s[i:e]
		if e == j {
			continue
		}
		cmd := lineCommand(s, i)
		switch {
		case long && at(s, e) == ' ':
			kind := classifyKey(flag[2:])
			if kind != keyPassword && kind != keyAPIKey {
				continue
			}
			if a, b, ok := flagValue(s, e+1); ok && isSecretValue(s[a:b], 4) {
				dst = append(dst, match{start: a, end: b, mask: maskPassword})
			}
		case !long && flag == "-p" && gluedPasswordCommands[cmd] && e < len(s) && !isSpace(s[e]):
			// "-pSECRET": e stopped at the first byte that is not a
			// flag letter; the password runs to the next space.
		case !long && len(flag) > 2 && flag[:2] == "-p" && gluedPasswordCommands[cmd]:
			a, b := i+2, i+2
			for b < len(s) && !isSpace(s[b]) {
				b++
			}
			if q := s[a]; (q == '\'' || q == '"') && b-a >= 2 && s[b-1] == q {
				a, b = a+1, b-1
			}
			if b > a {
				dst = append(dst, match{start: a, end: b, mask: maskPassword})
			}
		case !long && at(s, e) == ' ' && spacedPasswordFlags[cmd] == flag && (!loginCommands[cmd] || strings.Contains(s[lineStart(s, i):min(i, lineStart(s, i)+128)], " login ")):
			if a, b, ok := flagValue(s, e+1); ok {
				dst = append(dst, match{start: a, end: b, mask: maskPassword})
			}
		case !long && (flag == "-u" || flag == "--user") && at(s, e) == ' ' && (cmd == "curl" || cmd == "wget" || cmd == "http"):
			if a, b, ok := flagValue(s, e+1); ok {
				if c := strings.IndexByte(s[a:b], ':'); c > 0 && c < b-a-1 {
					dst = append(dst, match{start: a + c + 1, end: b, mask: maskPassword})
				}
			}
		}
		// "-pSECRET" of a glued command where e stopped early.
		if !long && strings.HasPrefix(flag, "-p") && gluedPasswordCommands[cmd] && e < len(s) && !isSpace(s[e]) && len(flag) >= 2 {
			a, b := i+2, i+2
			for b < len(s) && !isSpace(s[b]) {
				b++
			}
			if b > a && (len(dst) == 0 || dst[len(dst)-1].start != a) {
				dst = append(dst, match{start: a, end: b, mask: maskPassword})
			}
		}
	}
}

// flagValue returns the value given to a flag, starting at s[i]: a quoted
// string, or a word.
func flagValue(s string, i int) (int, int, bool) {
	if i >= len(s) {
		return 0, 0, false
	}
	if q := s[i]; q == '\'' || q == '"' {
		e := strings.IndexByte(s[i+1:], q)
		if e <= 0 {
			return 0, 0, false
		}
		return i + 1, i + 1 + e, true
	}
	if s[i] == '-' || s[i] == '$' || s[i] == '<' {
		return 0, 0, false
	}
	e := i
	for e < len(s) && !isSpace(s[e]) {
		e++
	}
	return i, e, e > i
}

// lineCommand returns the command of the command line that holds s[i]: the
// first word of the line, past "$ ", "sudo " and environment assignments,
// without its directory. Only the first 128 bytes of the line are read.
func lineCommand(s string, i int) string {
	start := lineStart(s, i)
	line := s[start:min(i, start+128)]
	fields := strings.Fields(line)
	for len(fields) > 0 && (fields[0] == "$" || fields[0] == "#" || fields[0] == "sudo" || fields[0] == "env" || fields[0] == ">" ||
		strings.Contains(fields[0], "=") || fields[0] == "exec" || fields[0] == "time") {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return ""
	}
	cmd := fields[0]
	if k := strings.LastIndexByte(cmd, '/'); k >= 0 {
		cmd = cmd[k+1:]
	}
	return strings.Trim(cmd, "`'\"")
}

// lineStart returns where the line that holds s[i] starts, looking back at
// most 512 bytes (a command line longer than that is read from there).
func lineStart(s string, i int) int {
	from := max(0, i-512)
	return from + strings.LastIndexByte(s[from:i], '\n') + 1
}
