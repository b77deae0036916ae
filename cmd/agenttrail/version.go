package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func init() {
	register(command{name: "version", summary: "print the version, commit and Go version of this binary", setup: versionCommand})
}

// buildInfo is what a binary knows of its own build, from the module and
// version control information the Go toolchain stamps into it.
type buildInfo struct {
	// Version is the module version: v1.2.3 for a binary made by
	// `go install ...@v1.2.3`, "(devel)" for one built from a checkout.
	Version string `json:"version"`
	// Commit is the VCS revision built, and CommitTime its time, when the
	// toolchain stamped them (go build in a checkout; not go run).
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	// Modified says whether the checkout had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Go is the Go version that built the binary, and Platform its GOOS/GOARCH.
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readBuildInfo reads the binary's build information.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: "unknown", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the version line: "agenttrail v1.2.3 (commit 0123abcd..., 2026-11-30T12:00:00Z) go1.26.8 linux/amd64".
func (b buildInfo) String() string {
	s := "agenttrail " + b.Version
	if b.Commit != "" {
		s += " (commit " + b.Commit
		if b.Modified {
			s += " with uncommitted changes"
		}
		if b.CommitTime != "" {
			s += ", " + b.CommitTime
		}
		s += ")"
	}
	return s + " " + b.Go + " " + b.Platform
}

func versionCommand(fs *flag.FlagSet, out, _ io.Writer) func(context.Context, []string) error {
	output := addOutputFlag(fs, "text", "text", "json")
	setUsage(fs, "agenttrail version [--output text|json]", `
Print the version of this binary: the module version (v1.2.3 for a binary
installed with go install ...@v1.2.3, "(devel)" for one built from a
checkout), the commit it was built from and whether the checkout had
uncommitted changes (when the Go toolchain recorded them: go build and go
install do, go run does not), and the Go version and platform that built it.
"agenttrail --version" prints the same line.`)
	return func(_ context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		b := readBuildInfo()
		if output.v == "json" {
			return json.NewEncoder(out).Encode(b)
		}
		_, err := fmt.Fprintln(out, b)
		return err
	}
}
