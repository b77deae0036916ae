package redact

import "strings"

// findPasswords finds passwords (mask [PASSWORD]):
//
//   - the password of a URL's user information, in any scheme
//     ("postgres://app:[PASSWORD]@db.internal:5432/app"); the user name
//     and the host stay visible;
//   - the values of assignments whose name says they hold a password
//     ("password=...", "DB_PASSWORD: ...", `"passwd": "..."`,
//     "PGPASSWORD=...", see classifyKey), at least 4 bytes long and not a
//     placeholder (see isSecretValue). As for API keys, a value after ":"
//     must be quoted or end its line.
func findPasswords(in *input, dst []match) []match {
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
	return findAssignments(in, keyPassword, 4, maskPassword, dst)
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
