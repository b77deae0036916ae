package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protodelim"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/commitment"
)

func init() {
	register(command{name: "backup", summary: "write a verifiable backup of the log, full or after an earlier one", setup: backupCommand})
	register(command{name: "restore", summary: "verify backups, then restore them into a new data directory", setup: restoreCommand})
}

func backupCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	verifierKey := addVerifierKeyFlag(fs)
	var loc storeLocation
	loc.addFlags(fs, "", "offline: back up the data directory `dir` of a stopped server", false)
	outFile := fs.String("out", "", "the backup `file` to write (it must not exist)")
	since := fs.String("since", "", "an earlier backup `file`: write only what the log holds after it (an incremental backup)")
	setUsage(fs, "agenttrail backup --out FILE [--since EARLIER] [--addr ADDR --key KEY | --data DIR] [flags]", `
Write a backup of the log at its latest signed checkpoint: every event as
stored (leaf data and content record), every signed checkpoint, and the API
key credentials (never keys, only their hashes), in a format that verifies
without any server and restores into any store (agenttrail restore).

Online (the default), from a running server, with a compliance key: the
backup is consistent at the checkpoint while appends go on, and the read is
recorded in the trail. Offline, with --data DIR or --store URL, from a
stopped server's storage, opened read-only.

With --since, only the events after the earlier backup's checkpoint are
written (with what verifies them on their own): restore takes the full
backup and then each incremental one in order. The file is written under a
temporary name and renamed when complete, then verified.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if *outFile == "" {
			return usageError{"--out FILE is required"}
		}
		if _, err := os.Stat(*outFile); err == nil {
			return usageError{fmt.Sprintf("--out %s exists: give a new file name (a backup is never overwritten)", *outFile)}
		}
		var base []byte
		if *since != "" {
			h, err := readBackupHeader(*since)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			base = h.GetCheckpoint()
		}
		var sum store.BackupSummary
		err := writeFileAtomically(*outFile, func(w io.Writer) error {
			var err error
			if loc.given() {
				sum, err = backupOffline(ctx, loc, *verifierKey, base, w, errOut)
			} else {
				sum, err = backupOnline(ctx, conn, base, w)
			}
			return err
		})
		if err != nil {
			return err
		}
		key := *verifierKey
		if key == "" {
			h, err := readBackupHeader(*outFile)
			if err != nil {
				return err
			}
			key = h.GetVerifierKey()
			warnTOFU(errOut, key)
		}
		rep, err := store.VerifyBackups(ctx, []store.BackupFile{store.BackupPath(*outFile)}, key)
		if err != nil {
			return fmt.Errorf("the backup written to %s does not verify: %w", *outFile, err)
		}
		what := "full backup"
		if sum.Base > 0 {
			what = fmt.Sprintf("incremental backup after %s", *since)
		}
		fi, _ := os.Stat(*outFile)
		fmt.Fprintf(out, "%s of the log %s written to %s (%d bytes) and verified: events [%d, %d), %s, %s\n",
			what, sum.Origin, *outFile, fi.Size(), sum.Base, sum.Checkpoint.Size, count(rep.Checkpoints, "signed checkpoint"), count(sum.Credentials, "API key"))
		fmt.Fprintf(out, "checkpoint: tree size %d, root %x\n", sum.Checkpoint.Size, sum.Checkpoint.Root)
		return nil
	}
}

// backupOnline streams a backup from a running server.
func backupOnline(ctx context.Context, conn *connFlags, base []byte, w io.Writer) (store.BackupSummary, error) {
	c, err := conn.dial()
	if err != nil {
		return store.BackupSummary{}, err
	}
	defer c.Close()
	stream, err := agenttrailv1.NewLogServiceClient(c.Conn()).Backup(ctx, &agenttrailv1.BackupRequest{BaseCheckpoint: base})
	if err != nil {
		return store.BackupSummary{}, err
	}
	bw, err := store.NewBackupWriter(w)
	if err != nil {
		return store.BackupSummary{}, err
	}
	var sum store.BackupSummary
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, err
		}
		for _, rec := range resp.GetRecords() {
			summarize(&sum, rec)
			if err := bw.Write(rec); err != nil {
				return sum, err
			}
		}
	}
	return sum, bw.Flush()
}

// summarize notes a record in the summary of a backup being received.
func summarize(sum *store.BackupSummary, rec *agenttrailv1.BackupRecord) {
	switch r := rec.GetRecord().(type) {
	case *agenttrailv1.BackupRecord_Header:
		sum.Origin = r.Header.GetOrigin()
		if cp, err := parseCheckpointNote(r.Header.GetCheckpoint()); err == nil {
			sum.Checkpoint = cp
		}
		if b, err := parseCheckpointNote(r.Header.GetBaseCheckpoint()); err == nil {
			sum.Base = b.Size
		}
	case *agenttrailv1.BackupRecord_Event:
		sum.Events++
	case *agenttrailv1.BackupRecord_Checkpoint:
		sum.Checkpoints++
	case *agenttrailv1.BackupRecord_Credential:
		sum.Credentials++
	}
}

// parseCheckpointNote reads the size and root of a checkpoint note without
// verifying it (the backup is verified as a whole once written).
func parseCheckpointNote(note []byte) (store.Checkpoint, error) {
	if len(note) == 0 {
		return store.Checkpoint{}, errors.New("no checkpoint")
	}
	i := bytes.Index(note, []byte("\n\n"))
	if i < 0 {
		return store.Checkpoint{}, errors.New("not a signed note")
	}
	th, err := commitment.ParseCheckpointBody(string(note[:i+1]))
	if err != nil {
		return store.Checkpoint{}, err
	}
	return store.Checkpoint{Origin: th.Origin, Size: th.Size, Root: th.Root, Note: note}, nil
}

// backupOffline writes a backup of a stopped server's storage.
func backupOffline(ctx context.Context, loc storeLocation, key string, base []byte, w io.Writer, errOut io.Writer) (store.BackupSummary, error) {
	storeURL, dir, err := loc.storeURL()
	if err != nil {
		return store.BackupSummary{}, err
	}
	if dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return store.BackupSummary{}, usageError{fmt.Sprintf("--data %s: not a directory", dir)}
		}
	}
	if key == "" {
		if key, err = loc.localVerifierKey(); err != nil {
			return store.BackupSummary{}, err
		}
	}
	sum, err := store.BackupStorage(ctx, storeURL, key, base, w, loc.verifyMasterKey()...)
	if errors.Is(err, store.ErrInvalidArgument) && strings.Contains(err.Error(), "verifier key") {
		return sum, usageError{fmt.Sprintf("--verifier-key: %v", err)}
	}
	return sum, err
}

// readBackupHeader reads the header of a backup file.
func readBackupHeader(path string) (*agenttrailv1.BackupHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, len(store.BackupFormat)+1)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != store.BackupFormat+"\n" {
		return nil, fmt.Errorf("%s is not an agenttrail backup", path)
	}
	rec := &agenttrailv1.BackupRecord{}
	if err := protodelim.UnmarshalFrom(bufio.NewReader(f), rec); err != nil || rec.GetHeader() == nil {
		return nil, fmt.Errorf("%s: its header does not decode", path)
	}
	return rec.GetHeader(), nil
}

// writeFileAtomically writes a new file through a temporary one in the
// same directory, synced and renamed into place only when write succeeds.
func writeFileAtomically(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil { // fails if path exists
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// stringsFlag collects the values of a repeated flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

func restoreCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	var in stringsFlag
	fs.Var(&in, "in", "a backup `file`; repeat for a full backup followed by incremental ones, in the order taken")
	verifierKey := addVerifierKeyFlag(fs)
	var loc storeLocation
	loc.addFlags(fs, "", "the new data `directory` to restore into (it must not exist, or be empty)", false)
	withoutKeys := fs.Bool("without-keys", false, "leave the API key credentials out (create new keys afterwards)")
	setUsage(fs, "agenttrail restore --in FILE [--in FILE ...] --data DIR [flags]", `
Verify backups completely, then restore them into a new data directory (or
the empty storage of --store URL). Before a byte is written, every backup
must verify: its trailer's SHA-256, every checkpoint's signature (with
--verifier-key; without it, the key the backup states, with a warning),
every event's leaf and content digest, the recomputed tree against every
checkpoint, missing content only where a logged erasure names it, and each
incremental backup following the one before. A backup that does not verify
is refused with the file and the first log index that fails.

The log is written into a temporary directory beside --data and renamed
into place once it verifies from its own bytes. API keys are restored as the
log records them (a key whose creation the log does not record is left out
and listed); the checkpoint signing key is not in a backup: serve the
restored directory with the log's key. Backups of an encrypted store (the
default) carry its content encrypted and its keys wrapped by its master key:
restore them with that master key (--master-key-file, or
`+store.MasterKeyEnv+`), and serve the restored directory with it too.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if len(in) == 0 {
			return usageError{"--in FILE is required"}
		}
		storeURL, dir, err := loc.storeURL()
		if err != nil {
			return err
		}
		var files []store.BackupFile
		for _, f := range in {
			files = append(files, store.BackupPath(f))
		}
		key := *verifierKey
		if key == "" {
			h, err := readBackupHeader(in[0])
			if err != nil {
				return err
			}
			key = h.GetVerifierKey()
			warnTOFU(errOut, key)
		}
		mk, err := restoreMasterKey(loc)
		if err != nil {
			return err
		}
		opts := store.RestoreOptions{VerifierKey: key, WithoutKeys: *withoutKeys, MasterKey: mk}
		var rep store.BackupReport
		if dir != "" {
			rep, err = restoreIntoDir(ctx, dir, files, opts)
		} else {
			rep, err = store.Restore(ctx, storeURL, files, opts)
		}
		if errors.Is(err, store.ErrInvalidArgument) && strings.Contains(err.Error(), "verifier key") {
			return usageError{fmt.Sprintf("--verifier-key: %v", err)}
		}
		if errors.Is(err, store.ErrWrongKey) {
			return usageError{fmt.Sprintf("--master-key-file: %v (the master key of the store the backups were taken of)", err)}
		}
		if err != nil {
			return err
		}
		where := dir
		if where == "" {
			where = redactURL(storeURL)
		}
		fmt.Fprintf(out, "restored the log %s into %s from %s: %s, tree size %d, root %x, %s, %s\n",
			rep.Origin, where, count(rep.Files, "backup"), count(rep.Events, "event"), rep.Checkpoint.Size, rep.Checkpoint.Root,
			count(rep.Checkpoints, "signed checkpoint"), count(len(rep.Credentials), "API key"))
		for _, s := range rep.Skipped {
			fmt.Fprintf(errOut, "warning: not restored: %s\n", s)
		}
		if *withoutKeys {
			fmt.Fprintln(out, "no API keys were restored: create the first admin key with agenttrail keys create --data")
		}
		fmt.Fprintln(out, "serve it with the log's checkpoint signing key (--signing-key); if the checkpoint record of the store this")
		fmt.Fprintln(out, "replaces survives and is ahead of the backup, serve refuses until you move that record aside, accepting that")
		fmt.Fprintf(out, "the events after %d are gone (clients resend them with the same event ids)\n", rep.Checkpoint.Size)
		return nil
	}
}

