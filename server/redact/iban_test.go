package redact

import "testing"

func TestIBAN(t *testing.T) {
	checkText(t, onlyDetector(t, "iban"), []textCase{
		// Matches.
		{"IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX", "IBAN [IBAN], BIC COBADEFFXXX"},
		{"GB82WEST12345698765432", "[IBAN]"},
		{"pay to FR14 2004 1010 0505 0001 3M02 606.", "pay to [IBAN]."},
		{"NL91ABNA0417164300", "[IBAN]"},
		{"lower case gb82 west 1234 5698 7654 32", "lower case [IBAN]"},
		{`{"iban":"CH9300762011623852957"}`, `{"iban":"[IBAN]"}`},
		{"NO9386011117947 (Norway, 15)", "[IBAN] (Norway, 15)"},
		// Near misses.
		{"DE89 3704 0044 0532 0130 01", "DE89 3704 0044 0532 0130 01"}, // checksum fails
		{"GB82WEST1234569876543", "GB82WEST1234569876543"},             // one short
		{"GB82WEST123456987654321", "GB82WEST123456987654321"},         // one long
		{"XX82WEST12345698765432", "XX82WEST12345698765432"},           // no such country
		{"ID GB82WEST12345698765432X", "ID GB82WEST12345698765432X"},   // glued to a letter
		{"model DE89 and AB12", "model DE89 and AB12"},                 // too short
		{"DE89 37040044 0532 0130 00", "DE89 37040044 0532 0130 00"},   // broken grouping
		{"ISBN 978-3-16-148410-0", "ISBN 978-3-16-148410-0"},
	})
}
