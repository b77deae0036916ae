package redact

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONWalk(t *testing.T) {
	r := defaultRedactor(t)
	tests := []struct {
		name, in, want string
	}{
		{"string values",
			`{"to":"jane@example.com","subject":"refund"}`,
			`{"to":"[EMAIL]","subject":"refund"}`},
		{"formatting kept",
			"{\n  \"items\": [ 1, -0.5, 1e10, true, null ],\n  \"note\" : \"call +44 20 7946 0958\"\n}\n",
			"{\n  \"items\": [ 1, -0.5, 1e10, true, null ],\n  \"note\" : \"call [PHONE]\"\n}\n"},
		{"unchanged escapes kept",
			`{"a":"caf\u00e9 \"quoted\"","b":"x\/y","c":"jane@example.com"}`,
			`{"a":"caf\u00e9 \"quoted\"","b":"x\/y","c":"[EMAIL]"}`},
		{"escaped secrets decoded",
			`{"to":"jane\u0040example.com"}`,
			`{"to":"[EMAIL]"}`},
		{"changed string re-encoded minimally",
			`{"log":"line 1\nmail jane@example.com\t\"ok\" – done\u0001"}`,
			`{"log":"line 1\nmail [EMAIL]\t\"ok\" – done\u0001"}`},
		{"card number as a number",
			`{"card": 4242424242424242, "amount_cents": 4999}`,
			`{"card": "[CARD ****4242]", "amount_cents": 4999}`},
		{"numbers that are not cards stay",
			`{"order_id": 4242424242424241, "ts": 1730539800123, "n": -12.5e3}`,
			`{"order_id": 4242424242424241, "ts": 1730539800123, "n": -12.5e3}`},
		{"phone by member name",
			`{"phone": 4155550132, "mobile": "07700 900123", "tel": "ask reception"}`,
			`{"phone": "[PHONE]", "mobile": "[PHONE]", "tel": "ask reception"}`},
		{"national id by member name",
			`{"ssn": "123456789", "nino": 123456, "national_id": null}`,
			`{"ssn": "[NATIONAL_ID]", "nino": "[NATIONAL_ID]", "national_id": null}`},
		{"secrets by member name",
			`{"password":"hunter22","apiKey":"0123456789abcdef","client_secret":"Qm9vdHN0cmFw","pin_password":123456}`,
			`{"password":"[PASSWORD]","apiKey":"[API_KEY]","client_secret":"[API_KEY]","pin_password":"[PASSWORD]"}`},
		{"placeholders under secret names stay",
			`{"password": "", "api_key": null, "token": "${TOKEN}", "secret": "REDACTED", "max_tokens": 1024}`,
			`{"password": "", "api_key": null, "token": "${TOKEN}", "secret": "REDACTED", "max_tokens": 1024}`},
		{"schemas stay",
			`{"properties":{"password":{"type":"string"},"email":{"type":"string","format":"email"}}}`,
			`{"properties":{"password":{"type":"string"},"email":{"type":"string","format":"email"}}}`},
		{"keys masked only when a detector matches",
			`{"jane@example.com": {"role": "admin"}, "api_key_name": "prod"}`,
			`{"[EMAIL]": {"role": "admin"}, "api_key_name": "prod"}`},
		{"nested JSON in a string",
			`{"body":"{\"email\":\"jane@example.com\",\"n\":1}"}`,
			`{"body":"{\"email\":\"[EMAIL]\",\"n\":1}"}`},
		{"array at the top",
			`["jane@example.com", {"ip": "203.0.113.42"}]`,
			`["[EMAIL]", {"ip": "[IP]"}]`},
		{"invalid JSON is scanned as text",
			`{"to": "jane@example.com",}`,
			`{"to": "[EMAIL]",}`},
		{"JSON-looking text is scanned as text",
			`[see jane@example.com] and {more}`,
			`[see [EMAIL]] and {more}`},
		{"invalid JSON holding an escaped secret",
			`{"to": "jane\u0040example.com", oops}`,
			`{"to": "jane\u0040example.com", oops}`},
	}
	for _, tt := range tests {
		if got := r.content(tt.in); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.name, got, tt.want)
		}
		if got := r.content(tt.want); got != tt.want {
			t.Errorf("%s: redacting the result again:\n got  %s\n want it unchanged", tt.name, got)
		}
		if json.Valid([]byte(tt.in)) && !json.Valid([]byte(r.content(tt.in))) {
			t.Errorf("%s: valid JSON became invalid: %s", tt.name, r.content(tt.in))
		}
	}
}

func TestJSONDeepNestingFallsBackToText(t *testing.T) {
	r := defaultRedactor(t)
	deep := strings.Repeat("[", maxJSONDepth+1) + `"jane@example.com"` + strings.Repeat("]", maxJSONDepth+1)
	want := strings.Repeat("[", maxJSONDepth+1) + `"[EMAIL]"` + strings.Repeat("]", maxJSONDepth+1)
	if got := r.content(deep); got != want {
		t.Errorf("content(JSON nested %d deep) did not mask the email as text", maxJSONDepth+1)
	}
}

func TestKeyClassification(t *testing.T) {
	tests := []struct {
		name string
		want keyKind
	}{
		{"password", keyPassword},
		{"DB_PASSWORD", keyPassword},
		{"smtp.passwd", keyPassword},
		{"apiKey", keyAPIKey},
		{"X-API-Key", keyAPIKey},
		{"openai.api_key", keyAPIKey},
		{"aws_secret_access_key", keyAPIKey},
		{"client_secret", keyAPIKey},
		{"refresh_token", keyAPIKey},
		{"phone", keyPhone},
		{"phone_number", keyPhone},
		{"Mobile", keyPhone},
		{"ssn", keyNationalID},
		{"national_insurance_number", keyNationalID},
		// Near misses.
		{"key", keyOther},
		{"key_id", keyOther},
		{"aws_access_key_id", keyOther},
		{"max_tokens", keyOther},
		{"tokenizer", keyOther},
		{"secret_name", keyOther},
		{"phone_verified", keyOther},
		{"reset_password_url", keyOther},
		{"bypass", keyOther},
		{strings.Repeat("x", 60) + "password", keyOther},
	}
	for _, tt := range tests {
		if got := classifyKey(tt.name); got != tt.want {
			t.Errorf("classifyKey(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestNothingToMaskAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so scanners are allocated")
	}
	r := defaultRedactor(t)
	text := strings.Repeat("The agent looked up order 4411 (placed 2026-11-02 09:30) and found it lost in transit; refund of 44.99 USD queued, version 2.4.1. ", 30)
	js := `{"order_id":"4411","status":"lost_in_transit","total_cents":4999,"items":[{"sku":"A-1","qty":2}],"note":"ok"}`
	r.Text(text) // warm the scanner pool
	if n := testing.AllocsPerRun(100, func() {
		if r.Text(text) != text {
			t.Fatal("clean text changed")
		}
	}); n != 0 {
		t.Errorf("Text on clean text: %v allocations per call, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if r.content(js) != js {
			t.Fatal("clean JSON changed")
		}
	}); n != 0 {
		t.Errorf("walking clean JSON: %v allocations per call, want 0", n)
	}
}
