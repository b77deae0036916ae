//go:build !linux

package badger

import "errors"

// pageOut is Linux's alone (madvise MADV_PAGEOUT).
func pageOut(prefixes []string) error {
	return errors.New("reclaiming the pages of memory-mapped files is supported on Linux only")
}
