package badger

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Badger reads and writes its tables and value logs through memory-mapped
// files and keeps every one of them mapped while the database is open. The
// pages it touches (every value it writes, every block it reads) stay in
// the process's resident memory until the kernel runs short, so a store's
// resident memory would grow with the data it holds, beside the Go heap:
// 1.3 GB of file-backed pages after a million events of 1 KiB.
//
// The driver keeps those pages under a budget, its cache budget
// (store.WithCacheBytes): once the process's file-backed resident memory
// has grown by more than half the budget since the store opened, it asks
// the kernel (madvise MADV_PAGEOUT) to reclaim the pages of the store's
// mappings. The other half is the margin for what Badger maps between two
// checks: a compaction writes and reads tens of MiB in a burst, and with
// the whole budget as the trigger a 1M-event run reached 120 MB of
// file-backed pages against a 64 MiB budget. Reclaiming is a hint that
// never changes contents: dirty pages stay until written back, and a page
// read again is faulted in from the file, so a reader sees the same bytes,
// at the cost of a disk read for data that has left the budget. The mappings stay; only their resident
// pages go, and the kernel's page cache loses them too, so the memory is
// returned to the machine, not moved elsewhere.

// residencyInterval is how often the resident pages are checked (reading
// /proc/self/status, a few microseconds). A compaction reads and writes
// tables in bursts of tens of MiB, so the check is frequent: at half a
// second, a 1M-event run overran the budget by 150 MB.
const residencyInterval = 100 * time.Millisecond

// limitResidency keeps the resident pages of the store's memory-mapped
// files under budget bytes until stop is closed. base is the process's
// file-backed resident memory before the store opened (its binary, for one).
func (d *Driver) limitResidency(budget, base int64, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	if budget <= 0 || base < 0 {
		<-stop
		return
	}
	t := time.NewTicker(residencyInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		resident, err := fileResident()
		if err != nil || resident-base <= budget/2 {
			continue
		}
		prefixes := []string{d.events + string(os.PathSeparator)}
		if h := d.cur.Load(); h != nil && h.shadow != "" {
			prefixes = append(prefixes, h.shadow+string(os.PathSeparator))
		}
		if err := pageOut(prefixes); err != nil {
			// The kernel cannot (before Linux 5.4): say so once and stop.
			d.log.Warn("the store's memory-mapped files cannot be kept under the cache budget; resident memory will grow with the data",
				slog.Any("error", err))
			<-stop
			return
		}
	}
}

// fileResident returns the process's file-backed resident memory, in
// bytes (RssFile in /proc/self/status), or -1 where it is not known.
func fileResident() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return -1, err
			}
			return kb << 10, nil
		}
	}
	return -1, os.ErrNotExist
}

// mapping is a range of the process's address space mapped from a file.
type mapping struct {
	start, end uintptr
	path       string
}

// fileMappings returns the process's mappings of files whose path starts
// with one of prefixes, from /proc/self/maps.
func fileMappings(prefixes []string) ([]mapping, error) {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	var ms []mapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// start-end perms offset dev inode path, the path possibly with
		// spaces and " (deleted)" after it.
		fields := strings.SplitN(sc.Text(), " ", 6)
		if len(fields) < 6 {
			continue
		}
		path := strings.TrimSuffix(strings.TrimLeft(fields[5], " "), " (deleted)")
		if !hasAnyPrefix(path, prefixes) {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		ms = append(ms, mapping{start: uintptr(start), end: uintptr(end), path: path})
	}
	return ms, sc.Err()
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
