package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/servertest"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
)

// backupOver takes a backup through the API, as `agenttrail backup --addr`
// does.
func backupOver(t *testing.T, h *secure, who string, base []byte) ([]byte, error) {
	t.Helper()
	stream, err := h.logs.Backup(h.as(who), &agenttrailv1.BackupRequest{BaseCheckpoint: base})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	bw, err := store.NewBackupWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		for _, rec := range resp.GetRecords() {
			if err := bw.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Compliance takes a backup through the API, which restores to the same
// log, keys included, and is recorded in the trail; other roles may not.
func TestBackupOverTheAPI(t *testing.T) {
	h := startSecure(t)
	appendAs(t, h, "agent", agentEvents())
	time.Sleep(1100 * time.Millisecond) // a checkpoint covers them
	for _, who := range []string{"agent", "developer", "admin"} {
		if _, err := backupOver(t, h, who, nil); status.Code(err) != codes.PermissionDenied {
			t.Errorf("a backup by %s: %v, want PermissionDenied", who, err)
		}
	}
	// The backup is taken at the latest checkpoint when it starts, or a
	// later one: reads are logged, so the log (and its checkpoints) may
	// grow while it runs, and after it.
	before := h.st.LatestCheckpoint()
	full, err := backupOver(t, h, "compliance", nil)
	if err != nil {
		t.Fatalf("a backup by compliance: %v", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	vk := h.st.VerifierKey().String()
	mk, err := store.ReadMasterKeyFile(servertest.MasterKeyFile(h.dir))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := store.Restore(ctx, badger.URL(dir), []store.BackupFile{{Name: "full", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(full)), nil
	}}}, store.RestoreOptions{VerifierKey: vk, MasterKey: mk})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	cp, err := h.st.CheckpointAt(ctx, rep.Checkpoint.Size)
	if err != nil {
		t.Fatalf("the server's checkpoint at the restored size %d: %v", rep.Checkpoint.Size, err)
	}
	if rep.Checkpoint.Size < before.Size || rep.Checkpoint.Root != cp.Root {
		t.Fatalf("restored the tree %d/%x; the server signed %x at that size, and %d events before the backup", rep.Checkpoint.Size, rep.Checkpoint.Root, cp.Root, before.Size)
	}
	creds, err := h.st.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Credentials) != len(creds) || len(rep.Skipped) != 0 {
		t.Fatalf("restored %d keys (skipped %v); the server has %d", len(rep.Credentials), rep.Skipped, len(creds))
	}
	// The backup is recorded as a read: by whom, in which view, how many
	// events.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found *agenttrailv1.Access
		for e, err := range h.st.Scan(ctx, store.Query{Filter: store.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_ACCESS}}}) {
			if err != nil {
				t.Fatal(err)
			}
			if a := e.Header.GetAccess(); a.GetRpc() == agenttrailv1.LogService_Backup_FullMethodName && a.GetStatusCode() == 0 {
				found = a
			}
		}
		if found != nil {
			if found.GetPrincipal() != "audit-carol" || found.GetEventsReturned() != cp.Size {
				t.Fatalf("the backup's access record: %v; want audit-carol and %d events", found, cp.Size)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no access record of the backup")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// An incremental backup after it holds what came since.
	appendAs(t, h, "agent", agentEvents()[:2])
	time.Sleep(1100 * time.Millisecond)
	incr, err := backupOver(t, h, "compliance", cp.Note)
	if err != nil {
		t.Fatalf("an incremental backup: %v", err)
	}
	rep, err = store.VerifyBackups(ctx, []store.BackupFile{{Name: "incr", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(incr)), nil
	}}}, vk)
	if err != nil || rep.Base != cp.Size || rep.Events == 0 {
		t.Fatalf("VerifyBackups(incremental) = %+v, %v", rep, err)
	}
	// A base that is not of this log is refused.
	if _, err := backupOver(t, h, "compliance", []byte("not a checkpoint")); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a backup after a bogus checkpoint: %v, want InvalidArgument", err)
	}
}
