package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// serveWithStorageGone starts serve with extra flags, appends events (so
// that the store has a memtable to flush on close), deletes the data
// directory under it and sends SIGTERM.
func serveWithStorageGone(t *testing.T, flags ...string) (*served, *syncBuffer) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	agentKey := createKey(t, bin, data, "--principal", "support-bot", "--role", "agent")
	stderr := &syncBuffer{}
	srv := startServeWith(t, bin, data, "127.0.0.1:0", func(c *exec.Cmd) {
		c.Args = append(c.Args, flags...)
		c.Stderr = stderr
	})
	stream, err := agenttrailv1.NewAppendServiceClient(dial(t, srv.addr)).Append(withKey(agentKey))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		ev := proto.Clone(eventtest.Samples()[2].Event).(*agenttrailv1.Event)
		ev.EventId = eventtest.ID(fmt.Sprintf("gone-%03d", i))
		ev.ParentEventId = ""
		ev.Step = uint32(i + 1)
		ev.OccurredAt = timestamppb.Now()
		if err := stream.Send(&agenttrailv1.AppendRequest{Event: ev}); err != nil {
			t.Fatal(err)
		}
		if r, err := stream.Recv(); err != nil || r.GetReceipt() == nil {
			t.Fatalf("append %d: %v %v", i, r, err)
		}
	}
	stream.CloseSend()
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return srv, stderr
}

// exited waits for serve to exit, failing the test if it hangs.
func exited(t *testing.T, srv *served, what string) {
	t.Helper()
	select {
	case <-srv.done:
	case <-time.After(2 * time.Minute): // a hang guard, not a speed check
		t.Fatalf("serve still runs 2 minutes after %s", what)
	}
}

// Storage deleted under a running server can make the driver retry its
// final flush forever; serve must still stop, at its shutdown deadline,
// and say why with a failing exit status.
func TestServeStopsAtItsDeadlineWhenItsStorageIsGone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	srv, stderr := serveWithStorageGone(t, "--shutdown-timeout", "1s")
	exited(t, srv, "SIGTERM with --shutdown-timeout 1s")
	if srv.err == nil {
		t.Errorf("serve exited 0 without closing its store, want a failing status")
	}
	if got := stderr.String(); !strings.Contains(got, "did not close within the shutdown deadline") {
		t.Errorf("stderr does not say the store did not close:\n%s", got)
	}
}

// A second SIGTERM stops serve at once, whatever its shutdown deadline.
func TestServeStopsAtASecondSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	srv, _ := serveWithStorageGone(t, "--shutdown-timeout", "1h")
	select {
	case <-srv.done:
		t.Fatalf("serve stopped at the first signal (%v): the store closed although its storage is gone, so this test no longer reaches a second signal", srv.err)
	case <-time.After(time.Second):
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited(t, srv, "a second SIGTERM")
	if srv.err == nil {
		t.Errorf("serve exited 0 at a second signal, want a failing status")
	}
}