// restoreMasterKey returns the master key a restore is given: in the
// environment, or in --master-key-file (or the file beside --data), or
// none.
func restoreMasterKey(loc storeLocation) (store.MasterKey, error) {
	if v, ok := os.LookupEnv(store.MasterKeyEnv); ok && loc.masterKey == "" {
		k, err := store.ParseMasterKey(v)
		if err != nil {
			return store.MasterKey{}, usageError{store.MasterKeyEnv + ": not a master key (want agenttrail-master-key-v1: and 32 bytes in base64)"}
		}
		return k, nil
	}
	f, err := loc.masterKeyFile()
	if err != nil {
		return store.MasterKey{}, nil
	}
	k, err := store.ReadMasterKeyFile(f)
	if errors.Is(err, store.ErrNotFound) {
		if loc.masterKey != "" {
			return store.MasterKey{}, usageError{fmt.Sprintf("--master-key-file %s: no such file", f)}
		}
		return store.MasterKey{}, nil
	}
	return k, err
}

// restoreIntoDir restores into a temporary directory beside dir and renames
// it into place once the restored log verifies.
func restoreIntoDir(ctx context.Context, dir string, files []store.BackupFile, o store.RestoreOptions) (store.BackupReport, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return store.BackupReport{}, usageError{fmt.Sprintf("--data %s is not empty: restore only into a new directory", dir)}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return store.BackupReport{}, err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return store.BackupReport{}, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".restoring-*")
	if err != nil {
		return store.BackupReport{}, err
	}
	rep, err := store.Restore(ctx, badger.URL(tmp), files, o)
	if err != nil {
		os.RemoveAll(tmp)
		return rep, err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(tmp)
		return rep, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return rep, err
	}
	return rep, nil
}
