package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"

	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/agenttrail/agenttrail/server/witness"
)

func init() {
	register(command{name: "witness", summary: "run a witness that cosigns the checkpoints of logs it follows (C2SP tlog-witness)", setup: witnessCommand})
}

func witnessCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	data := fs.String("data", "./agenttrail-witness", "state `directory`: what the witness cosigned, per log, and the conflicting checkpoints it kept")
	keyFile := fs.String("key", "", "the witness's signing key `file` (default: the --data directory's name with .key, beside it; created on first start)")
	name := fs.String("name", "", "the witness's `name`, a schemeless URL, for a new key (default: witness.local/<random>)")
	listen := fs.String("listen", "127.0.0.1:7720", "address to listen on (host:port; port 0 picks a free one)")
	var logs listFlag
	fs.Var(&logs, "log", "a log to follow, `ORIGIN=VERIFIER_KEY` (repeatable): the origin of its checkpoints and\nthe key they verify with, as agenttrail serve prints it")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json (to stderr)")
	setUsage(fs, "agenttrail witness --log ORIGIN=VERIFIER_KEY ... [flags]", `
Run a witness (C2SP tlog-witness): it cosigns the checkpoints of the logs it
follows (cosignature/v1, Ed25519), checking each log's signature and the
consistency proof from the last checkpoint it cosigned. It never cosigns a
smaller tree or a fork: it answers 409 with its size, 422 for a proof that
does not verify, 403 for a signature that does not, and keeps the
conflicting checkpoints the log signed as evidence. Its state is written
once per checkpoint and synced before it answers.

  POST /add-checkpoint        the witness protocol
  GET  /checkpoint?origin=O   the newest checkpoint it cosigned of a log
  GET  /evidence?origin=O     the conflicting checkpoints it kept

Give its key to the server (serve --witness NAME=URL+KEY) and to readers
(verify --witness-key KEY).`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if len(logs) == 0 {
			return usageError{"give at least one --log ORIGIN=VERIFIER_KEY"}
		}
		log, err := newLogger(errOut, *logLevel, *logFormat)
		if err != nil {
			return usageError{err.Error()}
		}
		var cfgs []witness.LogConfig
		for _, l := range logs {
			c, err := witness.ParseLogConfig(l)
			if err != nil {
				return usageError{fmt.Sprintf("--log: %v", err)}
			}
			cfgs = append(cfgs, c)
		}
		kf := *keyFile
		if kf == "" {
			kf = filepath.Clean(*data) + ".key"
		}
		if inside(*data, kf) {
			return usageError{fmt.Sprintf("--key %s is inside the --data directory: keep it apart", kf)}
		}
		skey, created, err := witnessKey(kf, *name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*data, 0o700); err != nil {
			return err
		}
		w, err := witness.New(*data, skey, cfgs, log)
		if err != nil {
			return err
		}
		lis, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", *listen, err)
		}
		if created {
			fmt.Fprintf(out, "created the witness key %s (mode 0600)\n", kf)
		}
		fmt.Fprintf(out, "agenttrail witness listening on http://%s\nwitness key: %s\n", lis.Addr(), w.Key())
		for _, c := range cfgs {
			size, _ := w.Cosigned(c.Origin)
			fmt.Fprintf(out, "following %s (cosigned up to %d events)\n", c.Origin, size)
		}
		srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(lis) }()
		select {
		case err = <-served:
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = srv.Shutdown(sctx)
			cancel()
			<-served
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		log.Info("witness stopped")
		return err
	}
}

// witnessKey reads the witness's signing key, or creates it.
func witnessKey(path, name string) (string, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", false, fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		skey := strings.TrimSpace(string(b))
		if s, err := note.NewSigner(skey); err != nil {
			return "", false, fmt.Errorf("%s is not a note signer key", path)
		} else if name != "" && s.Name() != name {
			return "", false, usageError{fmt.Sprintf("--name %s: the key in %s is named %s", name, path, s.Name())}
		}
		return skey, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	if name == "" {
		var r [6]byte
		rand.Read(r[:])
		name = fmt.Sprintf("witness.local/%x", r)
	}
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", false, fmt.Errorf("--name %q: %v", name, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, err
	}
	return skey, true, f.Close()
}
