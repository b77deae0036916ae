package badger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
	"github.com/agenttrail/agenttrail/store/storetest"
)

// damageEvents is how many events the damage tests store: enough for a
// value log of several hundred kilobytes.
const damageEvents = 300

// filledStore opens a store in a new directory and appends damageEvents
// events to it, in many batches, each with content above the value
// threshold, so that Badger keeps the content in its value log.
func filledStore(t *testing.T, prefix string) (string, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(context.Background(), URL(dir), crashLog(dir).Options(store.WithBatchLimits(32, 1<<20, 0))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < damageEvents; i += 30 {
		var evs []*agenttrailv1.Event
		for k := i; k < min(i+30, damageEvents); k++ {
			ev := crashEvent(eventtest.ID(fmt.Sprintf("%s-%05d", prefix, k)))
			ev.GetLlmCall().OutputText += strings.Repeat(" and more", valueThreshold/9+100)
			evs = append(evs, ev)
		}
		storetest.AppendOK(t, s, evs...)
	}
	return dir, s
}

// cleanStore makes a data directory of damageEvents events, closed
// cleanly: a MANIFEST, one or more tables, value logs, no write-ahead log.
// It returns the directory and the verifier key.
func cleanStore(t *testing.T) (string, string) {
	t.Helper()
	dir, s := filledStore(t, "e")
	vk := s.VerifierKey().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, vk
}

// crashedStore makes a data directory as a kill -9 leaves it: events
// committed, nothing closed, the write-ahead logs preallocated with their
// tails zero. It copies the files of a store that is open (Badger writes
// through memory maps, so the copy sees every committed byte), and closes
// the original afterwards.
func crashedStore(t *testing.T) (string, string) {
	t.Helper()
	dir, s := filledStore(t, "c")
	defer s.Close()
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	os.Remove(filepath.Join(crashed, "events", "LOCK"))
	return crashed, s.VerifierKey().String()
}

// sums returns the SHA-256 of every file under dir, with its size and
// mode, by path. The holes of sparse files (Badger's preallocated logs)
// are hashed as the zeros they read as, without reading them.
func sums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h := sha256.New()
		fmt.Fprintf(h, "%d %v\n", fi.Size(), fi.Mode())
		for _, e := range dataExtents(t, path, fi.Size()) {
			fmt.Fprintf(h, "%d:", e[0])
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			if _, err := io.Copy(h, io.NewSectionReader(f, e[0], e[1]-e[0])); err != nil {
				f.Close()
				return err
			}
			f.Close()
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dataExtents returns the [start, end) ranges of a file that hold data.
func dataExtents(t *testing.T, path string, size int64) [][2]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]int64
	for off := int64(0); off < size; {
		lo, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err != nil {
			break // ENXIO: no data after off
		}
		hi, err := unix.Seek(int(f.Fd()), lo, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]int64{lo, hi})
		off = hi
	}
	return out
}

// copyDir copies a directory tree, keeping file modes and the holes of
// sparse files.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
		if err != nil {
			return err
		}
		for _, e := range dataExtents(t, path, fi.Size()) {
			if _, err := io.Copy(io.NewOffsetWriter(out, e[0]), io.NewSectionReader(in, e[0], e[1]-e[0])); err != nil {
				out.Close()
				return err
			}
		}
		if err := out.Truncate(fi.Size()); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sameSums(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed (or went) when the store refused to open", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared when the store refused to open", k)
		}
	}
}

// files returns the names of the files of Badger's directory with a
// suffix, in order.
func files(t *testing.T, dir, suffix string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			fi, _ := e.Info()
			if fi.Size() > 0 {
				out = append(out, e.Name())
			}
		}
	}
	slices.Sort(out)
	return out
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// halve cuts the first file with a suffix to half its size.
func halve(suffix string) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		name := files(t, dir, suffix)[0]
		p := filepath.Join(dir, "events", name)
		if err := os.Truncate(p, fileSize(t, p)/2); err != nil {
			t.Fatal(err)
		}
		return name
	}
}

// TestDamageIsRefusedAndNamed damages a closed store's files one way at a
// time, as the fault campaign did, and checks that opening it, for writing
// and read-only (verify --data), is refused with an error naming the file,
// and that no byte of the directory changed.
func TestDamageIsRefusedAndNamed(t *testing.T) {
	tests := []struct {
		name string
		// damage damages the directory and returns the file it names.
		damage func(t *testing.T, dir string) string
		// wantIndex is set when the first log index affected must be
		// named.
		wantIndex bool
		// also is more the message must say.
		also string
	}{
		{"deleted MANIFEST", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "events", "MANIFEST")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			return "MANIFEST"
		}, false, "missing"},
		{"flipped byte in the last value log", func(t *testing.T, dir string) string {
			v := files(t, dir, ".vlog")
			name := v[len(v)-1]
			p := filepath.Join(dir, "events", name)
			flipByte(t, p, fileSize(t, p)/3)
			return name
		}, true, "beyond it"},
		{"flipped byte in a table", func(t *testing.T, dir string) string {
			name := files(t, dir, ".sst")[0]
			flipByte(t, filepath.Join(dir, "events", name), 300)
			return name
		}, true, "checksum"},
		{"truncated table", halve(".sst"), false, "cut short"},
		{"deleted value log", func(t *testing.T, dir string) string {
			name := files(t, dir, ".vlog")[0]
			if err := os.Remove(filepath.Join(dir, "events", name)); err != nil {
				t.Fatal(err)
			}
			return name
		}, true, "missing"},
		{"truncated value log", halve(".vlog"), true, "beyond it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, vk := cleanStore(t)
			file := tt.damage(t, dir)
			before := sums(t, dir)
			for _, mode := range []string{"read-write", "read-only"} {
				var err error
				if mode == "read-write" {
					var s *store.Store
					s, err = store.Open(context.Background(), URL(dir), crashLog(dir).Options()...)
					if err == nil {
						s.Close()
						t.Fatalf("%s: the damaged store opened", mode)
					}
				} else {
					_, err = store.VerifyStorage(context.Background(), URL(dir), vk, store.VerifyWithMasterKeyFile(crashLog(dir).MasterKeyPath()))
					if err == nil {
						t.Fatalf("%s: the damaged store verified", mode)
					}
				}
				var dmg *Damage
				if !errors.As(err, &dmg) || !errors.Is(err, store.ErrCorrupt) {
					t.Fatalf("%s: got %v, want a *Damage (ErrCorrupt)", mode, err)
				}
				if filepath.Base(dmg.File) != file {
					t.Errorf("%s: the error names %s, want %s: %v", mode, dmg.File, file, err)
				}
				if tt.wantIndex && !dmg.HasIndex {
					t.Errorf("%s: the error names no log index: %v", mode, err)
				}
				msg := err.Error()
				for _, want := range []string{tt.also, "Remedy", "agenttrail restore"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: the message lacks %q: %s", mode, want, msg)
					}
				}
				t.Logf("%s: %v", mode, err)
				sameSums(t, before, sums(t, dir))
			}
		})
	}
}

