package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/agenttrail/agenttrail/server/servertest"
)

// The quickstart runs as shown, against a server on a free port.
func TestQuickstart(t *testing.T) {
	ts := servertest.New(t, servertest.Config{})
	t.Setenv("AGENTTRAIL_ADDR", ts.Addr)
	t.Setenv("AGENTTRAIL_KEY", "at_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") // this test server takes any key

	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	main()
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if !strings.HasPrefix(string(out), "logged session ") {
		t.Fatalf("quickstart printed %q", out)
	}
	if size, _ := ts.Store.Size(); size != 5 {
		t.Errorf("the quickstart logged %d events, want 5", size)
	}
}
