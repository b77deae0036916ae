package store

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of the log's size and root hash: a C2SP
// tlog-checkpoint signed note with one Ed25519 signature.
type Checkpoint struct {
	// Origin is the log's name, the first line of the note.
	Origin string
	// Size is the number of events in the tree.
	Size uint64
	// Root is the RFC 6962 root hash of the tree of that size.
	Root [hashSize]byte
	// Note is the signed note exactly as signed.
	Note []byte
}

// VerifierKey identifies the key that signs a store's checkpoints.
type VerifierKey struct {
	// Origin is the log's name, which is also the key's name.
	Origin string
	// Key is the note verifier key string, "<origin>+<hash>+<base64 key>".
	Key string
	// PublicKey is the raw Ed25519 public key.
	PublicKey ed25519.PublicKey
}

// signingKeyFile is where a generated signing key is kept, inside the data
// directory, readable by its owner only.
const signingKeyFile = "checkpoint-signing.key"

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

// loadSigner returns the signer and verifier of a store: the configured key,
// or the key file in dir, or (only for a store that has never signed a
// checkpoint) a newly generated key written to dir with mode 0600.
func loadSigner(dir, origin, configured string, mayCreate bool) (note.Signer, note.Verifier, VerifierKey, error) {
	skey := configured
	path := filepath.Join(dir, signingKeyFile)
	if skey == "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			skey = strings.TrimSpace(string(b))
			if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
				return nil, nil, VerifierKey{}, fmt.Errorf("%w: %s is readable by others (mode %v); chmod 600 it", ErrInvalidArgument, path, fi.Mode().Perm())
			}
		case errors.Is(err, fs.ErrNotExist) && mayCreate:
			gen, _, err := note.GenerateKey(rand.Reader, origin)
			if err != nil {
				return nil, nil, VerifierKey{}, fmt.Errorf("store: generating signing key: %w", err)
			}
			if err := writeFileSync(path, []byte(gen+"\n"), 0o600); err != nil {
				return nil, nil, VerifierKey{}, fmt.Errorf("store: writing signing key: %w", err)
			}
			skey = gen
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil, VerifierKey{}, fmt.Errorf("%w: the store has signed checkpoints but its signing key %s is missing; restore it or configure the key", ErrInvalidArgument, path)
		default:
			return nil, nil, VerifierKey{}, fmt.Errorf("store: reading signing key: %w", err)
		}
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, nil, VerifierKey{}, fmt.Errorf("%w: signing key: %v", ErrInvalidArgument, err)
	}
	if signer.Name() != origin {
		return nil, nil, VerifierKey{}, fmt.Errorf("%w: signing key is named %q, want the log's origin %q", ErrInvalidArgument, signer.Name(), origin)
	}
	pub, err := publicKeyOf(skey)
	if err != nil {
		return nil, nil, VerifierKey{}, err
	}
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return nil, nil, VerifierKey{}, fmt.Errorf("store: verifier key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, VerifierKey{}, fmt.Errorf("store: verifier key: %w", err)
	}
	return signer, verifier, VerifierKey{Origin: origin, Key: vkey, PublicKey: pub}, nil
}

// publicKeyOf derives the Ed25519 public key of a note signer key, which
// note.NewSigner has already checked.
func publicKeyOf(skey string) (ed25519.PublicKey, error) {
	// PRIVATE+KEY+<name>+<hash>+<base64 key>; the key's base64 may hold '+'.
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return nil, fmt.Errorf("%w: signing key is malformed", ErrInvalidArgument)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, fmt.Errorf("%w: signing key is not an Ed25519 key", ErrInvalidArgument)
	}
	return ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey), nil
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

// checkpointText is the body of a C2SP tlog-checkpoint.
func checkpointText(origin string, size uint64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// signCheckpoint signs the checkpoint of a tree.
func signCheckpoint(signer note.Signer, origin string, size uint64, root tlog.Hash) (Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: checkpointText(origin, size, root)}, signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("store: signing checkpoint: %w", err)
	}
	return Checkpoint{Origin: origin, Size: size, Root: root, Note: msg}, nil
}

// openCheckpoint verifies a signed checkpoint and parses it.
func openCheckpoint(msg []byte, verifier note.Verifier, origin string) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint signature: %v", ErrCorrupt, err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint has fewer than three lines", ErrCorrupt)
	}
	if lines[0] != origin {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint origin %q, want %q", ErrCorrupt, lines[0], origin)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint size line", ErrCorrupt)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != hashSize {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint root hash line", ErrCorrupt)
	}
	cp := Checkpoint{Origin: origin, Size: size, Note: bytes.Clone(msg)}
	copy(cp.Root[:], root)
	return cp, nil
}
