package redact

import "testing"

func TestEmail(t *testing.T) {
	checkText(t, onlyDetector(t, "email"), []textCase{
		// Matches.
		{"reach me at jane.doe@example.com.", "reach me at [EMAIL]."},
		{"Jane Doe <jane.doe+billing@mail.example.co.uk>", "Jane Doe <[EMAIL]>"},
		{"cc: a@b.io, ops_team-2@corp.example.org", "cc: [EMAIL], [EMAIL]"},
		{"mailto:support@example.com?subject=refund", "mailto:[EMAIL]?subject=refund"},
		{`{"to":"li.wei@example.cn"}`, `{"to":"[EMAIL]"}`},
		{"jöse.müller@beispiel.de wrote", "[EMAIL] wrote"},
		{"line one\\njane@example.com", "line one\\n[EMAIL]"},
		{"contact: JANE@EXAMPLE.COM", "contact: [EMAIL]"},
		{"https://example.com/contact?email=jane@example.com", "https://example.com/contact?email=[EMAIL]"},
		{"punycode user@xn--bcher-kva.example", "punycode [EMAIL]"},
		{"jane@example.com.4411 glued", "[EMAIL].4411 glued"},
		{"jane@example.com4411 glued", "[EMAIL]4411 glued"},
		{"see jane@example.com.", "see [EMAIL]."},
		// Near misses.
		{"git clone git@github.com:agenttrail/agenttrail.git", "git clone git@github.com:agenttrail/agenttrail.git"},
		{"see icon@2x.png and logo@3x.webp", "see icon@2x.png and logo@3x.webp"},
		{"npm i lodash@4.17.21 @types/node", "npm i lodash@4.17.21 @types/node"},
		{"image@sha256:9f2c4a1d", "image@sha256:9f2c4a1d"},
		{"postgres://app:pw@db.internal/app", "postgres://app:pw@db.internal/app"},
		{"user@localhost and root@host", "user@localhost and root@host"},
		{"@decorator and foo@ and @", "@decorator and foo@ and @"},
		{"a@b.c is too short a TLD", "a@b.c is too short a TLD"},
		{"x@-bad.com and y@bad-.com", "x@-bad.com and y@bad-.com"},
	})
}
