package main

import "testing"

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"512MiB", 512 << 20, true},
		{"512 MiB", 512 << 20, true},
		{"2GiB", 2 << 30, true},
		{"2gb", 2 << 30, true},
		{"64K", 64 << 10, true},
		{"100B", 100, true},
		{"-1", 0, false},
		{"1.5GiB", 0, false},
		{"MiB", 0, false},
		{"lots", 0, false},
	} {
		var b byteSize
		err := b.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && int64(b) != tt.want) {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tt.in, b, err, tt.want, tt.ok)
		}
	}
	for _, tt := range []struct {
		v    byteSize
		want string
	}{{512 << 20, "512MiB"}, {1 << 30, "1GiB"}, {1000, "1000"}, {0, "0"}} {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int64(tt.v), got, tt.want)
		}
	}
}
