package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/commitment"
	_ "github.com/agenttrail/agenttrail/store/postgres" // postgres:// and postgresql:// URLs
)

// storeLocation is where a command finds the store: a Badger data
// directory (--data DIR, the short form of --store badger:///DIR) or any
// driver's storage URL (--store URL); the checkpoint signing key, which
// never lives in the data directory; and the checkpoint record kept beside
// it.
type storeLocation struct {
	data       string
	url        string
	signingKey string // a file, or the key itself (AGENTTRAIL_SIGNING_KEY)
	record     string
	masterKey  string // --master-key-file
}

// signingKeyFile is the default name of the signing key file of the
// default data directory, ./agenttrail-data; see defaultKeyFile.
const signingKeyFile = "agenttrail-signing.key"

// defaultKeyFile is where the signing key of a data directory is kept by
// default: beside it, in its parent directory, named after it without a
// "-data" suffix: ./agenttrail-data has ./agenttrail-signing.key,
// /srv/audit has /srv/audit-signing.key.
func defaultKeyFile(dir string) string {
	dir = filepath.Clean(dir)
	name := strings.TrimSuffix(filepath.Base(dir), "-data")
	if name == "" || name == "." || name == string(filepath.Separator) {
		name = "agenttrail"
	}
	return filepath.Join(filepath.Dir(dir), name+"-signing.key")
}

// legacyKeyFile is where builds before the trust work kept the signing key:
// inside the data directory, where whoever holds the data could re-sign it.
const legacyKeyFile = "checkpoint-signing.key"

// addFlags adds --data (with a default and usage of the command's own),
// --store and, when withKey is set, --signing-key and --checkpoint-record.
func (l *storeLocation) addFlags(fs *flag.FlagSet, dataDefault, dataUsage string, withKey bool) {
	fs.StringVar(&l.data, "data", dataDefault, dataUsage)
	fs.StringVar(&l.url, "store", "", "storage `URL` instead of --data, such as badger:///var/lib/agenttrail or postgres://host/db (drivers: "+strings.Join(store.Drivers(), ", ")+")")
	if withKey {
		fs.StringVar(&l.signingKey, "signing-key", "", "checkpoint signing key `file`, never inside the data directory (default: beside the --data\ndirectory, ./"+signingKeyFile+" for ./agenttrail-data, created on first start); AGENTTRAIL_SIGNING_KEY may hold the key itself")
		fs.StringVar(&l.record, "checkpoint-record", "", "`file` recording the newest checkpoint signed and cosigned, outside the data directory\n(default: beside the signing key); the server refuses a store behind it")
	}
	fs.StringVar(&l.masterKey, "master-key-file", "", "master key `file` of encryption at rest, never inside the data directory (default: beside the\n--data directory, ./agenttrail-master.key for ./agenttrail-data, created with a new store);\n"+store.MasterKeyEnv+" may hold the key itself")
}

// defaultMasterKeyFile is where the master key of a data directory is kept
// by default: beside it, named like its signing key (defaultKeyFile):
// ./agenttrail-data has ./agenttrail-master.key.
func defaultMasterKeyFile(dir string) string {
	return strings.TrimSuffix(defaultKeyFile(dir), "-signing.key") + "-master.key"
}

// masterKeyFile returns the master key file: --master-key-file, or the one
// beside the data directory.
func (l storeLocation) masterKeyFile() (string, error) {
	if l.masterKey != "" {
		return l.masterKey, nil
	}
	_, dir, err := l.storeURL()
	if err != nil {
		return "", err
	}
	if dir == "" {
		return "", usageError{"--master-key-file: a store given by --store needs its master key file (or the key itself in " + store.MasterKeyEnv + ")"}
	}
	return defaultMasterKeyFile(dir), nil
}

