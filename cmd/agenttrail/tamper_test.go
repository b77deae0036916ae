package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
)

// trailDir is a stopped server's data directory, its signing key and
// checkpoint record outside it, and what an auditor keeps: the verifier key
// and a checkpoint saved earlier.
type trailDir struct {
	data, key, record string
	vkey              string
	saved             string // the file of the checkpoint the auditor saved
}

// newTrail writes 48 events in batches of 8 with the production placement
// of the key and record, and saves the latest checkpoint as an auditor
// would (agenttrail checkpoint --output note > saved.note).
func newTrail(t *testing.T, mutate func([]*agenttrailv1.Event) []*agenttrailv1.Event, key string) trailDir {
	t.Helper()
	root := t.TempDir()
	d := trailDir{data: filepath.Join(root, "data"), key: key, record: filepath.Join(root, "agenttrail-signing.checkpoints.json")}
	if d.key == "" {
		d.key = filepath.Join(root, "agenttrail-signing.key")
	}
	st, err := store.Open(context.Background(), badger.URL(d.data), store.WithOrigin(cliOrigin), store.WithSigningKeyFile(d.key), store.WithMasterKeyFile(defaultMasterKeyFile(d.data)),
		store.WithCheckpointRecord(d.record), store.WithCheckpointInterval(0), store.WithBatchLimits(8, 1<<20, 0))
	if err != nil {
		t.Fatal(err)
	}
	var evs []*agenttrailv1.Event
	for i := range 48 {
		evs = append(evs, toolEvent(fmt.Sprintf("ev-%02d", i), fmt.Sprintf("s-%d", i/8), "agent", "search", uint32(i%8+1), time.Now().Add(-time.Minute)))
	}
	if mutate != nil {
		evs = mutate(evs)
	}
	for i := 0; i < len(evs); i += 8 {
		res, err := st.Append(context.Background(), "agent", evs[i:min(i+8, len(evs))])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	d.vkey = st.VerifierKey().String()
	d.saved = filepath.Join(root, "saved.note")
	if err := os.WriteFile(d.saved, st.LatestCheckpoint().Note, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d trailDir) tamper(t *testing.T, edit func(*badger.Tamperer) error) {
	t.Helper()
	mk, err := store.ReadMasterKeyFile(defaultMasterKeyFile(d.data))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := badger.Tamper(badger.URL(d.data), mk.StorageKey())
	if err != nil {
		t.Fatal(err)
	}
	err = edit(tp)
	if cerr := tp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// The tamper suite of issue 9: each attack by someone who holds the data
// directory (and, for some, the signing key) is found by verify --data with
// only what an auditor holds, and the first bad index or the sizes are
// named.
func TestTamperSuite(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		d := newTrail(t, nil, "")
		expect(t, []string{"verify", "--data", d.data, "--verifier-key", d.vkey, "--checkpoint", d.saved}, 0,
			[]string{"tree size 48", "secondary index postings", "extends the trusted checkpoint of 48 events", "data verified"}, nil)
	})
	t.Run("tail truncation", func(t *testing.T) {
		d := newTrail(t, nil, "")
		d.tamper(t, func(tp *badger.Tamperer) error { return tp.Truncate(40) })
		// The truncated log is consistent with itself...
		expect(t, []string{"verify", "--data", d.data, "--verifier-key", d.vkey}, 0, []string{"tree size 40"}, nil)
		// ...but not with the checkpoint the auditor saved,
		expect(t, []string{"verify", "--data", d.data, "--verifier-key", d.vkey, "--checkpoint", d.saved}, 1, nil,
			[]string{"the stored tree has 40 events, fewer than the 48 of the trusted checkpoint"})
		// and the server refuses to start on it, naming both sizes.
		expect(t, []string{"serve", "--data", d.data, "--signing-key", d.key, "--checkpoint-record", d.record, "--listen", "127.0.0.1:0", "--http-listen", "off"}, 1, nil,
			[]string{"the store holds 40 events", "signed covers 48 events"})
	})
	t.Run("rewrite and re-sign with the server's own key", func(t *testing.T) {
		d := newTrail(t, nil, "")
		forged := newTrail(t, func(evs []*agenttrailv1.Event) []*agenttrailv1.Event {
			evs[20].GetToolCall().Result = `{"ok":false}`
			return evs
		}, d.key)
		expect(t, []string{"verify", "--data", forged.data, "--verifier-key", d.vkey}, 0, []string{"data verified"}, nil)
		expect(t, []string{"verify", "--data", forged.data, "--verifier-key", d.vkey, "--checkpoint", d.saved}, 1, nil,
			[]string{"the stored tree of size 48 has root", "but the trusted checkpoint of size 48 says"})
		// The server's own record beside the key refuses it too.
		expect(t, []string{"serve", "--data", forged.data, "--signing-key", d.key, "--checkpoint-record", d.record, "--listen", "127.0.0.1:0", "--http-listen", "off"}, 1, nil,
			[]string{"differs from the checkpoint of that size this server signed"})
	})
	t.Run("content deleted with a bare erasure marker", func(t *testing.T) {
		d := newTrail(t, nil, "")
		d.tamper(t, func(tp *badger.Tamperer) error { return tp.MarkErased(14) })
		expect(t, []string{"verify", "--data", d.data, "--verifier-key", d.vkey}, 1, nil,
			[]string{"event 14 does not verify", "no later erasure or retention event of the log names this index"})
	})
	t.Run("event dropped from the indexes", func(t *testing.T) {
		d := newTrail(t, nil, "")
		d.tamper(t, func(tp *badger.Tamperer) error { return tp.DropFromIndexes(27) })
		expect(t, []string{"verify", "--data", d.data, "--verifier-key", d.vkey}, 1, nil,
			[]string{"event 27 does not verify", "index does not file this event"})
	})
	t.Run("forged event inserted and everything re-signed", func(t *testing.T) {
		d := newTrail(t, nil, "")
		forged := newTrail(t, func(evs []*agenttrailv1.Event) []*agenttrailv1.Event {
			f := toolEvent("forged", "s-2", "agent", "refund", 9, time.Now().Add(-time.Minute))
			return append(evs[:20:20], append([]*agenttrailv1.Event{f}, evs[20:47]...)...)
		}, d.key)
		expect(t, []string{"verify", "--data", forged.data, "--verifier-key", d.vkey, "--checkpoint", d.saved}, 1, nil,
			[]string{"trusted checkpoint of size 48"})
	})
	t.Run("empty data directory", func(t *testing.T) {
		root := t.TempDir()
		data := filepath.Join(root, "data")
		st, err := store.Open(context.Background(), badger.URL(data), store.WithOrigin(cliOrigin), store.WithSigningKeyFile(filepath.Join(root, "k.key")), store.WithMasterKeyFile(defaultMasterKeyFile(data)))
		if err != nil {
			t.Fatal(err)
		}
		vk := st.VerifierKey().String()
		st.Close()
		expect(t, []string{"verify", "--data", data, "--verifier-key", vk}, 1, nil, []string{"the log is empty"})
		expect(t, []string{"verify", "--data", t.TempDir(), "--verifier-key", vk}, 1, nil, nil)
	})
}

// A data directory written by an older build keeps its signing key inside;
// the first command that opens it moves the key out and says so.
func TestSigningKeyMovesOutOfTheDataDirectory(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	old := filepath.Join(data, legacyKeyFile)
	st, err := store.Open(context.Background(), badger.URL(data), store.WithSigningKeyFile(old), store.WithMasterKeyFile(defaultMasterKeyFile(data)))
	if err != nil {
		t.Fatal(err)
	}
	vk := st.VerifierKey().String()
	st.Close()
	expect(t, []string{"keys", "create", "--data", data, "--principal", "admin", "--role", "admin"}, 0, nil,
		[]string{"moved the checkpoint signing key out of the data directory", old, filepath.Join(root, "data-signing.key")})
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old key is still in the data directory: %v", err)
	}
	expect(t, []string{"verify", "--data", data, "--verifier-key", vk}, 0, []string{"data verified"}, nil)

	// A key put back inside is refused as --signing-key.
	expect(t, []string{"keys", "create", "--data", data, "--signing-key", filepath.Join(data, "k.key"), "--principal", "a2", "--role", "admin"}, 2, nil,
		[]string{"inside the data directory"})
	// Two different keys: refused, naming both.
	os.WriteFile(old, []byte("PRIVATE+KEY+other+00000000+AAAA\n"), 0o600)
	expect(t, []string{"keys", "list", "--data", data}, 1, nil, []string{"two signing keys"})
}

// AGENTTRAIL_SIGNING_KEY may hold the key itself: no key file is written,
// and the checkpoint record (and the master key) still go beside the data
// directory.
func TestSigningKeyFromTheEnvironment(t *testing.T) {
	skey, vk, _ := noteKey(t)
	root := t.TempDir()
	data := filepath.Join(root, "audit-data")
	t.Setenv("AGENTTRAIL_SIGNING_KEY", skey)
	t.Setenv("AGENTTRAIL_ORIGIN", cliOrigin)
	_, errOut := expect(t, []string{"keys", "create", "--data", data, "--principal", "admin", "--role", "admin"}, 0, nil, nil)
	if strings.Contains(errOut, skey) {
		t.Errorf("the key was printed: %s", errOut)
	}
	ents, _ := os.ReadDir(root)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "audit-checkpoints.json,audit-data,audit-master.key" {
		t.Errorf("files beside the data: %q, want the record and the master key only", names)
	}
	expect(t, []string{"verify", "--data", data, "--verifier-key", vk}, 0, []string{"data verified"}, nil)
}
