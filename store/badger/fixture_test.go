package badger

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// fixtureExpect is testdata/v1/expect.json: what the build that wrote the
// fixture reported of it.
type fixtureExpect struct {
	Origin      string   `json:"origin"`
	VerifierKey string   `json:"verifier_key"`
	Leaves      []string `json:"leaf_hashes"`
	Checkpoints []string `json:"checkpoints"`
	Credential  string   `json:"revoked_credential_id"`
}

// A data directory written before the store was split into an engine and
// drivers, and before encryption at rest, verifies as it is; by default it
// is refused with ErrPlaintext, never mixed with encrypted records; with
// WithPlaintextStorage it opens and keeps appending, with the same leaves
// and checkpoints; and Migrate copies it into an encrypted directory that
// opens, verifies and appends the same way.
func TestDataWrittenBeforeTheSeam(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	want := loadFixture(t, dir)
	ctx := context.Background()
	l := storetest.Log{URL: URL(dir), KeyFile: filepath.Join(dir, "checkpoint-signing.key")}
	_, err := store.Open(ctx, l.URL, l.Options(store.WithOrigin(want.Origin))...)
	if !errors.Is(err, store.ErrPlaintext) || !strings.Contains(err.Error(), "agenttrail migrate") {
		t.Fatalf("Open of a plaintext directory = %v, want ErrPlaintext pointing to agenttrail migrate", err)
	}
	if _, err := os.Stat(l.MasterKeyPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused Open left a master key file behind (%v)", err)
	}
	checkFixture(t, want, l, store.WithPlaintextStorage())
}

