package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// binary builds the agenttrail binary once per test run (with the race
// detector when the tests have it).
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "agenttrail-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "agenttrail")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// createKey runs "agenttrail keys create" offline and returns the key.
func createKey(t *testing.T, bin, data string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"keys", "create", "--data", data}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, stderr.String())
	}
	key := strings.TrimSpace(string(out))
	if !strings.HasPrefix(key, "at_") || strings.Contains(key, "\n") {
		t.Fatalf("keys create printed %q, want the key alone", out)
	}
	if strings.Contains(stderr.String(), key) {
		t.Fatalf("keys create repeated the key on stderr")
	}
	return key
}

// served is a running "agenttrail serve" process.
type served struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

func startServe(t *testing.T, bin, data, listen string) *served {
	t.Helper()
	return startServeWith(t, bin, data, listen, nil)
}

// startServeWith is startServe with prep, when given, called on the command
// before it starts (to change its environment or where its stderr goes).
func startServeWith(t *testing.T, bin, data, listen string, prep func(*exec.Cmd)) *served {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data, "--listen", listen, "--http-listen", "off", "--checkpoint-interval", "100ms", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if prep != nil {
		prep(cmd)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, done: make(chan struct{})}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if addr, ok := strings.CutPrefix(lines.Text(), "agenttrail listening on "); ok {
			s.addr = addr
			break
		}
	}
	if s.addr == "" {
		cmd.Process.Kill()
		t.Fatalf("serve did not print its address")
	}
	go io.Copy(io.Discard, stdout)
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	return s
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func withKey(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

// Kill -9 the server during a busy Append from several streams, restart
// it: every event that got a receipt is there and the log verifies.
func TestKillDuringBusyAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	agentKey := createKey(t, bin, data, "--principal", "support-bot", "--role", "agent")
	auditKey := createKey(t, bin, data, "--principal", "auditor", "--role", "compliance")
	srv := startServe(t, bin, data, "127.0.0.1:0")
	conn := dial(t, srv.addr)
	appendClient := agenttrailv1.NewAppendServiceClient(conn)

	template := eventtest.Samples()[2].Event
	var mu sync.Mutex
	acked := map[string]uint64{}
	var wg sync.WaitGroup
	for s := 0; s < 6; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			stream, err := appendClient.Append(withKey(agentKey))
			if err != nil {
				return
			}
			go func() {
				for i := 0; ; i++ {
					ev := proto.Clone(template).(*agenttrailv1.Event)
					ev.EventId = fmt.Sprintf("kill-%d-%07d", s, i)
					ev.ParentEventId = ""
					ev.OccurredAt = timestamppb.Now()
					if stream.Send(&agenttrailv1.AppendRequest{Event: ev}) != nil {
						return
					}
				}
			}()
			for {
				r, err := stream.Recv()
				if err != nil {
					return
				}
				if rc := r.GetReceipt(); rc != nil {
					mu.Lock()
					acked[rc.GetEventId()] = rc.GetLogIndex()
					mu.Unlock()
				}
			}
		}(s)
	}
	// Kill once receipts flow.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n > 2000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 {
		t.Fatal("no receipts before the kill")
	}

	srv = startServe(t, bin, data, "127.0.0.1:0")
	conn = dial(t, srv.addr)
	query := agenttrailv1.NewQueryServiceClient(conn)
	for id, idx := range acked {
		r, err := query.GetEvent(withKey(auditKey), &agenttrailv1.GetEventRequest{Key: &agenttrailv1.GetEventRequest_EventId{EventId: id}})
		if err != nil {
			t.Fatalf("acknowledged %s is not queryable after kill -9: %v", id, err)
		}
		if r.GetEntry().GetStamp().GetLogIndex() != idx {
			t.Fatalf("%s at %d, acknowledged at %d", id, r.GetEntry().GetStamp().GetLogIndex(), idx)
		}
	}
	// Stop it cleanly and verify everything from the raw bytes.
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	if srv.err != nil {
		t.Fatalf("serve after SIGTERM: %v", srv.err)
	}
	vk, err := (storeLocation{data: data}).localVerifierKey()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := store.VerifyStorage(context.Background(), badger.URL(data), vk, store.VerifyWithMasterKeyFile(defaultMasterKeyFile(data)))
	if err != nil || !rep.OK() {
		t.Fatalf("VerifyStorage after kill -9 and restart: %+v, %v", rep, err)
	}
	t.Logf("%d receipts before kill -9, all present; %d events verify", len(acked), rep.TreeSize)
}
