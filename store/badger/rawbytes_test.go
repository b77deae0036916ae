package badger

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// withoutBadgerEncryption keeps Badger's files in the clear while the
// engine still encrypts content: only tests use it, to see whether deleted
// bytes are really gone from the files.
func withoutBadgerEncryption() Option {
	return func(c *config) error {
		c.plainBadger = true
		return nil
	}
}

// scanFiles returns, for each needle, the files under dir that hold it.
func scanFiles(t *testing.T, dir string, needles map[string][]byte) map[string][]string {
	t.Helper()
	found := map[string][]string{}
	var files int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, n := range needles {
			if bytes.Contains(b, n) {
				found[name] = append(found[name], filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files in %s: the scan looks at nothing", files, dir)
	}
	return found
}

func describe(found map[string][]string) string {
	var lines []string
	for name, files := range found {
		lines = append(lines, fmt.Sprintf("%s in %v", name, files))
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

// rawLog is the data directory of a raw-bytes test: keys outside it, and
// events whose content, headers and index values each hold a unique marker.
type rawLog struct {
	dir    string
	log    storetest.Log
	people []storetest.Person
	tag    string
}

func newRawLog(t *testing.T) *rawLog {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	r := &rawLog{dir: dir, tag: tag, log: storetest.Log{
		URL: URL(dir), KeyFile: filepath.Join(root, "signing.key"), MasterKeyFile: filepath.Join(root, "master.key"),
	}}
	// Session, user and agent ids and event ids are headers and index
	// values; every one holds the tag.
	for i := range 40 {
		p := storetest.Person{
			ID:      fmt.Sprintf("evt%s-%02d", tag, i),
			Session: fmt.Sprintf("ses%s-%d", tag, i%5),
			User:    fmt.Sprintf("usr%s-%d", tag, i%4),
			Agent:   "agt" + tag,
			Labels:  map[string]string{"lbl": "lbl" + tag},
		}
		if i%3 == 0 {
			p.User = "" // events under their session's key
		}
		r.people = append(r.people, p)
	}
	return r
}

// markers are what must never be on disk in the clear: every content
// marker, and every id that headers and indexes hold.
func (r *rawLog) markers() map[string][]byte {
	m := map[string][]byte{"tag": []byte(r.tag)}
	for _, p := range r.people {
		m["content of "+p.ID] = []byte(p.Marker())
	}
	return m
}

// keys collects the keys a store creates and unwraps, by keyring name.
type keys struct {
	mu sync.Mutex
	by map[string][]byte
}

func (k *keys) hook(name, key []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.by == nil {
		k.by = map[string][]byte{}
	}
	k.by[string(name)] = bytes.Clone(key)
}

// TestNoPlaintextOnDisk appends events whose content, headers and index
// values hold unique markers, closes the store, and scans every file of
// the data directory (tables, value log, write-ahead logs, manifest, key
// registry): no marker is there, before or after an erasure; and after the
// erasure, none of the erased keys' bytes (captured through the test hook
// before it) is there either.
func TestNoPlaintextOnDisk(t *testing.T) {
	r := newRawLog(t)
	ctx := context.Background()
	var k keys
	s := r.log.Open(t, store.WithTestHookKeys(k.hook), store.WithRetentionInterval(0), store.WithBatchLimits(8, 1<<20, 0))
	for _, p := range r.people {
		storetest.AppendOK(t, s, storetest.PersonEvent(p))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := scanFiles(t, r.dir, r.markers()); len(found) > 0 {
		t.Fatalf("before erasure, the data directory holds in the clear: %s", describe(found))
	}

	s = r.log.Open(t, store.WithTestHookKeys(k.hook), store.WithRetentionInterval(0))
	user, session := r.people[1].User, r.people[2].Session
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR " + r.tag, UserID: user}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR " + r.tag, SessionID: session}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR " + r.tag, EventIDs: []string{r.people[39].EventID(), r.people[38].EventID()}}); err != nil {
		t.Fatal(err)
	}
	erased := erasedNames(t, s, r)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	needles := r.markers()
	k.mu.Lock()
	// The subject keys of the erased subject and sessions.
	for name := range k.by {
		if name[0] == 's' && (strings.Contains(name, user) || strings.Contains(name, "ses")) {
			erased[name] = true
		}
	}
	for name := range erased {
		key, ok := k.by[name]
		if !ok {
			t.Fatalf("the test hook never saw key %x", name)
		}
		needles[fmt.Sprintf("erased key %x", name)] = key
	}
	k.mu.Unlock()
	if len(erased) < 10 {
		t.Fatalf("only %d erased keys to look for", len(erased))
	}
	if found := scanFiles(t, r.dir, needles); len(found) > 0 {
		t.Fatalf("after erasure, the data directory holds: %s", describe(found))
	}
}

// erasedNames returns the keyring names of the keys the erasures of a
// store destroyed: the subject keys of the erased subjects and sessions,
// and the content keys of the events erased one by one.
func erasedNames(t *testing.T, s *store.Store, r *rawLog) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	n := 0
	for e, err := range s.Scan(context.Background(), store.Query{Read: store.HeaderAndContent}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.ContentState == store.ContentErased {
			n++
			out[string(store.EventKeyName(e.Index))] = true
		}
	}
	if n == 0 {
		t.Fatal("nothing was erased")
	}
	return out
}

// TestErasedKeysLeaveTheFiles checks deletion itself, with Badger's own
// encryption off so that the bytes of keyring records would be visible:
// the erased subject keys' and content keys' records are in the files
// before the erasure, and in no file after it, in any version.
func TestErasedKeysLeaveTheFiles(t *testing.T) {
	r := newRawLog(t)
	ctx := context.Background()
	open := func() *store.Store {
		d, err := Open(r.dir, WithConfig(r.log.DriverConfig(t)), withoutBadgerEncryption(), WithGCInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.New(ctx, d, r.log.Options(store.WithRetentionInterval(0), store.WithBatchLimits(8, 1<<20, 0))...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	for _, p := range r.people {
		storetest.AppendOK(t, s, storetest.PersonEvent(p))
	}
	s.Close()
	// The records to be destroyed, read before the erasure.
	d, err := Open(r.dir, WithConfig(r.log.DriverConfig(t)), withoutBadgerEncryption())
	if err != nil {
		t.Fatal(err)
	}
	user := r.people[1].User
	records := map[string][]byte{}
	for rec, err := range d.KeysWithPrefix(ctx, []byte{'s'}) {
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(rec.Name, []byte(user)) {
			records[fmt.Sprintf("subject key record %q", rec.Name)] = rec.Value
		}
	}
	// Event 2 is another subject's: erased alone, its own key goes.
	keys, err := d.Keys(ctx, [][]byte{store.EventKeyName(2)})
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	records["content key record of event 2"] = keys[string(store.EventKeyName(2))]
	d.Close()
	if len(records) != 2 {
		t.Fatalf("records to destroy: %d, want the subject key and a content key", len(records))
	}
	if found := scanFiles(t, r.dir, records); len(found) != len(records) {
		t.Fatalf("before erasure the scan finds %s: it cannot see the records, so it proves nothing", describe(found))
	}
	s = open()
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR", UserID: user}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(ctx, store.ErasureRequest{Principal: "dpo", Reason: "DSR", EventIDs: []string{r.people[2].EventID()}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if found := scanFiles(t, r.dir, records); len(found) > 0 {
		t.Fatalf("after erasure the data directory still holds %s", describe(found))
	}
	// Content markers were never there: the engine encrypts content
	// whatever Badger does.
	content := map[string][]byte{}
	for _, p := range r.people {
		content[p.ID] = []byte(p.Marker())
	}
	if found := scanFiles(t, r.dir, content); len(found) > 0 {
		t.Fatalf("content in the clear: %s", describe(found))
	}
}
