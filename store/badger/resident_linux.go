package badger

import "golang.org/x/sys/unix"

// pageOut asks the kernel to reclaim the resident pages of the mappings of
// the files under prefixes. MADV_PAGEOUT never changes a mapping's
// contents, whatever it maps, so a mapping that Badger replaced between
// reading /proc/self/maps and the call comes to no harm.
func pageOut(prefixes []string) error {
	ms, err := fileMappings(prefixes)
	if err != nil {
		return err
	}
	for _, m := range ms {
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT)
		switch {
		case errno == 0, errno == unix.ENOMEM, errno == unix.EAGAIN:
			// ENOMEM: the range was unmapped meanwhile (a table compacted
			// away); EAGAIN: the kernel was busy, the next round retries.
		default:
			return errno
		}
	}
	return nil
}
