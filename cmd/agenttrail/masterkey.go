package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event"
)

func init() {
	register(command{name: "migrate", summary: "copy a data directory of an older build into a new, encrypted one", setup: migrateCommand})
}

// rotateMaster replaces the master key of a stopped server's store: the new
// key is written to <file>.next first, the store is moved to it (subject
// keys rewrapped, the storage key re-encrypted), and only then does it
// replace the old file. Run again after a crash, it finishes with the same
// new key.
func rotateMaster(ctx context.Context, loc storeLocation, out io.Writer) error {
	if !loc.given() {
		return usageError{"rotate-master works offline: give --data DIR (or --store URL) of the stopped server"}
	}
	if _, ok := os.LookupEnv(store.MasterKeyEnv); ok && loc.masterKey == "" {
		return usageError{"the master key comes from " + store.MasterKeyEnv + ": rotation replaces a key file; put the key in a file (mode 0600) and give it with --master-key-file"}
	}
	storeURL, _, err := loc.storeURL()
	if err != nil {
		return err
	}
	file, err := loc.masterKeyFile()
	if err != nil {
		return err
	}
	old, err := store.ReadMasterKeyFile(file)
	if err != nil {
		return err
	}
	next := file + ".next"
	newKey, err := store.ReadMasterKeyFile(next)
	switch {
	case err == nil:
		fmt.Fprintf(out, "finishing the interrupted rotation to master key %s\n", newKey.ID())
	case errors.Is(err, store.ErrNotFound):
		if newKey, err = store.GenerateMasterKey(); err != nil {
			return err
		}
		if err := store.WriteMasterKeyFile(next, newKey); err != nil {
			return err
		}
	default:
		return err
	}
	n, err := store.RotateMasterKey(ctx, storeURL, old, newKey)
	if err != nil {
		if strings.Contains(err.Error(), "directory lock") {
			return fmt.Errorf("the data directory is in use: stop the server first")
		}
		return fmt.Errorf("rotating the master key (run the command again to finish; the new key waits in %s): %w", next, err)
	}
	if err := os.Rename(next, file); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		d.Sync()
		d.Close()
	}
	// The rotation is a KeyChange event of the trail.
	opts, err := loc.options(io.Discard)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, storeURL, opts...)
	if err != nil {
		return fmt.Errorf("the master key was rotated, but the store does not open with it: %w", err)
	}
	_, err = st.Append(ctx, store.ServerPrincipal, []*agenttrailv1.Event{{
		EventId: event.NewID(), AgentId: store.ServerPrincipal, OccurredAt: timestamppb.New(time.Now()),
		Payload: &agenttrailv1.Event_KeyChange{KeyChange: &agenttrailv1.KeyChange{
			Action: agenttrailv1.KeyChangeAction_KEY_CHANGE_ACTION_MASTER_KEY_ROTATED, KeyId: newKey.ID(), ChangedBy: localActor()}},
	}})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rotated the master key from %s to %s: %d subject keys rewrapped, no content rewritten.\n", old.ID(), newKey.ID(), n)
	fmt.Fprintf(out, "%s now holds the new key; back it up. Copies of the old key (backups) still open old copies of the data.\n", file)
	return nil
}

func migrateCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	var loc storeLocation
	loc.addFlags(fs, "", "the data `directory` written by an older build (read, never changed)", true)
	to := fs.String("to", "", "the new data `directory` (must not exist or be empty); its master key goes\nto --master-key-file, by default beside it, as serve would look for it")
	verifierKey := fs.String("verifier-key", "", "the log's checkpoint verifier `key` (default: from the old directory's signing key)")
	setUsage(fs, "agenttrail migrate --data OLD --to NEW [flags]", `
Copy a data directory written by a build before encryption at rest (which
this build refuses to open) into a new directory, encrypting its content
(a key per event, wrapped by its subject's key) and the directory itself.
The leaves, tree, checkpoints and API keys are copied byte for byte, so the
log and every proof of it stay the same; the copy is verified against the
old log's signed checkpoints. The old directory is left as it was: serve
from the new one, then destroy the old one.`)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if loc.data == "" || *to == "" {
			return usageError{"give --data (the old directory) and --to (the new one)"}
		}
		newLoc := storeLocation{data: *to, masterKey: loc.masterKey}
		mkOpts, err := newLoc.masterKeyOptions()
		if err != nil {
			return err
		}
		key := *verifierKey
		if key == "" {
			if key, err = loc.localVerifierKey(); err != nil {
				return err
			}
		}
		oldURL, _, _ := loc.storeURL()
		newURL, _, _ := newLoc.storeURL()
		rep, err := store.Migrate(ctx, oldURL, newURL, key, mkOpts...)
		if err != nil {
			return err
		}
		// The signing key goes with the log, beside the new directory,
		// unless it is given elsewhere.
		if loc.signingKey == "" {
			src, _ := loc.keyFile()
			if _, err := os.Stat(src); err != nil {
				src = filepath.Join(loc.data, legacyKeyFile)
			}
			dst := defaultKeyFile(*to)
			if b, err := os.ReadFile(src); err == nil {
				if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
					if err := os.WriteFile(dst, b, 0o600); err != nil {
						return err
					}
					fmt.Fprintf(out, "copied the checkpoint signing key to %s\n", dst)
				}
			}
		}
		fmt.Fprintf(out, "migrated %s: %s, %s and %s copied into %s, encrypted at rest, and verified\n",
			rep.Origin, count(rep.Events, "event"), count(rep.Checkpoints, "checkpoint"), count(rep.Credentials, "API key"), *to)
		if rep.MasterKeyCreated != "" {
			fmt.Fprintf(out, "created the master key %s: back it up, apart from the data directory\n", rep.MasterKeyCreated)
		}
		fmt.Fprintf(out, "serve from %s now; %s is unchanged and holds the content in the clear: destroy it\n", *to, loc.data)
		return nil
	}
}
