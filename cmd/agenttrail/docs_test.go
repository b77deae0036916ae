package main

import (
	"bufio"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

// TestDocsCommandsAreReal parses every agenttrail command line in the sh
// blocks of docs/cli.md with the real command's flags, so that the
// documentation cannot name a command or flag that does not exist.
func TestDocsCommandsAreReal(t *testing.T) {
	f, err := os.Open("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented := map[string]bool{}
	inSh, n := false, 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		switch {
		case strings.HasPrefix(text, "```sh"):
			inSh = true
			continue
		case strings.HasPrefix(text, "```"):
			inSh = false
			continue
		case !inSh:
			continue
		}
		// A command line starts with agenttrail, or pipes into it.
		cmdline, ok := strings.CutPrefix(text, "agenttrail ")
		if !ok {
			_, cmdline, ok = strings.Cut(text, "| agenttrail ")
		}
		if !ok {
			continue
		}
		cmdline, _, _ = strings.Cut(cmdline, " > ")
		args := shellWords(cmdline)
		if args[0] == "-h" {
			continue
		}
		var cmd *command
		for i := range commands {
			if commands[i].name == args[0] {
				cmd = &commands[i]
			}
		}
		if cmd == nil {
			t.Errorf("docs/cli.md:%d: no command %q", line, args[0])
			continue
		}
		documented[cmd.name] = true
		fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("config", "", "")
		cmd.setup(fs, io.Discard, io.Discard)
		if err := fs.Parse(args[1:]); err != nil {
			t.Errorf("docs/cli.md:%d: agenttrail %s: %v", line, cmdline, err)
		}
		n++
	}
	if n < 20 {
		t.Errorf("found only %d command lines in docs/cli.md", n)
	}
	for _, c := range commands {
		if !documented[c.name] {
			t.Errorf("docs/cli.md has no example of agenttrail %s", c.name)
		}
	}
}

// shellWords splits a command line at spaces outside double quotes, and
// drops the quotes.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	quoted, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				words = append(words, w.String())
			}
			w.Reset()
			any = false
		default:
			w.WriteRune(r)
			any = true
		}
	}
	if any {
		words = append(words, w.String())
	}
	return words
}
