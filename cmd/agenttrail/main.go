// Command agenttrail runs the agenttrail audit trail service and works with
// it: serve runs the server; append, query, tail, get, checkpoint, prove,
// verify and export talk to a running server (or, for verify --data, read a
// stopped server's data directly); bench measures it.
//
// Every flag can also come from the environment (AGENTTRAIL_ and the flag
// name in capitals with dashes as underscores, such as AGENTTRAIL_LISTEN) or
// from a JSON config file given with --config (an object of flag names to
// values). A flag on the command line wins over the environment, which wins
// over the config file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// setup declares the command's flags and returns the function that
	// runs it once they are parsed.
	setup func(fs *flag.FlagSet, out, errOut io.Writer) func(ctx context.Context, args []string) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first SIGINT or SIGTERM asks the command to stop (serve drains
	// and closes); a second one stops the process at once.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one command line and returns the exit status.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
	switch {
	case len(args) == 0:
		usage(errOut)
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
		usage(out)
		return 0
	case args[0] == "--version" || args[0] == "-version":
		fmt.Fprintln(out, readBuildInfo())
		return 0
	}
	cmd := lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(errOut, "agenttrail: unknown command %q\n\n", args[0])
		usage(errOut)
		return 2
	}
	fs, configFile := newFlagSet(cmd, errOut)
	runCmd := cmd.setup(fs, out, errOut)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := applyDefaults(fs, *configFile, os.LookupEnv); err != nil {
		fmt.Fprintf(errOut, "agenttrail %s: %v\n", cmd.name, err)
		return 2
	}
	if err := runCmd(ctx, fs.Args()); err != nil {
		fmt.Fprintf(errOut, "agenttrail %s: %v\n", cmd.name, err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

// lookup returns the command of a name, or nil.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// newFlagSet returns the flag set of a command, with the --config flag
// every command has and a usage message for commands that set none.
func newFlagSet(cmd *command, w io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("agenttrail "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(w)
	configFile := fs.String("config", "", "JSON file of flag values (an object of flag names to values)")
	setUsage(fs, "agenttrail "+cmd.name+" [flags]", cmd.summary+".")
	return fs, configFile
}

func init() {
	register(command{name: "help", summary: "print the help of agenttrail or of one command", setup: helpCommand})
}

func helpCommand(fs *flag.FlagSet, out, _ io.Writer) func(context.Context, []string) error {
	setUsage(fs, "agenttrail help [COMMAND]", `
Print what agenttrail's commands are, or what one command does and its
flags (the same as "agenttrail COMMAND -h").`)
	return func(_ context.Context, args []string) error {
		switch len(args) {
		case 0:
			usage(out)
			return nil
		case 1:
			cmd := lookup(args[0])
			if cmd == nil {
				return usageError{fmt.Sprintf("unknown command %q: run 'agenttrail help' for the list", args[0])}
			}
			fs, _ := newFlagSet(cmd, out)
			cmd.setup(fs, io.Discard, io.Discard)
			fs.Usage()
			return nil
		}
		return usageError{"name at most one command"}
	}
}

// exitError ends a command with a given exit status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprintln(w, "agenttrail: a tamper-evident audit trail for AI agents")
	fmt.Fprintln(w, "\nusage: agenttrail <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'agenttrail help <command>' (or 'agenttrail <command> -h') for a command's flags.")
	fmt.Fprintln(w, "Every flag can also be set with AGENTTRAIL_<FLAG> in the environment or in a")
	fmt.Fprintln(w, "--config JSON file. 'agenttrail --version' prints the version; 'agenttrail")
	fmt.Fprintln(w, "completion bash|zsh|fish' prints a shell completion script.")
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "AGENTTRAIL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyDefaults sets every flag not given on the command line from the
// environment, or else from the config file.
func applyDefaults(fs *flag.FlagSet, configFile string, lookup func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var config map[string]any
	if configFile == "" {
		if v, ok := lookup(envName("config")); ok {
			configFile = v
		}
	}
	if configFile != "" {
		b, err := os.ReadFile(configFile)
		if err != nil {
			return fmt.Errorf("reading config: %w", err)
		}
		if err := json.Unmarshal(b, &config); err != nil {
			return fmt.Errorf("config %s is not a JSON object of flag values: %w", configFile, err)
		}
		for k := range config {
			if fs.Lookup(k) == nil {
				return fmt.Errorf("config %s sets %q, which is not a flag of this command", configFile, k)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil || f.Name == "config" {
			return
		}
		if v, ok := lookup(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
			return
		}
		if v, ok := config[f.Name]; ok {
			s := fmt.Sprint(v)
			if num, ok := v.(float64); ok && num == float64(int64(num)) {
				s = fmt.Sprint(int64(num))
			}
			if e := fs.Set(f.Name, s); e != nil {
				err = fmt.Errorf("config %q=%v: %v", f.Name, v, e)
			}
		}
	})
	return err
}
