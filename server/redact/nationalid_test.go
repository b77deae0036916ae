package redact

import "testing"

func TestNationalID(t *testing.T) {
	checkText(t, onlyDetector(t, "national_id"), []textCase{
		// US Social Security numbers.
		{"SSN: 123-45-6789", "SSN: [NATIONAL_ID]"},
		{"her ssn is 219-09-9999.", "her ssn is [NATIONAL_ID]."},
		{"SSN 123 45 6789", "SSN [NATIONAL_ID]"},
		{"social security number 123456789", "social security number [NATIONAL_ID]"},
		{"on file: 078-05-1121", "on file: [NATIONAL_ID]"},
		// UK National Insurance numbers.
		{"NI number AB123456C", "NI number [NATIONAL_ID]"},
		{"NINO: JG 10 37 45 A", "NINO: [NATIONAL_ID]"},
		{"ni AB 123456 D.", "ni [NATIONAL_ID]."},
		// Near misses: invalid ranges and other numbers.
		{"000-12-3456", "000-12-3456"},
		{"666-12-3456", "666-12-3456"},
		{"900-12-3456", "900-12-3456"},
		{"123-00-4567", "123-00-4567"},
		{"123-45-0000", "123-45-0000"},
		{"123 45 6789", "123 45 6789"},         // no SSN context
		{"order 123456789", "order 123456789"}, // no SSN context
		{"123-45-67890", "123-45-67890"},       // too long
		{"1-123-45-6789", "1-123-45-6789"},     // part of a longer number
		{"123-456789", "123-456789"},           // one dash only
		{"QQ 12 34 56 C", "QQ 12 34 56 C"},     // the NINO of examples: never allocated
		{"GB123456A", "GB123456A"},             // unallocated prefix
		{"AO123456A", "AO123456A"},             // O is not a second letter
		{"AB123456E", "AB123456E"},             // suffix past D
		{"ab123456c", "ab123456c"},             // lower case: hex-like, not a NINO
		{"XAB123456C", "XAB123456C"},           // glued to a letter
		{"AB1234567C", "AB1234567C"},           // seven digits
	})
}
