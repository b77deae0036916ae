package redact

import "testing"

func TestJWT(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	checkText(t, onlyDetector(t, "jwt"), []textCase{
		// Matches.
		{"id_token=" + jwt + "&state=xyz", "id_token=[JWT]&state=xyz"},
		{`{"access_token":"` + jwt + `"}`, `{"access_token":"[JWT]"}`},
		{"unsecured eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. end", "unsecured [JWT] end"},
		{"Cookie: session=" + jwt + "; Path=/", "Cookie: session=[JWT]; Path=/"},
		// Near misses.
		{"eyJzdWIiOiJ4In0.eyJzdWIiOiJ4In0.sig", "eyJzdWIiOiJ4In0.eyJzdWIiOiJ4In0.sig"}, // header without "alg"
		{"eyJhbGciOiJIUzI1NiJ9 alone", "eyJhbGciOiJIUzI1NiJ9 alone"},                   // one segment
		{"eyJhbGciOiJIUzI1NiJ9.x.sig", "eyJhbGciOiJIUzI1NiJ9.x.sig"},                   // payload too short
		{"eyJ!!!.abc.def", "eyJ!!!.abc.def"},
		{"keyJar.save()", "keyJar.save()"},
		{"xeyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "xeyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, // glued to a word
	})
}
