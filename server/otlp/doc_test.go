package otlp_test

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// documentedRows returns the first cell of every row of the tables in the
// "Mapping table" section of docs/otlp.md, without backticks.
func documentedRows(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../docs/otlp.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Mapping table\n")
	if !ok {
		t.Fatal("docs/otlp.md has no Mapping table section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Span or attribute |") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cell := strings.TrimSpace(strings.Split(line, " | ")[0][2:])
		rows = append(rows, strings.ReplaceAll(cell, "`", ""))
	}
	return rows
}

// Every row of the mapping table has a test case of the same name, and
// every test case a row.
func TestEveryDocumentedRowIsTested(t *testing.T) {
	docs := documentedRows(t)
	if len(docs) < 50 {
		t.Fatalf("read only %d rows from docs/otlp.md", len(docs))
	}
	var tested []string
	for _, c := range cases {
		tested = append(tested, c.row)
		if !slices.Contains(docs, c.row) {
			t.Errorf("test case %q has no row in docs/otlp.md", c.row)
		}
	}
	for _, row := range docs {
		if !slices.Contains(tested, row) {
			t.Errorf("docs/otlp.md row %q has no test case", row)
		}
	}
}
