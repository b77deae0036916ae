package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/clients/go/client"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/redact"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
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

// TestMain runs the quickstart's main instead of the tests when a test
// asks for it, so that a test can watch the quickstart exit.
func TestMain(m *testing.M) {
	if os.Getenv("AGENTTRAIL_QUICKSTART_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// With no server at the address, the quickstart fails within Close's
// default timeout, exits non-zero, and says why.
func TestQuickstartWithNoServerExitsNonZero(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AGENTTRAIL_QUICKSTART_MAIN=1", "AGENTTRAIL_ADDR="+addr, "AGENTTRAIL_KEY=at_0123456789abcdef_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	started := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(started)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("quickstart with no server: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{"5 events unacknowledged (they are not in the log)", "the last attempt failed", "connection refused"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "logged session") {
		t.Errorf("the quickstart claimed success:\n%s", out)
	}
	if elapsed > client.DefaultCloseTimeout+20*time.Second {
		t.Errorf("the quickstart took %v to fail, want about %v", elapsed, client.DefaultCloseTimeout)
	}
}

// With a key that may append for another agent id, every event is refused:
// the quickstart exits non-zero, naming the agent id the key may append
// for, and does not claim to have logged the session.
func TestQuickstartRefusedForItsScopeExitsNonZero(t *testing.T) {
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	var st *store.Store
	ts := servertest.New(t, servertest.Config{ServerOptions: []server.Option{
		server.WithAccessControlFunc(func(s *store.Store) (*auth.Authenticator, server.EventRedactor, error) {
			st = s
			a, err := auth.New(s, nil, nil)
			return a, red, err
		}),
	}})
	_, key, err := auth.CreateKey(context.Background(), st, auth.KeySpec{Principal: "other-bot", Role: auth.Agent, AgentID: "other-agent"}, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AGENTTRAIL_QUICKSTART_MAIN=1", "AGENTTRAIL_ADDR="+ts.Addr, "AGENTTRAIL_KEY="+key)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("quickstart with a key for another agent: %v, want exit status 1\n%s", err, out)
	}
	if want := `may append events of agent_id "other-agent" only`; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if strings.Contains(string(out), "logged session") {
		t.Errorf("the quickstart claimed success:\n%s", out)
	}
	if size, _ := ts.Store.Size(); size != 1 {
		t.Errorf("the log holds %d entries, want only the key's creation", size)
	}
}
