package main

import "testing"

func TestCommandFor(t *testing.T) {
	for _, tt := range []struct {
		arg0       string
		inCheckout bool
		want       string
	}{
		{"/tmp/go-build1234567/b001/exe/agenttrail", true, "go run ./cmd/agenttrail"},
		{"/tmp/go-build1234567/b001/exe/agenttrail", false, "go run github.com/agenttrail/agenttrail/cmd/agenttrail@latest"},
		{"/root/.cache/go-build/f7/f7110eed0e6bbbc8cd597c9f0dc841554ce244ac492fbd85a7685bd0f237934b-d/agenttrail", true, "go run ./cmd/agenttrail"},
		{"agenttrail", true, "agenttrail"},
		{"./agenttrail", false, "./agenttrail"},
		{"/usr/local/bin/agenttrail", false, "/usr/local/bin/agenttrail"},
		{"/opt/my tools/agenttrail", false, "'/opt/my tools/agenttrail'"},
	} {
		if got := commandFor(tt.arg0, tt.inCheckout); got != tt.want {
			t.Errorf("commandFor(%q, %v) = %q, want %q", tt.arg0, tt.inCheckout, got, tt.want)
		}
	}
}
