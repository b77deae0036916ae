package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/agenttrail/agenttrail/store"
)

// API keys look like "at_<id>_<secret>": a prefix that secret scanners can
// recognise, a 16-hex-digit public id, and 43 characters of base64url holding
// 32 random bytes. The store keeps only the id and a SHA-256 hash of the
// secret (store.Credential).
const keyPrefix = "at_"

// ErrBadKey: an API key is malformed or unknown, its secret is wrong, or it
// is not active.
var ErrBadKey = errors.New("auth: bad API key")

// newAPIKey makes a new API key for a credential: it fills in c.ID and
// c.Hash and returns the secret key string, which is not stored anywhere.
func newAPIKey(c *store.Credential) (string, error) {
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", err
	}
	c.ID = hex.EncodeToString(id[:])
	s := base64.RawURLEncoding.EncodeToString(secret[:])
	h := sha256.Sum256([]byte(s))
	c.Hash = h[:]
	return keyPrefix + c.ID + "_" + s, nil
}

// parseAPIKey splits an API key into its id and secret.
func parseAPIKey(key string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(key, keyPrefix)
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || len(id) != 16 || len(secret) != 43 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// CredentialStore is where credentials are kept. *store.Store is one.
type CredentialStore interface {
	// Credential returns a credential by id, revoked or not, or an error
	// wrapping store.ErrNotFound.
	Credential(ctx context.Context, id string) (store.Credential, error)
}

// CheckAPIKey returns the credential of an API key when the key is well
// formed, known, its secret matches and it is active at now; otherwise
// ErrBadKey (whatever the reason, so callers cannot probe which). Other
// errors are failures to read the store.
func CheckAPIKey(ctx context.Context, creds CredentialStore, key string, now time.Time) (store.Credential, error) {
	id, secret, ok := parseAPIKey(key)
	if !ok {
		return store.Credential{}, ErrBadKey
	}
	c, err := creds.Credential(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Credential{}, ErrBadKey
	}
	if err != nil {
		return store.Credential{}, err
	}
	h := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(h[:], c.Hash) != 1 || !c.Active(now) {
		return store.Credential{}, ErrBadKey
	}
	return c, nil
}
