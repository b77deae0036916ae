package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag of a number of bytes, with an optional binary unit:
// 1048576, 512KiB, 256MiB, 2GiB (also KB/MB/GB, read as the same binary
// units, and K/M/G).
type byteSize int64

func (b *byteSize) String() string {
	if b == nil {
		return "0"
	}
	v := int64(*b)
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if v != 0 && v%(1<<u.shift) == 0 {
			return strconv.FormatInt(v>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	shift := uint(0)
	for _, u := range []struct {
		suffixes []string
		shift    uint
	}{{[]string{"GiB", "GB", "G"}, 30}, {[]string{"MiB", "MB", "M"}, 20}, {[]string{"KiB", "KB", "K"}, 10}, {[]string{"B"}, 0}} {
		for _, suf := range u.suffixes {
			if len(t) > len(suf) && strings.EqualFold(t[len(t)-len(suf):], suf) {
				t, shift = strings.TrimSpace(t[:len(t)-len(suf)]), u.shift
				goto parsed
			}
		}
	}
parsed:
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)>>shift {
		return fmt.Errorf("want a size in bytes, such as 268435456, 512MiB or 2GiB")
	}
	*b = byteSize(v << shift)
	return nil
}
