package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// backupBytes takes a backup of a store into memory.
func backupBytes(t *testing.T, s *store.Store, base []byte) ([]byte, store.BackupSummary) {
	t.Helper()
	var buf bytes.Buffer
	bw, err := store.NewBackupWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.Backup(context.Background(), base, bw.Write)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

func memFile(name string, b []byte) store.BackupFile {
	return store.BackupFile{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// keyEvent is the key change event the server appends when a key is
// created or revoked.
func keyEvent(id, principal, role string, action agenttrailv1.KeyChangeAction) *agenttrailv1.Event {
	ev := ToolCallEvent("key-"+id+"-"+action.String(), 0)
	ev.Payload = &agenttrailv1.Event_KeyChange{KeyChange: &agenttrailv1.KeyChange{
		Action: action, KeyId: id, KeyPrincipal: principal, KeyRole: role, ChangedBy: "admin",
	}}
	return ev
}

// backupLog makes a log of events in several batches and checkpoints, with
// two API keys (one revoked), as the server records them.
func backupLog(t *testing.T, h Harness) (Log, *store.Store) {
	t.Helper()
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0))
	ctx := context.Background()
	for i, c := range []store.Credential{
		{ID: "00000000000000a1", Principal: "support-bot", Role: "agent", AgentID: "support-agent", CreatedAt: Now, CreatedBy: "admin", Hash: bytes.Repeat([]byte{1}, 32)},
		{ID: "00000000000000b2", Principal: "auditor", Role: "compliance", CreatedAt: Now, CreatedBy: "admin", Hash: bytes.Repeat([]byte{2}, 32), ExpiresAt: Now.Add(24 * time.Hour)},
	} {
		if err := s.AddCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
		AppendOK(t, s, keyEvent(c.ID, c.Principal, c.Role, agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_CREATED))
		AppendOK(t, s, numbered(fmt.Sprintf("b%d", i), 7)...)
	}
	if _, err := s.RevokeCredential(ctx, "00000000000000a1", Now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	AppendOK(t, s, keyEvent("00000000000000a1", "support-bot", "agent", agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_REVOKED))
	for i := range 5 {
		AppendOK(t, s, numbered(fmt.Sprintf("c%d", i), 11)...)
	}
	return l, s
}

// sameLog checks that two stores hold the same log: every event's leaf and
// content, every checkpoint, every credential.
func sameLog(t *testing.T, want, got *store.Store) {
	t.Helper()
	ctx := context.Background()
	ws, wr := want.Size()
	gs, gr := got.Size()
	if ws != gs || wr != gr {
		t.Fatalf("restored tree %d/%x, want %d/%x", gs, gr, ws, wr)
	}
	for i := range ws {
		we, err := want.Get(ctx, i, store.HeaderAndContent)
		if err != nil {
			t.Fatal(err)
		}
		ge, err := got.Get(ctx, i, store.HeaderAndContent)
		if err != nil {
			t.Fatalf("restored event %d: %v", i, err)
		}
		if we.LeafHash != ge.LeafHash || !bytes.Equal(we.Content, ge.Content) || !bytes.Equal(we.Salt, ge.Salt) || we.ContentState != ge.ContentState {
			t.Fatalf("restored event %d differs", i)
		}
		if _, err := got.GetByID(ctx, we.EventID(), 0); err != nil {
			t.Fatalf("restored event %d is not found by its id: %v", i, err)
		}
	}
	var wc, gc []string
	want.Checkpoints(ctx, func(c store.Checkpoint) bool { wc = append(wc, string(c.Note)); return true })
	got.Checkpoints(ctx, func(c store.Checkpoint) bool { gc = append(gc, string(c.Note)); return true })
	if strings.Join(wc, "|") != strings.Join(gc, "|") {
		t.Fatalf("restored %d checkpoints, want the %d stored", len(gc), len(wc))
	}
	wk, _ := want.Credentials(ctx)
	gk, _ := got.Credentials(ctx)
	if fmt.Sprint(wk) != fmt.Sprint(gk) {
		t.Fatalf("restored credentials %v, want %v", gk, wk)
	}
}

// A full backup, then an incremental one, restore into new storage as the
// same log, event for event, checkpoint for checkpoint and key for key, and
// the restored store goes on appending.
func testBackupRestoreRoundTrip(t *testing.T, h Harness) {
	ctx := context.Background()
	l, s := backupLog(t, h)
	full, sum := backupBytes(t, s, nil)
	if sum.Base != 0 || sum.Events == 0 || sum.Credentials != 2 {
		t.Fatalf("full backup summary %+v", sum)
	}
	AppendOK(t, s, numbered("after", 9)...)
	incr, isum := backupBytes(t, s, sum.Checkpoint.Note)
	if isum.Base != sum.Checkpoint.Size || isum.Events != 9 {
		t.Fatalf("incremental backup summary %+v; want 9 events from %d", isum, sum.Checkpoint.Size)
	}
	vk := s.VerifierKey().String()

	// The incremental backup verifies on its own.
	rep, err := store.VerifyBackups(ctx, []store.BackupFile{memFile("incr", incr)}, vk)
	if err != nil || rep.Base != sum.Checkpoint.Size || rep.Events != 9 {
		t.Fatalf("VerifyBackups(incremental alone) = %+v, %v", rep, err)
	}

	target := Log{URL: h.New(t), KeyFile: l.KeyFile}
	rep, err = store.Restore(ctx, target.URL, []store.BackupFile{memFile("full", full), memFile("incr", incr)}, store.RestoreOptions{VerifierKey: vk, MasterKey: l.MasterKey(t)})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if rep.Files != 2 || rep.Checkpoint.Size != isum.Checkpoint.Size || len(rep.Credentials) != 2 || len(rep.Skipped) != 0 {
		t.Fatalf("Restore report %+v", rep)
	}
	restored := target.Open(t)
	sameLog(t, s, restored)
	AppendOK(t, restored, numbered("later", 3)...)
	restored.Close()

	// Restoring into storage that holds a log is refused.
	_, err = store.Restore(ctx, target.URL, []store.BackupFile{memFile("full", full)}, store.RestoreOptions{VerifierKey: vk, MasterKey: l.MasterKey(t)})
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("Restore over a log = %v, want ErrAlreadyExists", err)
	}
}

// editBackup decodes a backup, edits its records, and encodes it again with
// a trailer that matches, as someone who altered it on purpose would.
func editBackup(t *testing.T, b []byte, edit func(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupRecord) []byte {
	t.Helper()
	r := bytes.NewReader(b[len(store.BackupFormat)+1:])
	var recs []*agenttrailv1.BackupRecord
	for {
		rec := &agenttrailv1.BackupRecord{}
		if err := protodelim.UnmarshalFrom(r, rec); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	var buf bytes.Buffer
	bw, err := store.NewBackupWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range edit(recs) {
		if err := bw.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// eventRecords returns the event records of a backup, to edit.
func eventRecords(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupEvent {
	var out []*agenttrailv1.BackupEvent
	for _, r := range recs {
		if e := r.GetEvent(); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// A backup that does not verify is refused before a byte is written: the
// target storage stays empty, and the error says what is wrong (and where).
func testTamperedBackupIsRefused(t *testing.T, h Harness) {
	ctx := context.Background()
	l, s := backupLog(t, h)
	full, sum := backupBytes(t, s, nil)
	AppendOK(t, s, numbered("after", 4)...)
	incr, isum := backupBytes(t, s, sum.Checkpoint.Note)
	AppendOK(t, s, numbered("later", 3)...)
	incr2, _ := backupBytes(t, s, isum.Checkpoint.Note)
	vk := s.VerifierKey().String()
	_, other := backupLog(t, h) // another log, with another key
	otherFull, _ := backupBytes(t, other, nil)

	flipped := bytes.Clone(full)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name  string
		files []store.BackupFile
		key   string
		want  string
	}{
		{"a flipped byte", []store.BackupFile{memFile("b", flipped)}, vk, "SHA-256"},
		{"cut short", []store.BackupFile{memFile("b", full[:len(full)*2/3])}, vk, "cut short"},
		{"not a backup", []store.BackupFile{memFile("b", []byte("hello\n"))}, vk, "not an agenttrail backup"},
		{"altered content", []store.BackupFile{memFile("b", editBackup(t, full, func(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupRecord {
			e := eventRecords(recs)[5]
			e.ContentRecord[len(e.ContentRecord)-1] ^= 1
			return recs
		}))}, vk, "event 5 does not verify: its content"}, // does not match its digest, or (encrypted) does not decrypt
		{"altered content with its digest", []store.BackupFile{memFile("b", editBackup(t, full, func(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupRecord {
			e := eventRecords(recs)[3]
			if recs[0].GetHeader().GetStoreFormat() == store.FormatVersion {
				// Encrypted content cannot be altered to match a digest
				// without its keys: alter the leaf's header instead,
				// which the tree catches.
				e.LeafData[4] ^= 1
				return recs
			}
			// version || salt || content; the leaf ends with the digest.
			e.ContentRecord[len(e.ContentRecord)-1] ^= 1
			d := commitment.ContentDigest(e.ContentRecord[1:1+commitment.SaltSize], e.ContentRecord[1+commitment.SaltSize:])
			copy(e.LeafData[len(e.LeafData)-len(d):], d[:])
			return recs
		}))}, vk, "does not"},
		{"dropped event", []store.BackupFile{memFile("b", editBackup(t, full, func(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupRecord {
			for i, r := range recs {
				if r.GetEvent().GetLogIndex() == 7 {
					return append(recs[:i:i], recs[i+1:]...)
				}
			}
			return recs
		}))}, vk, "out of place"},
		{"content dropped as if erased", []store.BackupFile{memFile("b", editBackup(t, full, func(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupRecord {
			e := eventRecords(recs)[2]
			e.ContentRecord, e.ContentKey, e.ContentErased = nil, nil, true
			return recs
		}))}, vk, "no later erasure or retention event names it"},
		{"forged checkpoint", []store.BackupFile{memFile("b", editBackup(t, full, func(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupRecord {
			h := recs[0].GetHeader()
			h.Checkpoint[len(h.Checkpoint)-20] ^= 1 // inside the signature
			return recs
		}))}, vk, "does not verify"},
		{"another log's key", []store.BackupFile{memFile("b", otherFull)}, vk, "does not verify"},
		{"incremental without its full backup", []store.BackupFile{memFile("i", incr)}, vk, "incremental backup"},
		{"chain out of order", []store.BackupFile{memFile("i", incr), memFile("f", full)}, vk, "full backup"},
		{"chain with a gap", []store.BackupFile{memFile("f", full), memFile("i2", incr2)}, vk, "none missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := h.New(t)
			_, err := store.Restore(ctx, target, tt.files, store.RestoreOptions{VerifierKey: tt.key, MasterKey: l.MasterKey(t)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v; want an error saying %q", err, tt.want)
			}
			t.Log(err)
			// Nothing was written: the target is still empty storage.
			d, err := store.OpenDriver(ctx, target, store.DriverConfig{ReadOnly: true})
			if err == nil {
				st, lerr := d.Load(ctx)
				d.Close()
				if lerr != nil || st.Format != "" || st.Size != 0 {
					t.Fatalf("after a refused restore the target holds %+v (%v)", st, lerr)
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("opening the target after a refused restore: %v", err)
			}
		})
	}
}

// A credential a backup holds is restored only as the log records it:
// one the log never created is left out, one the log revoked is restored
// revoked.
func testBackupCredentialsFollowTheLog(t *testing.T, h Harness) {
	ctx := context.Background()
	l, s := backupLog(t, h)
	full, _ := backupBytes(t, s, nil)
	vk := s.VerifierKey().String()
	forged := editBackup(t, full, func(recs []*agenttrailv1.BackupRecord) []*agenttrailv1.BackupRecord {
		tr := recs[len(recs)-1]
		for _, r := range recs {
			if c := r.GetCredential(); c != nil && c.GetKeyId() == "00000000000000a1" {
				c.RevokedAt = nil // un-revoked
			}
		}
		extra := &agenttrailv1.BackupCredential{KeyId: "00000000000000ff", Principal: "mallory", Role: "admin",
			CreatedAt: timestamppb.New(Now), SecretHash: bytes.Repeat([]byte{9}, 32)}
		tr = proto.CloneOf(tr)
		tr.GetTrailer().Credentials++
		return append(recs[:len(recs)-1:len(recs)-1], &agenttrailv1.BackupRecord{Record: &agenttrailv1.BackupRecord_Credential{Credential: extra}}, tr)
	})
	target := Log{URL: h.New(t), KeyFile: l.KeyFile}
	rep, err := store.Restore(ctx, target.URL, []store.BackupFile{memFile("b", forged)}, store.RestoreOptions{VerifierKey: vk, MasterKey: l.MasterKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "00000000000000ff") {
		t.Fatalf("skipped %v; want the key the log never created", rep.Skipped)
	}
	restored := target.Open(t)
	if _, err := restored.Credential(ctx, "00000000000000ff"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the forged key was restored: %v", err)
	}
	c, err := restored.Credential(ctx, "00000000000000a1")
	if err != nil || c.RevokedAt.IsZero() {
		t.Fatalf("the key the log revoked was restored as %+v, %v; want it revoked", c, err)
	}
}

// Content a logged erasure destroyed stays destroyed through a backup and
// a restore: the restored log holds the marks, not the content, and
// verifies.
func testBackupKeepsErasures(t *testing.T, h Harness) {
	if h.Tamper == nil {
		t.Skip("the driver offers no raw access to mark content erased")
	}
	ctx := context.Background()
	l := NewLog(t, h)
	s := l.Open(t, store.WithCheckpointInterval(0), store.WithBatchLimits(8, 1<<20, 0))
	appendIn(t, s, 8, numbered("e", 24))
	AppendOK(t, s, ErasureEvent("er-1", []uint64{5, 9}))
	vk := s.VerifierKey().String()
	s.Close()
	tamperWith(t, h, l, func(tp Tamperer) error {
		for _, i := range []uint64{5, 9} {
			if err := tp.MarkErased(i); err != nil {
				return err
			}
		}
		return nil
	})
	s = l.Open(t)
	full, _ := backupBytes(t, s, nil)
	target := Log{URL: h.New(t), KeyFile: l.KeyFile}
	rep, err := store.Restore(ctx, target.URL, []store.BackupFile{memFile("full", full)}, store.RestoreOptions{VerifierKey: vk, MasterKey: l.MasterKey(t)})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if rep.Erased != 2 {
		t.Fatalf("the backup holds %d erased events, want 2", rep.Erased)
	}
	restored := target.Open(t)
	sameLog(t, s, restored)
	for _, i := range []uint64{5, 9} {
		e, err := restored.Get(ctx, i, store.HeaderAndContent)
		if err != nil || e.ContentState != store.ContentErased {
			t.Fatalf("restored event %d: %v, %v; want its content erased", i, e, err)
		}
	}
}
