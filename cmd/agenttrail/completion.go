package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

func init() {
	register(command{name: "completion", summary: "print a shell completion script: bash, zsh or fish", setup: completionCommand})
}

// completionShells are the shells completion writes scripts for.
var completionShells = []string{"bash", "zsh", "fish"}

func completionCommand(fs *flag.FlagSet, out, _ io.Writer) func(context.Context, []string) error {
	setUsage(fs, "agenttrail completion bash|zsh|fish", `
Print a script that completes agenttrail's commands, their flags, and the
values of flags that take one of a few (--output, --kind, --role, ...).
Load it in the shell's start-up file:

  bash:  source <(agenttrail completion bash)          (in ~/.bashrc)
  zsh:   source <(agenttrail completion zsh)           (in ~/.zshrc, after compinit)
  fish:  agenttrail completion fish > ~/.config/fish/completions/agenttrail.fish

The script is made from this binary's commands and flags: print it again
after an upgrade.`)
	return func(_ context.Context, args []string) error {
		if len(args) != 1 {
			return usageError{"name one shell: bash, zsh or fish"}
		}
		specs := completionSpecs()
		switch args[0] {
		case "bash":
			return writeBash(out, specs)
		case "zsh":
			return writeZsh(out, specs)
		case "fish":
			return writeFish(out, specs)
		}
		return usageError{fmt.Sprintf("unknown shell %q: want bash, zsh or fish", args[0])}
	}
}

// cmdSpec is what completion knows of a command.
type cmdSpec struct {
	name, summary string
	flags         []flagSpec
	args          []string // the values its arguments take, when a fixed set (help, completion)
	files         bool     // its arguments are files
}

// flagSpec is what completion knows of a flag.
type flagSpec struct {
	name, usage string
	boolean     bool
	choices     []string // the values it takes, when a fixed set
}

// choicer is a flag value that takes one of a fixed set of values.
type choicer interface{ choices() []string }

// completionSpecs describes every command, from its real flags.
func completionSpecs() []cmdSpec {
	var specs []cmdSpec
	for _, c := range commands {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("config", "", "JSON file of flag values (an object of flag names to values)")
		c.setup(fs, io.Discard, io.Discard)
		s := cmdSpec{name: c.name, summary: c.summary}
		fs.VisitAll(func(f *flag.Flag) {
			_, usage := flag.UnquoteUsage(f)
			fl := flagSpec{name: f.Name, usage: firstLine(usage)}
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				fl.boolean = true
			}
			if ch, ok := f.Value.(choicer); ok {
				fl.choices = ch.choices()
			}
			s.flags = append(s.flags, fl)
		})
		switch c.name {
		case "help":
			for _, o := range commands {
				s.args = append(s.args, o.name)
			}
		case "completion":
			s.args = completionShells
		case "keys":
			s.args = []string{"create", "list", "revoke"}
		case "append":
			s.files = true
		}
		specs = append(specs, s)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].name < specs[j].name })
	return specs
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// names lists the commands' names.
func names(specs []cmdSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.name)
	}
	return out
}

