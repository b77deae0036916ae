package redact

import "testing"

func TestBearer(t *testing.T) {
	checkText(t, onlyDetector(t, "bearer"), []textCase{
		// Matches.
		{"Authorization: Bearer abc123DEF456ghi789", "Authorization: Bearer [TOKEN]"},
		{"authorization: bearer 9f8e7d6c5b4a3210", "authorization: bearer [TOKEN]"},
		{"AUTHORIZATION: BEARER AbCdEfGhIjKl", "AUTHORIZATION: BEARER [TOKEN]"},
		{`curl -H "Authorization: Bearer ya29.a0AfH6SMBx-3_kq~Zx81+kQ/m2==" https://api`, `curl -H "Authorization: Bearer [TOKEN]" https://api`},
		{"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig12345", "Bearer [TOKEN]"},
		{"Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [TOKEN]"},
		{`{"headers":{"Authorization":"Bearer tok_8Hq2Lm9Vz4"}}`, `{"headers":{"Authorization":"Bearer [TOKEN]"}}`},
		{"bearer 12345678", "bearer [TOKEN]"}, // digits are never a word
		// Near misses.
		{"bearer tokens expire after an hour", "bearer tokens expire after an hour"},
		{"use Bearer authentication", "use Bearer authentication"},
		{"Authorization: Bearer <token>", "Authorization: Bearer <token>"},
		{"Authorization: Bearer $TOKEN", "Authorization: Bearer $TOKEN"},
		{"Authorization: Bearer YOUR_ACCESS_TOKEN", "Authorization: Bearer YOUR_ACCESS_TOKEN"},
		{"Authorization: Bearer [TOKEN]", "Authorization: Bearer [TOKEN]"},
		{"Basic auth is disabled", "Basic auth is disabled"},
		{"Basic aGVsbG8gd29ybGQ=", "Basic aGVsbG8gd29ybGQ="}, // "hello world": no ":"
		{"Bearer12345678", "Bearer12345678"},
	})
}
