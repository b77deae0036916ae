package redact

import "testing"

func TestCard(t *testing.T) {
	checkText(t, onlyDetector(t, "card"), []textCase{
		// Matches: every network, every way of writing one.
		{"card 4242 4242 4242 4242 exp 12/28", "card [CARD ****4242] exp 12/28"},
		{"4111111111111111", "[CARD ****1111]"},
		{"4111-1111-1111-1111.", "[CARD ****1111]."},
		{"amex 3782 822463 10005", "amex [CARD ****0005]"},
		{"378282246310005", "[CARD ****0005]"},
		{"mc 5555 5555 5555 4444", "mc [CARD ****4444]"},
		{"mc2 2223 0031 2200 3222", "mc2 [CARD ****3222]"},
		{"discover 6011 1111 1111 1117", "discover [CARD ****1117]"},
		{"diners 3056 930902 5904", "diners [CARD ****5904]"},
		{"jcb 3530111333300000", "jcb [CARD ****0000]"},
		{"unionpay 6200000000000005", "unionpay [CARD ****0005]"},
		{"visa13 4222222222222", "visa13 [CARD ****2222]"},
		{"4242 4242 4242 4242 12 28 123", "[CARD ****4242] 12 28 123"},
		{`{"pan":"4000056655665556"}`, `{"pan":"[CARD ****5556]"}`},
		{"4242424242424242 123", "[CARD ****4242] 123"},
		// Near misses.
		{"4242 4242 4242 4241", "4242 4242 4242 4241"},                 // Luhn fails
		{"tracking 1Z999AA10123456784", "tracking 1Z999AA10123456784"}, // letters
		{"imei 490154203237518", "imei 490154203237518"},               // Luhn-valid, but Visa has no 15-digit cards
		{"imei 356938035643809", "imei 356938035643809"},               // Luhn-valid, JCB prefix, 15 digits
		{"order 7992739871312345", "order 7992739871312345"},           // no network starts with 7
		{"acct 0000000000000000", "acct 0000000000000000"},             // Luhn-valid zeros
		{"id 42424242424242424242", "id 42424242424242424242"},         // 20 digits: too long
		{"v4242.4242.4242.4242", "v4242.4242.4242.4242"},               // dots are not card separators
		{"ref-4242424242424242", "ref-4242424242424242"},               // glued to a word
		{"4242 4242 4242 4242x", "4242 4242 4242 4242x"},               // glued to a word
		{"1.4242424242424242", "1.4242424242424242"},                   // a decimal
		{"4242 42 42 4242 4242", "4242 42 42 4242 4242"},               // groups of two are not a card
		{"4242 4242-4242 4242", "4242 4242-4242 4242"},                 // mixed separators
	})
}
