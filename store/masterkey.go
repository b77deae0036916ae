package store

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The key hierarchy of an encrypted store (format agenttrail-store-v2):
//
//	master key (32 bytes, kept outside the storage: a file or the environment)
//	├── storage key  = HKDF-SHA256(master, "agenttrail/v2 storage key")
//	│                  given to the driver, which encrypts everything it stores
//	│                  at rest with it (Badger: WithEncryptionKey)
//	├── wrapping key = HKDF-SHA256(master, "agenttrail/v2 subject key wrapping")
//	│   └── subject key (32 random bytes per data subject, per generation):
//	│       the event's user_id, or its session when it has none, or the log
//	│       itself for server records without a session; kept in the keyring,
//	│       AES-256-GCM-wrapped by the wrapping key
//	│       └── content key (32 random bytes per event): kept in the keyring,
//	│           AES-256-GCM-wrapped by the subject key; encrypts the event's
//	│           salt and content with AES-256-GCM (content record version 2)
//	└── key id       = HKDF-SHA256(master, "agenttrail/v2 master key id")[:8]
//
// Erasing destroys keyring records: a subject key (every event of the subject
// at once) or content keys (single events). Rotating the master key rewraps
// the subject keys and the driver's storage key, never the content.

// MasterKeySize is the size of a master key.
const MasterKeySize = 32

// masterKeyPrefix starts the text form of a master key.
const masterKeyPrefix = "agenttrail-master-key-v1:"

// MasterKeyEnv is the environment variable that may hold the master key
// itself, in its text form, instead of a file.
const MasterKeyEnv = "AGENTTRAIL_MASTER_KEY"

// MasterKey is the root of an encrypted store's key hierarchy. The zero
// value is no key.
type MasterKey struct {
	key [MasterKeySize]byte
	id  [8]byte
	set bool
}

// GenerateMasterKey returns a new random master key.
func GenerateMasterKey() (MasterKey, error) {
	var k [MasterKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return MasterKey{}, fmt.Errorf("store: generating a master key: %w", err)
	}
	return newMasterKey(k), nil
}

func newMasterKey(k [MasterKeySize]byte) MasterKey {
	m := MasterKey{key: k, set: true}
	copy(m.id[:], m.derive("agenttrail/v2 master key id"))
	return m
}

// ParseMasterKey reads the text form of a master key
// ("agenttrail-master-key-v1:" and the key in base64).
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, masterKeyPrefix)
	if !ok {
		return MasterKey{}, fmt.Errorf("%w: a master key starts with %q", ErrInvalidArgument, masterKeyPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != MasterKeySize {
		return MasterKey{}, fmt.Errorf("%w: a master key is %q and %d bytes in standard base64", ErrInvalidArgument, masterKeyPrefix, MasterKeySize)
	}
	return newMasterKey([MasterKeySize]byte(b)), nil
}

// String returns the text form of the key, as key files hold it. It is the
// secret itself: never log it.
func (k MasterKey) String() string {
	if !k.set {
		return ""
	}
	return masterKeyPrefix + base64.StdEncoding.EncodeToString(k.key[:])
}

// IsZero reports whether k is no key.
func (k MasterKey) IsZero() bool { return !k.set }

// ID returns the key's public id: 16 hex digits derived from the key, which
// name it in messages without revealing it.
func (k MasterKey) ID() string { return hex.EncodeToString(k.id[:]) }

// Equal reports whether two keys are the same key.
func (k MasterKey) Equal(o MasterKey) bool {
	return k.set == o.set && subtle.ConstantTimeCompare(k.key[:], o.key[:]) == 1
}

// StorageKey returns the key a driver encrypts its storage with
// (DriverConfig.EncryptionKey): 32 bytes derived from the master key.
func (k MasterKey) StorageKey() []byte {
	if !k.set {
		return nil
	}
	return k.derive("agenttrail/v2 storage key")
}

// wrappingKey is the key that wraps subject keys.
func (k MasterKey) wrappingKey() []byte { return k.derive("agenttrail/v2 subject key wrapping") }

func (k MasterKey) derive(info string) []byte {
	b, err := hkdf.Key(sha256.New, k.key[:], nil, info, 32)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return b
}

// ReadMasterKeyFile reads a master key file, which must be readable by its
// owner only.
func ReadMasterKeyFile(path string) (MasterKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return MasterKey{}, fmt.Errorf("%w: master key file %s does not exist", ErrNotFound, path)
		}
		return MasterKey{}, fmt.Errorf("store: reading master key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("%w: master key file %s is readable by others (mode %v); chmod 600 it", ErrInvalidArgument, path, fi.Mode().Perm())
	}
	k, err := ParseMasterKey(string(b))
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// WriteMasterKeyFile writes a new master key file with mode 0600, durably;
// it fails when the file exists.
func WriteMasterKeyFile(path string, k MasterKey) error {
	if k.IsZero() {
		return fmt.Errorf("%w: no master key to write", ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store: creating the master key's directory: %w", err)
	}
	if err := writeFileSync(path, []byte(k.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("store: writing master key file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: syncing %s: %w", dir, err)
	}
	return nil
}