func writeBash(w io.Writer, specs []cmdSpec) error {
	var b strings.Builder
	b.WriteString(`# bash completion for agenttrail; load it with: source <(agenttrail completion bash)
_agenttrail() {
  local cur prev cmd
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "` + strings.Join(names(specs), " ") + ` --version --help" -- "$cur"))
    return
  fi
  cmd="${COMP_WORDS[1]}"
  local flags="" args="" files=""
  case "$cmd" in
`)
	for _, s := range specs {
		var fl []string
		for _, f := range s.flags {
			fl = append(fl, "--"+f.name)
		}
		fmt.Fprintf(&b, "    %s) flags=%q; args=%q", s.name, strings.Join(fl, " "), strings.Join(s.args, " "))
		if s.files {
			b.WriteString("; files=1")
		}
		b.WriteString(" ;;\n")
	}
	b.WriteString(`  esac
  case "$prev" in
`)
	// Values of flags with a fixed set, per command and flag.
	for _, s := range specs {
		for _, f := range s.flags {
			if len(f.choices) > 0 {
				fmt.Fprintf(&b, "    --%s) if [ \"$cmd\" = %s ]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi ;;&\n", f.name, s.name, strings.Join(f.choices, " "))
			}
		}
	}
	b.WriteString(`  esac
  case "$prev" in
`)
	// A flag that takes a value: complete it as a file name.
	valued := map[string]bool{}
	for _, s := range specs {
		for _, f := range s.flags {
			if !f.boolean && len(f.choices) == 0 {
				valued["--"+f.name] = true
			}
		}
	}
	var vs []string
	for v := range valued {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(vs, "|"))
	b.WriteString(`  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [ -n "$args" ]; then
    COMPREPLY=($(compgen -W "$args" -- "$cur"))
  elif [ -n "$files" ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o default -F _agenttrail agenttrail
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// zshQuote escapes a description for _arguments and _describe.
func zshQuote(s string) string {
	r := strings.NewReplacer("'", "'\\''", "[", "(", "]", ")", ":", " -", "\\", "\\\\")
	return r.Replace(s)
}

func writeZsh(w io.Writer, specs []cmdSpec) error {
	var b strings.Builder
	b.WriteString(`#compdef agenttrail
# zsh completion for agenttrail; load it with: source <(agenttrail completion zsh)
_agenttrail() {
  local -a commands
  commands=(
`)
	for _, s := range specs {
		fmt.Fprintf(&b, "    '%s:%s'\n", s.name, zshQuote(s.summary))
	}
	b.WriteString(`  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'agenttrail command' commands
    return
  fi
  case $words[2] in
`)
	for _, s := range specs {
		fmt.Fprintf(&b, "    %s)\n      _arguments -s \\\n", s.name)
		for _, f := range s.flags {
			switch {
			case f.boolean:
				fmt.Fprintf(&b, "        '--%s[%s]' \\\n", f.name, zshQuote(f.usage))
			case len(f.choices) > 0:
				fmt.Fprintf(&b, "        '--%s=[%s]:%s:(%s)' \\\n", f.name, zshQuote(f.usage), f.name, strings.Join(f.choices, " "))
			default:
				fmt.Fprintf(&b, "        '--%s=[%s]:%s:_files' \\\n", f.name, zshQuote(f.usage), f.name)
			}
		}
		switch {
		case len(s.args) > 0:
			fmt.Fprintf(&b, "        '*:argument:(%s)'\n", strings.Join(s.args, " "))
		case s.files:
			b.WriteString("        '*:file:_files'\n")
		default:
			b.WriteString("        && return 0\n")
		}
		b.WriteString("      ;;\n")
	}
	b.WriteString(`  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _agenttrail "$@"
else
  compdef _agenttrail agenttrail
fi
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// fishQuote quotes a string for fish.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

func writeFish(w io.Writer, specs []cmdSpec) error {
	var b strings.Builder
	b.WriteString("# fish completion for agenttrail; install it with:\n#   agenttrail completion fish > ~/.config/fish/completions/agenttrail.fish\n")
	b.WriteString("complete -c agenttrail -f\n")
	b.WriteString("complete -c agenttrail -n __fish_use_subcommand -l version -d 'print the version'\n")
	for _, s := range specs {
		fmt.Fprintf(&b, "complete -c agenttrail -n __fish_use_subcommand -a %s -d %s\n", s.name, fishQuote(s.summary))
	}
	for _, s := range specs {
		cond := fishQuote("__fish_seen_subcommand_from " + s.name)
		for _, f := range s.flags {
			line := fmt.Sprintf("complete -c agenttrail -n %s -l %s -d %s", cond, f.name, fishQuote(f.usage))
			switch {
			case f.boolean:
			case len(f.choices) > 0:
				line += " -x -a " + fishQuote(strings.Join(f.choices, " "))
			default:
				line += " -r -F"
			}
			b.WriteString(line + "\n")
		}
		switch {
		case len(s.args) > 0:
			fmt.Fprintf(&b, "complete -c agenttrail -n %s -a %s\n", cond, fishQuote(strings.Join(s.args, " ")))
		case s.files:
			fmt.Fprintf(&b, "complete -c agenttrail -n %s -F\n", cond)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