func TestMigrateDataWrittenBeforeEncryption(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	want := loadFixture(t, dir)
	ctx := context.Background()
	before := snapshotFiles(t, dir)
	newDir := filepath.Join(t.TempDir(), "data-encrypted")
	mkFile := filepath.Join(t.TempDir(), "master.key")
	rep, err := store.Migrate(ctx, URL(dir), URL(newDir), want.VerifierKey, store.WithMasterKeyFile(mkFile))
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if rep.Events != uint64(len(want.Leaves)) || rep.Checkpoints != len(want.Checkpoints) || rep.Credentials != 1 || rep.MasterKeyCreated != mkFile {
		t.Errorf("Migrate = %+v, want %d events, %d checkpoints, 1 credential, key created at %s", rep, len(want.Leaves), len(want.Checkpoints), mkFile)
	}
	if after := snapshotFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("Migrate changed the old directory")
	}
	// Again into the same place: refused, nothing changed.
	if _, err := store.Migrate(ctx, URL(dir), URL(newDir), want.VerifierKey, store.WithMasterKeyFile(mkFile)); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("Migrate into a directory that is not empty = %v, want ErrAlreadyExists", err)
	}
	// The signing key moves with the log.
	key, err := os.ReadFile(filepath.Join(dir, "checkpoint-signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	l := storetest.Log{URL: URL(newDir), KeyFile: keyFile, MasterKeyFile: mkFile}
	checkFixture(t, want, l)
}

// loadFixture copies testdata/v1 into dir and returns what it should hold.
func loadFixture(t *testing.T, dir string) fixtureExpect {
	t.Helper()
	var want fixtureExpect
	b, err := os.ReadFile("testdata/v1/expect.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	copyDir(t, "testdata/v1/data", dir)
	// The fixture's files are kept read-only to others, as the store keeps
	// its key.
	if err := os.Chmod(filepath.Join(dir, "checkpoint-signing.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	return want
}

// snapshotFiles returns the names and contents of every file under dir.
func snapshotFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFixture checks that the fixture's log, in l, verifies, opens with
// the same leaves, checkpoints and credentials, and keeps appending.
func checkFixture(t *testing.T, want fixtureExpect, l storetest.Log, opts ...store.Option) {
	t.Helper()
	dir, err := DirOf(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	verifyOpts := []store.VerifyOption{}
	if len(opts) == 0 {
		verifyOpts = append(verifyOpts, store.VerifyWithMasterKeyFile(l.MasterKeyPath()))
	}
	rep, err := store.VerifyStorage(ctx, URL(dir), want.VerifierKey, verifyOpts...)
	if err != nil || !rep.OK() || rep.TreeSize != uint64(len(want.Leaves)) || rep.Checkpoints != len(want.Checkpoints) {
		t.Fatalf("VerifyStorage = %+v, %v; want OK over %d events and %d checkpoints", rep, err, len(want.Leaves), len(want.Checkpoints))
	}

	s := l.Open(t, append([]store.Option{store.WithOrigin(want.Origin), store.WithCheckpointInterval(0)}, opts...)...)
	if got := s.VerifierKey().String(); got != want.VerifierKey {
		t.Errorf("verifier key %s, want %s", got, want.VerifierKey)
	}
	for i, leaf := range want.Leaves {
		e, err := s.Get(ctx, uint64(i), store.HeaderAndContent)
		if err != nil {
			t.Fatalf("Get(%d): %v", i, err)
		}
		if got := hex.EncodeToString(e.LeafHash[:]); got != leaf {
			t.Errorf("leaf %d: %s, want %s", i, got, leaf)
		}
		if e.ContentState != store.ContentPresent {
			t.Errorf("event %d: content %v, want present", i, e.ContentState)
		}
	}
	var notes []string
	if err := s.Checkpoints(ctx, func(cp store.Checkpoint) bool { notes = append(notes, string(cp.Note)); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(notes) != fmt.Sprint(want.Checkpoints) {
		t.Errorf("checkpoints differ from the ones the older build signed:\n got %q\nwant %q", notes, want.Checkpoints)
	}
	c, err := s.Credential(ctx, want.Credential)
	if err != nil || c.Principal != "auditor" || c.RevokedAt.IsZero() {
		t.Errorf("Credential(%s) = %+v, %v; want the revoked auditor key", want.Credential, c, err)
	}

	// It keeps appending after the old events.
	var evs []*agenttrailv1.Event
	for i := range 5 {
		ev := proto.Clone(storetest.ToolCallEvent(eventtest.ID(fmt.Sprintf("after-the-seam-%d", i)), i)).(*agenttrailv1.Event)
		evs = append(evs, ev)
	}
	got := storetest.AppendOK(t, s, evs...)
	if got[0].Index != uint64(len(want.Leaves)) {
		t.Errorf("first new event at %d, want %d", got[0].Index, len(want.Leaves))
	}
	if again := storetest.AppendOK(t, s, evs[0]); !again[0].Duplicate {
		t.Errorf("re-append of a new event: %+v, want duplicate", again[0])
	}
	// Scans cross from the events stored one key each to the record
	// bundles of the new ones, both ways, by filter and without.
	n := len(want.Leaves) + len(evs)
	for _, q := range []store.Query{
		{Read: store.HeaderAndContent},
		{Read: store.HeaderAndContent, Descending: true},
		{Read: store.HeaderAndContent, Filter: store.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL}}},
		{Read: store.HeaderAndContent, Filter: store.Filter{Kinds: []agenttrailv1.EventKind{agenttrailv1.EventKind_EVENT_KIND_TOOL_CALL}}, Descending: true},
	} {
		var got []uint64
		for e, err := range s.Scan(ctx, q) {
			if err != nil {
				t.Fatalf("Scan(%+v): %v", q, err)
			}
			if e.ContentState != store.ContentPresent {
				t.Errorf("Scan(%+v): event %d content %v, want present", q, e.Index, e.ContentState)
			}
			got = append(got, e.Index)
		}
		if len(q.Filter.Kinds) == 0 && len(got) != n {
			t.Errorf("Scan(%+v) yielded %d events, want %d", q, len(got), n)
		}
		if len(got) < len(evs) || !slices.IsSortedFunc(got, func(a, b uint64) int { return cmp.Compare(a, b) * map[bool]int{false: 1, true: -1}[q.Descending] }) {
			t.Errorf("Scan(%+v) yielded %v, want at least the %d new events, in order", q, got, len(evs))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = store.VerifyStorage(ctx, URL(dir), want.VerifierKey, verifyOpts...)
	if err != nil || !rep.OK() || rep.TreeSize != uint64(len(want.Leaves)+5) {
		t.Fatalf("after appending: VerifyStorage = %+v, %v", rep, err)
	}
}