// masterKeyOptions returns the store options that give the master key:
// the key itself in the environment, or its file.
func (l storeLocation) masterKeyOptions() ([]store.Option, error) {
	if v, ok := os.LookupEnv(store.MasterKeyEnv); ok && l.masterKey == "" {
		k, err := store.ParseMasterKey(v)
		if err != nil {
			return nil, usageError{store.MasterKeyEnv + ": not a master key (want agenttrail-master-key-v1: and 32 bytes in base64)"}
		}
		return []store.Option{store.WithMasterKey(k)}, nil
	}
	f, err := l.masterKeyFile()
	if err != nil {
		return nil, err
	}
	if _, dir, _ := l.storeURL(); dir != "" && inside(dir, f) {
		return nil, usageError{fmt.Sprintf("--master-key-file %s is inside the data directory %s: a key kept with the data protects nothing; keep it elsewhere", f, dir)}
	}
	return []store.Option{store.WithMasterKeyFile(f)}, nil
}

// verifyMasterKey returns the verification option that gives the master
// key, when one is given or its default file exists.
func (l storeLocation) verifyMasterKey() []store.VerifyOption {
	if v, ok := os.LookupEnv(store.MasterKeyEnv); ok && l.masterKey == "" {
		if k, err := store.ParseMasterKey(v); err == nil {
			return []store.VerifyOption{store.VerifyWithMasterKey(k)}
		}
	}
	if f, err := l.masterKeyFile(); err == nil {
		return []store.VerifyOption{store.VerifyWithMasterKeyFile(f)}
	}
	return nil
}

// keyGiven reports whether --signing-key holds the key itself rather than
// the name of its file.
func (l storeLocation) keyGiven() bool { return strings.HasPrefix(l.signingKey, "PRIVATE+KEY+") }

// given reports whether --data or --store names a store.
func (l storeLocation) given() bool { return l.data != "" || l.url != "" }

// storeURL returns the storage URL, and the data directory when there is
// one.
func (l storeLocation) storeURL() (string, string, error) {
	switch {
	case l.url != "" && l.data != "":
		return "", "", usageError{"--data and --store exclude each other: --data DIR is short for --store badger:///DIR"}
	case l.url != "":
		if strings.HasPrefix(l.url, badger.Scheme+":") {
			if dir, err := badgerDir(l.url); err == nil {
				return l.url, dir, nil
			}
		}
		return l.url, "", nil
	case l.data != "":
		return badger.URL(l.data), l.data, nil
	}
	return "", "", usageError{"give --data DIR or --store URL"}
}

// keyFile returns the signing key file: --signing-key, or the default
// beside the data directory.
func (l storeLocation) keyFile() (string, error) {
	if l.keyGiven() {
		return "", usageError{"--signing-key holds the key itself, not a file"}
	}
	if l.signingKey != "" {
		return l.signingKey, nil
	}
	_, dir, err := l.storeURL()
	if err != nil {
		return "", err
	}
	if dir == "" {
		return "", usageError{"--signing-key: a store given by --store needs its checkpoint signing key file"}
	}
	return defaultKeyFile(dir), nil
}

// recordFile returns the checkpoint record file: --checkpoint-record, or
// the default beside the signing key.
func (l storeLocation) recordFile() (string, error) {
	if l.record != "" {
		return l.record, nil
	}
	if !l.keyGiven() {
		f, err := l.keyFile()
		if err != nil {
			return "", err
		}
		if base, ok := strings.CutSuffix(f, "-signing.key"); ok {
			return base + "-checkpoints.json", nil
		}
		return strings.TrimSuffix(f, ".key") + ".checkpoints.json", nil
	}
	_, dir, err := l.storeURL()
	if err != nil {
		return "", err
	}
	if dir == "" {
		return "", usageError{"--checkpoint-record: with the signing key given in AGENTTRAIL_SIGNING_KEY and a store given by --store, name the checkpoint record file"}
	}
	return strings.TrimSuffix(defaultKeyFile(dir), "-signing.key") + "-checkpoints.json", nil
}

