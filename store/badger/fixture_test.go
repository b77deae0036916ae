package badger

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
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
// drivers opens, verifies and keeps appending, with the same leaves and
// checkpoints.
func TestDataWrittenBeforeTheSeam(t *testing.T) {
	var want fixtureExpect
	b, err := os.ReadFile("testdata/v1/expect.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	copyDir(t, "testdata/v1/data", dir)
	// The fixture's files are kept read-only to others, as the store keeps
	// its key.
	if err := os.Chmod(filepath.Join(dir, "checkpoint-signing.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	rep, err := store.VerifyStorage(ctx, URL(dir), want.VerifierKey)
	if err != nil || !rep.OK() || rep.TreeSize != uint64(len(want.Leaves)) || rep.Checkpoints != len(want.Checkpoints) {
		t.Fatalf("VerifyStorage = %+v, %v; want OK over %d events and %d checkpoints", rep, err, len(want.Leaves), len(want.Checkpoints))
	}

	l := storetest.Log{URL: URL(dir), KeyFile: filepath.Join(dir, "checkpoint-signing.key")}
	s := l.Open(t, store.WithOrigin(want.Origin), store.WithCheckpointInterval(0))
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
		ev := proto.Clone(storetest.ToolCallEvent(fmt.Sprintf("after-the-seam-%d", i), i)).(*agenttrailv1.Event)
		evs = append(evs, ev)
	}
	got := storetest.AppendOK(t, s, evs...)
	if got[0].Index != uint64(len(want.Leaves)) {
		t.Errorf("first new event at %d, want %d", got[0].Index, len(want.Leaves))
	}
	if again := storetest.AppendOK(t, s, evs[0]); !again[0].Duplicate {
		t.Errorf("re-append of a new event: %+v, want duplicate", again[0])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = store.VerifyStorage(ctx, URL(dir), want.VerifierKey)
	if err != nil || !rep.OK() || rep.TreeSize != uint64(len(want.Leaves)+5) {
		t.Fatalf("after appending: VerifyStorage = %+v, %v", rep, err)
	}
}
