package main

import (
	"os"
	"path/filepath"
	"strings"
)

// selfCommand is the command line that runs this binary the way the user
// ran it, for hints that tell them what to type next: "go run
// ./cmd/agenttrail" for a binary that go run built (it lives in a
// go-build directory of go's own), and otherwise
// the name or path they ran ("agenttrail", "./agenttrail",
// "/usr/local/bin/agenttrail").
func selfCommand() string { return commandFor(os.Args[0], dirExists("cmd/agenttrail")) }

// commandFor is selfCommand for a program path arg0; inCheckout says
// whether ./cmd/agenttrail exists, where go run would have been run.
func commandFor(arg0 string, inCheckout bool) string {
	p := filepath.ToSlash(arg0)
	// go run builds into a temporary go-build directory (.../exe/NAME)
	// or, since Go 1.24, caches the binary in the build cache
	// (.../go-build/xx/HASH-d/NAME).
	if strings.Contains(p, "/go-build") && (strings.Contains(p, "/exe/") || strings.Contains(p, "-d/")) {
		if inCheckout {
			return "go run ./cmd/agenttrail"
		}
		return "go run github.com/agenttrail/agenttrail/cmd/agenttrail@latest"
	}
	if arg0 == "" {
		return "agenttrail"
	}
	return shellQuote(arg0)
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
