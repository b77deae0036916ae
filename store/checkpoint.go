package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store/commitment"
)

// Checkpoint is a signed statement of the log's size and root hash: a C2SP
// tlog-checkpoint signed note with one Ed25519 signature.
type Checkpoint struct {
	// Origin is the log's name, the first line of the note.
	Origin string
	// Size is the number of events in the tree.
	Size uint64
	// Root is the RFC 6962 root hash of the tree of that size.
	Root [HashSize]byte
	// Note is the signed note exactly as signed.
	Note []byte
}

func validOrigin(origin string) bool {
	return origin != "" && len(origin) <= 256 && !strings.Contains(origin, "+") &&
		strings.IndexFunc(origin, unicode.IsSpace) < 0
}

func randomOrigin() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "agenttrail.local/" + hex.EncodeToString(b[:]), nil
}

// loadSigner returns the signer and checkpoint verifier of a log: the
// configured key, or the key in the configured file, or (only for a log that
// has never signed a checkpoint) a newly generated key written to that file
// with mode 0600.
func loadSigner(origin string, cfg config, mayCreate bool) (note.Signer, *commitment.CheckpointVerifier, error) {
	skey := cfg.signingKey
	if skey == "" {
		var err error
		if skey, err = readSigningKeyFile(cfg.signingKeyFile, origin, mayCreate); err != nil {
			return nil, nil, err
		}
	}
	signer, vkey, err := commitment.ParseSignerKey(skey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if signer.Name() != origin {
		return nil, nil, fmt.Errorf("%w: signing key is named %q, want the log's origin %q", ErrInvalidArgument, signer.Name(), origin)
	}
	verifier, err := commitment.NewCheckpointVerifier(vkey.String(), origin)
	if err != nil {
		return nil, nil, fmt.Errorf("store: verifier key: %w", err)
	}
	return signer, verifier, nil
}

// existingKeyName returns the name of the configured signing key when it
// exists already (given, or in its file), or "".
func existingKeyName(cfg config) string {
	skey := cfg.signingKey
	if skey == "" && cfg.signingKeyFile != "" {
		b, err := os.ReadFile(cfg.signingKeyFile)
		if err != nil {
			return ""
		}
		skey = strings.TrimSpace(string(b))
	}
	if s, err := note.NewSigner(skey); err == nil && validOrigin(s.Name()) {
		return s.Name()
	}
	return ""
}

// readSigningKeyFile reads a signing key file, or creates it when it does
// not exist and mayCreate is set.
func readSigningKeyFile(path, origin string, mayCreate bool) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%w: %s is readable by others (mode %v); chmod 600 it", ErrInvalidArgument, path, fi.Mode().Perm())
		}
		return strings.TrimSpace(string(b)), nil
	case errors.Is(err, fs.ErrNotExist) && mayCreate:
		gen, _, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return "", fmt.Errorf("store: generating signing key: %w", err)
		}
		if err := writeFileSync(path, []byte(gen+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("store: writing signing key: %w", err)
		}
		return gen, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: the store has signed checkpoints but its signing key %s is missing; restore it or configure the key", ErrInvalidArgument, path)
	default:
		return "", fmt.Errorf("store: reading signing key: %w", err)
	}
}

func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// signCheckpoint signs the checkpoint of a tree.
func (s *Store) signCheckpoint(size uint64, root tlog.Hash) (Checkpoint, error) {
	msg, err := commitment.SignCheckpoint(s.signer, commitment.TreeHead{Origin: s.origin, Size: size, Root: root})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("store: %w", err)
	}
	return Checkpoint{Origin: s.origin, Size: size, Root: root, Note: msg}, nil
}

// openCheckpoint verifies a stored checkpoint with the log's key and parses
// it.
func (s *Store) openCheckpoint(msg []byte) (Checkpoint, error) {
	return openCheckpoint(s.verifier, msg)
}

func openCheckpoint(v *commitment.CheckpointVerifier, msg []byte) (Checkpoint, error) {
	h, err := v.Open(msg)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %w", ErrCorrupt, err)
	}
	return Checkpoint{Origin: h.Origin, Size: h.Size, Root: h.Root, Note: bytes.Clone(msg)}, nil
}
