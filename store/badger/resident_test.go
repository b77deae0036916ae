//go:build linux

package badger

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPageOut maps a file as Badger does, touches every page, and checks
// that pageOut gives the pages back to the kernel without changing a byte.
func TestPageOut(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skip("the temporary directory is on tmpfs, whose pages are not reclaimed without swap")
	}
	const size = 32 << 20
	f, err := os.Create(filepath.Join(dir, "000001.vlog"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := unix.Msync(data, unix.MS_SYNC); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(data)

	ms, err := fileMappings([]string{dir + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].end-ms[0].start != size || ms[0].path != f.Name() {
		t.Fatalf("fileMappings = %+v, want the one mapping of %s, %d bytes", ms, f.Name(), size)
	}
	before, err := fileResident()
	if err != nil {
		t.Fatal(err)
	}
	if err := pageOut([]string{dir + "/"}); err != nil {
		t.Skipf("the kernel cannot page out (before Linux 5.4?): %v", err)
	}
	after, err := fileResident()
	if err != nil {
		t.Fatal(err)
	}
	if got := before - after; got < size/2 {
		t.Errorf("pageOut gave back %d bytes of resident file pages (%d before, %d after), want at least %d", got, before, after, size/2)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("the mapping's contents changed after pageOut")
	}
}

// TestFileMappingsOthers checks that mappings of other files are left out.
func TestFileMappingsOthers(t *testing.T) {
	ms, err := fileMappings([]string{t.TempDir() + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 0 {
		t.Errorf("fileMappings of an empty directory = %+v, want none", ms)
	}
}
