package redact

import "testing"

func TestPhone(t *testing.T) {
	checkText(t, onlyDetector(t, "phone"), []textCase{
		// International.
		{"call +44 20 7946 0958 today", "call [PHONE] today"},
		{"US: +1 (415) 555-0132.", "US: [PHONE]."},
		{"+14155550132", "[PHONE]"},
		{"+44 (0)20 7946 0958", "[PHONE]"},
		{"+33 1 23 45 67 89", "[PHONE]"},
		{"+49-30-901820", "[PHONE]"},
		{"+81 3-1234-5678", "[PHONE]"},
		{"line\\n+44 7700 900123", "line\\n[PHONE]"},
		// National, formatted.
		{"my number is (415) 555-0132", "my number is [PHONE]"},
		{"415-555-0132 or 415.555.0132", "[PHONE] or [PHONE]"},
		{"ring 020 7946 0958", "ring [PHONE]"},
		{"mobile 07700 900123", "mobile [PHONE]"},
		{"06 12 34 56 78", "[PHONE]"},
		{"(415)555-0132", "[PHONE]"},
		{"toll free 1-800-555-0199", "toll free [PHONE]"},
		{"Berlin 030 901820", "Berlin [PHONE]"},
		// Bare digits, with a word that says phone.
		{"call me on 4155550132", "call me on [PHONE]"},
		{"Tel: 02079460958", "Tel: [PHONE]"},
		{"WhatsApp 447700900123", "WhatsApp [PHONE]"},
		// Near misses: ordinary numbers.
		{"order 4155550132 shipped", "order 4155550132 shipped"},
		{"unix time 1730539800", "unix time 1730539800"},
		{"2026-11-02 09:30:00", "2026-11-02 09:30:00"},
		{"2026.11.02 0930", "2026.11.02 0930"},
		{"02.11.2026 1234", "02.11.2026 1234"},
		{"total 1 234 567 EUR", "total 1 234 567 EUR"},
		{"123 456 789 rows", "123 456 789 rows"},
		{"version 10.0.19041.1234", "version 10.0.19041.1234"},
		{"host 192.168.100.200", "host 192.168.100.200"},
		{"order #415-555-0132", "order #415-555-0132"},
		{"$415 555 0132", "$415 555 0132"},
		{"ref 12-34-56", "ref 12-34-56"},
		{"+1 555", "+1 555"},
		{"range 415-555-0132-7", "range 415-555-0132-7"},
		{"SSN 123-45-6789", "SSN 123-45-6789"},
		{"x415-555-0132", "x415-555-0132"},
		{"4111 1111 1111 1111", "4111 1111 1111 1111"},
		{"price 12.99", "price 12.99"},
		{"v1.2.3", "v1.2.3"},
		{"call 123", "call 123"},
		{"FedEx 7489 1234 5678", "FedEx 7489 1234 5678"}, // neither trunk 0 nor 3-3-4
		{"gift card 1234-5678-9012", "gift card 1234-5678-9012"},
		{"ref 123-456-7890", "ref 123-456-7890"}, // area code cannot start with 1
		{"ref 415-155-0132", "ref 415-155-0132"}, // nor the exchange
		{"2 415 555 0132", "2 415 555 0132"},
	})
}
