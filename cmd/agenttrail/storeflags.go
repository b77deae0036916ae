package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/badger"
	"github.com/agenttrail/agenttrail/store/commitment"
)

// storeLocation is where a command finds the store: a Badger data
// directory (--data DIR, the short form of --store badger:///DIR) or any
// driver's storage URL (--store URL), and the checkpoint signing key.
type storeLocation struct {
	data       string
	url        string
	signingKey string
	masterKey  string
}

// signingKeyFile is the name of the signing key kept in a data directory.
const signingKeyFile = "checkpoint-signing.key"

// addFlags adds --data (with a default and usage of the command's own),
// --store and, when withKey is set, --signing-key.
func (l *storeLocation) addFlags(fs *flag.FlagSet, dataDefault, dataUsage string, withKey bool) {
	fs.StringVar(&l.data, "data", dataDefault, dataUsage)
	fs.StringVar(&l.url, "store", "", "storage `URL` instead of --data, such as badger:///var/lib/agenttrail (drivers: "+strings.Join(store.Drivers(), ", ")+")")
	if withKey {
		fs.StringVar(&l.signingKey, "signing-key", "", "checkpoint signing key `file` (default: "+signingKeyFile+" in the --data directory)")
	}
	fs.StringVar(&l.masterKey, "master-key-file", "", "master key `file` that encryption at rest derives every key from (default: the --data\ndirectory's path with "+masterKeySuffix+" appended, beside it, never inside it; or the key\nitself in "+store.MasterKeyEnv+")")
}

// masterKeySuffix names the default master key file after its data
// directory: ./agenttrail-data has ./agenttrail-data.master-key.
const masterKeySuffix = ".master-key"

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
		return "", usageError{"--master-key-file: a store given by --store needs its master key file (or the key in " + store.MasterKeyEnv + ")"}
	}
	return filepath.Clean(dir) + masterKeySuffix, nil
}

// masterKeyOptions returns the store options that give the master key:
// the key in the environment, or its file.
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
	return []store.Option{store.WithMasterKeyFile(f)}, nil
}

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

// keyFile returns the signing key file: --signing-key, or the one in the
// data directory.
func (l storeLocation) keyFile() (string, error) {
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
	return filepath.Join(dir, signingKeyFile), nil
}

// options returns the store options that locate the signing key and the
// master key.
func (l storeLocation) options() ([]store.Option, error) {
	f, err := l.keyFile()
	if err != nil {
		return nil, err
	}
	mk, err := l.masterKeyOptions()
	if err != nil {
		return nil, err
	}
	return append([]store.Option{store.WithSigningKeyFile(f)}, mk...), nil
}

// localVerifierKey reads the verifier key from the signing key file of a
// store, for offline verification without --verifier-key.
func (l storeLocation) localVerifierKey() (string, error) {
	f, err := l.keyFile()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(f)
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
