package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/event"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// smallDisk mounts a tmpfs of size bytes for the test, or skips it with the
// reason when mounting is not permitted (the test machine runs as root).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the disk-full test mounts a small tmpfs, which needs root: run the tests as root to include it")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("the disk-full test mounts a small tmpfs, which is not permitted here (%v): run it where root may mount", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting the test tmpfs: %v", err)
		}
	})
	return dir
}

// fillTo writes a ballast file on the file system of dir so that about free
// bytes are left free to others.
func fillTo(t *testing.T, dir string, free int64) string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	path := filepath.Join(dir, "ballast")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for n := avail - free; n > 0; n -= int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n)]); err != nil {
			t.Fatalf("writing the ballast: %v", err)
		}
	}
	return path
}

// bigEvents are LLM calls with 16 KiB of output each.
func bigEvent() *agenttrailv1.Event {
	ev := proto.Clone(eventtest.Samples()[2].Event).(*agenttrailv1.Event)
	ev.EventId = event.NewID()
	ev.ParentEventId = ""
	ev.OccurredAt = timestamppb.Now()
	ev.GetLlmCall().OutputText = strings.Repeat("All work and no play makes a dull agent. ", 400)
	return ev
}

// appendUntilRefused appends big events until the server refuses them for
// want of space, and returns the refusal's message and how many were
// acknowledged.
func appendUntilRefused(t *testing.T, c agenttrailv1.AppendServiceClient, key string, limit int) (string, int) {
	t.Helper()
	stream, err := c.Append(withKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.CloseSend()
	acked := 0
	for range limit {
		if err := stream.Send(&agenttrailv1.AppendRequest{Event: bigEvent()}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		r, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv after %d receipts: %v", acked, err)
		}
		if rej := r.GetRejection(); rej != nil {
			if codes.Code(rej.GetCode()) != codes.ResourceExhausted {
				t.Fatalf("rejected with %v: %s", codes.Code(rej.GetCode()), rej.GetMessage())
			}
			return rej.GetMessage(), acked
		}
		acked++
	}
	return "", acked
}

func healthy(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	r, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v; want SERVING", r, err)
	}
}

// readable checks that a compliance key reads an event.
func readable(t *testing.T, conn *grpc.ClientConn, key string) {
	t.Helper()
	q, err := agenttrailv1.NewQueryServiceClient(conn).Query(withKey(key), &agenttrailv1.QueryRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := q.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("a query on a full disk: %v", err)
		}
	}
}

// On a disk that fills up, serve refuses appends with RESOURCE_EXHAUSTED
// before Badger can fault, keeps serving reads, and takes appends again
// once space is freed; started on a full disk it serves reads and turns
// writable by itself. Nothing acknowledged is lost, and the data verifies.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and fills a tmpfs")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	disk := smallDisk(t, "640m")
	data := filepath.Join(disk, "data")
	agentKey := createKey(t, bin, data, "--principal", "support-bot", "--role", "agent")
	auditKey := createKey(t, bin, data, "--principal", "auditor", "--role", "compliance")
	needed := badger.DefaultMinFreeSpace()

	// 1. Appends stop before the disk is full, and resume once it is not.
	ballast := fillTo(t, disk, needed+16<<20)
	srv := startServe(t, bin, data, "127.0.0.1:0")
	conn := dial(t, srv.addr)
	appendClient := agenttrailv1.NewAppendServiceClient(conn)
	msg, acked := appendUntilRefused(t, appendClient, agentKey, 20000)
	if !strings.HasPrefix(msg, "disk almost full: ") || !strings.Contains(msg, "MiB free, 256 MiB needed") {
		t.Fatalf("after %d receipts: refusal %q; want \"disk almost full: N MiB free, 256 MiB needed\"", acked, msg)
	}
	t.Logf("refused after %d receipts: %s", acked, msg)
	healthy(t, conn)
	readable(t, conn, auditKey)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if msg, n := appendUntilRefused(t, appendClient, agentKey, 5); msg != "" || n != 5 {
		t.Fatalf("after space was freed: %d receipts, refusal %q; want appends to resume", n, msg)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	if srv.err != nil {
		t.Fatalf("serve on a nearly full disk, after SIGTERM: %v", srv.err)
	}

	// 2. Started on a full disk: it serves reads, refuses appends, and
	// turns writable once space is freed.
	ballast = fillTo(t, disk, 8<<20)
	srv = startServe(t, bin, data, "127.0.0.1:0")
	conn = dial(t, srv.addr)
	appendClient = agenttrailv1.NewAppendServiceClient(conn)
	healthy(t, conn)
	readable(t, conn, auditKey)
	if msg, n := appendUntilRefused(t, appendClient, agentKey, 5); n != 0 || !strings.HasPrefix(msg, "disk almost full") {
		t.Fatalf("started on a full disk: %d receipts, refusal %q; want appends refused", n, msg)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if msg, n := appendUntilRefused(t, appendClient, agentKey, 5); msg != "" || n != 5 {
		t.Fatalf("after space was freed: %d receipts, refusal %q; want appends to resume", n, msg)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	if srv.err != nil {
		t.Fatalf("serve after SIGTERM: %v", srv.err)
	}
	out, err := exec.Command(bin, "verify", "--data", data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "data verified") {
		t.Fatalf("verify --data after the disk filled up: %v\n%s", err, out)
	}
	vk, err := (storeLocation{data: data}).localVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := store.VerifyStorage(context.Background(), badger.URL(data), vk, (storeLocation{data: data}).verifyMasterKey()...)
	if err != nil || !rep.OK() || rep.TreeSize < uint64(acked+10) {
		t.Fatalf("VerifyStorage: %+v, %v; want at least the %d acknowledged events", rep, err, acked+10)
	}
}
