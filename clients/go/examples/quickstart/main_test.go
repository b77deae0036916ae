package main

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/store"
)

// The quickstart runs as shown, against a server on a free port.
func TestQuickstart(t *testing.T) {
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(st)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		st.Close()
	})
	t.Setenv("AGENTTRAIL_ADDR", lis.Addr().String())
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
	if size, _ := st.Size(); size != 5 {
		t.Errorf("the quickstart logged %d events, want 5", size)
	}
}