// options returns the store options that locate the signing key and the
// checkpoint record, after moving a key that an older build kept in the
// data directory out of it (saying so on errOut).
func (l storeLocation) options(errOut io.Writer) ([]store.Option, error) {
	record, err := l.recordFile()
	if err != nil {
		return nil, err
	}
	if _, dir, _ := l.storeURL(); dir != "" {
		if err := l.migrateKey(dir, errOut); err != nil {
			return nil, err
		}
		if inside(dir, record) {
			return nil, usageError{fmt.Sprintf("--checkpoint-record %s is inside the data directory %s: keep it outside, beside the signing key", record, dir)}
		}
	}
	opts := []store.Option{store.WithCheckpointRecord(record)}
	mk, err := l.masterKeyOptions()
	if err != nil {
		return nil, err
	}
	opts = append(opts, mk...)
	if l.keyGiven() {
		return append(opts, store.WithSigningKey(l.signingKey)), nil
	}
	f, err := l.keyFile()
	if err != nil {
		return nil, err
	}
	if _, dir, _ := l.storeURL(); dir != "" && inside(dir, f) {
		return nil, usageError{fmt.Sprintf("--signing-key %s is inside the data directory %s: whoever holds the data could re-sign a rewritten log; keep the key elsewhere", f, dir)}
	}
	if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) && l.signingKey == "" {
		fmt.Fprintf(errOut, "checkpoint signing key: %s (created there if the log is new; in production keep it apart from the data, with --signing-key or AGENTTRAIL_SIGNING_KEY)\n", f)
	}
	return append(opts, store.WithSigningKeyFile(f)), nil
}

// migrateKey moves the signing key an older build kept in the data
// directory to where this build keeps it.
func (l storeLocation) migrateKey(dir string, errOut io.Writer) error {
	old := filepath.Join(dir, legacyKeyFile)
	oldKey, err := os.ReadFile(old)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.keyGiven() {
		if strings.TrimSpace(string(oldKey)) != l.signingKey {
			return fmt.Errorf("the data directory holds a signing key (%s, from an older build) that differs from AGENTTRAIL_SIGNING_KEY; keep the one your readers' verifier key belongs to and move the other away", old)
		}
		fmt.Fprintf(errOut, "removing %s: the signing key is given in AGENTTRAIL_SIGNING_KEY and must not stay in the data directory\n", old)
		return os.Remove(old)
	}
	f, err := l.keyFile()
	if err != nil {
		return err
	}
	cur, err := os.ReadFile(f)
	switch {
	case err == nil && strings.TrimSpace(string(cur)) == strings.TrimSpace(string(oldKey)):
		fmt.Fprintf(errOut, "removing %s: the same key is at %s, and it must not stay in the data directory\n", old, f)
		return os.Remove(old)
	case err == nil:
		return fmt.Errorf("two signing keys: %s (in the data directory, from an older build) and %s differ; keep the one your readers' verifier key belongs to at %s and move the other away", old, f, f)
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if err := moveFile(old, f); err != nil {
		return fmt.Errorf("moving the signing key out of the data directory, from %s to %s: %w", old, f, err)
	}
	fmt.Fprintf(errOut, "moved the checkpoint signing key out of the data directory: %s -> %s\n"+
		"(an older build kept it there, where whoever holds the data could re-sign a rewritten log; in production keep it on another disk or in AGENTTRAIL_SIGNING_KEY)\n", old, f)
	return nil
}

// moveFile moves a file with mode 0600, across file systems too: the new
// file is written and synced before the old one is removed.
func moveFile(from, to string) error {
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Remove(from)
}

// inside reports whether path is dir or lies within it.
func inside(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// localVerifierKey reads the verifier key from the signing key file of a
// store, for offline verification without --verifier-key: the default file
// beside the data directory, or one an older build left inside it.
func (l storeLocation) localVerifierKey() (string, error) {
	f, err := l.keyFile()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(f)
	if _, dir, _ := l.storeURL(); errors.Is(err, os.ErrNotExist) && dir != "" && l.signingKey == "" {
		f = filepath.Join(dir, legacyKeyFile)
		b, err = os.ReadFile(f)
	}
	if errors.Is(err, os.ErrNotExist) {
		return "", usageError{fmt.Sprintf("no signing key at %s to take the verifier key from: pass the log's key with --verifier-key", f)}
	}
	if err != nil {
		return "", err
	}
	_, vk, err := commitment.ParseSignerKey(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("%s: %v", f, err)
	}
	return vk.String(), nil
}

// badgerDir returns the data directory of a badger URL.
func badgerDir(u string) (string, error) { return badger.DirOf(u) }

// redactURL drops a URL's password, for output and logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