// TestEmptyNewestWriteAheadLog: Badger creates a write-ahead log, then
// sizes it, so a kill between the two leaves the newest log empty. Such a
// store verifies offline and opens with everything acknowledged. An empty
// log that is not the newest was cut, and is refused.
func TestEmptyNewestWriteAheadLog(t *testing.T) {
	dir, vk := crashedStore(t)
	mems := files(t, dir, ".mem")
	if len(mems) == 0 {
		t.Fatal("the crashed store has no write-ahead log")
	}
	last := mems[len(mems)-1]
	var fid int
	if _, err := fmt.Sscanf(last, "%05d.mem", &fid); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "events", fmt.Sprintf("%05d.mem", fid+1))
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	rep, err := store.VerifyStorage(context.Background(), URL(dir), vk, store.VerifyWithMasterKeyFile(crashLog(dir).MasterKeyPath()))
	if err != nil || !rep.OK() || rep.TreeSize != damageEvents {
		t.Fatalf("VerifyStorage with an empty newest write-ahead log = %+v, %v; want %d events verified", rep, err, damageEvents)
	}
	if _, err := os.Stat(empty); err != nil {
		t.Fatalf("a read-only verify changed the directory: %v", err)
	}

	cut := t.TempDir()
	copyDir(t, dir, cut)
	if err := os.Truncate(filepath.Join(cut, "events", last), 0); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(context.Background(), URL(cut), crashLog(cut).Options()...)
	var dmg *Damage
	if !errors.As(err, &dmg) || filepath.Base(dmg.File) != last {
		t.Fatalf("opening a store whose write-ahead log %s was emptied, with a newer one: %v; want a *Damage naming it", last, err)
	}

	opensWithEverything(t, dir, "a store with an empty newest write-ahead log")
}

// TestCrashedStoreVerifiesReadOnly: a data directory as kill -9 leaves it
// verifies offline without a byte changed, then opens for writing with
// everything acknowledged; a flipped byte in its write-ahead log, which
// replay would cut with every later transaction, is refused.
func TestCrashedStoreVerifiesReadOnly(t *testing.T) {
	dir, vk := crashedStore(t)
	if len(files(t, dir, ".mem")) == 0 {
		t.Fatal("the crashed store has no write-ahead log to recover")
	}
	before := sums(t, dir)
	rep, err := store.VerifyStorage(context.Background(), URL(dir), vk, store.VerifyWithMasterKeyFile(crashLog(dir).MasterKeyPath()))
	if err != nil || !rep.OK() || rep.TreeSize != damageEvents {
		t.Fatalf("VerifyStorage of a crashed store = %+v, %v; want %d events verified", rep, err, damageEvents)
	}
	sameSums(t, before, sums(t, dir))

	damaged := t.TempDir()
	copyDir(t, dir, damaged)
	mem := files(t, damaged, ".mem")[0]
	p := filepath.Join(damaged, "events", mem)
	flipByte(t, p, 4096)
	dBefore := sums(t, damaged)
	_, err = store.Open(context.Background(), URL(damaged), crashLog(damaged).Options()...)
	var dmg *Damage
	if !errors.As(err, &dmg) || filepath.Base(dmg.File) != mem || !dmg.HasIndex {
		t.Fatalf("opening a store with a flipped byte in its write-ahead log: %v; want a *Damage naming %s and an index", err, mem)
	}
	t.Log(err)
	sameSums(t, dBefore, sums(t, damaged))

	opensWithEverything(t, dir, "the crashed store")
}

// opensWithEverything opens the crashed store in dir for writing and checks
// that it holds every acknowledged event.
func opensWithEverything(t *testing.T, dir, what string) {
	t.Helper()
	s, err := store.Open(context.Background(), URL(dir), crashLog(dir).Options()...)
	if err != nil {
		t.Fatalf("opening %s for writing: %v", what, err)
	}
	defer s.Close()
	if size, _ := s.Size(); size != damageEvents {
		t.Fatalf("%s holds %d events, %d were acknowledged", what, size, damageEvents)
	}
	for i := range damageEvents {
		if _, err := s.GetByID(context.Background(), eventtest.ID(fmt.Sprintf("c-%05d", i)), store.HeaderAndContent); err != nil {
			t.Fatalf("%s: acknowledged event c-%05d: %v", what, i, err)
		}
	}
}
