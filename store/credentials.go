package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Credential is an API key as the store keeps it: everything but the
// secret, of which only a SHA-256 hash is stored. Credentials are written
// once; revocation writes a separate, write-once revocation record.
type Credential struct {
	// ID is the key's public id, the first part of the key.
	ID string `json:"id"`
	// Principal is who the key authenticates.
	Principal string `json:"principal"`
	// Role is the principal's role: "agent", "developer", "compliance" or
	// "admin". The store does not interpret it.
	Role string `json:"role"`
	// AgentID, for an agent key, is the only agent_id it may append for.
	AgentID string `json:"agent_id,omitempty"`
	// CreatedAt, ExpiresAt (zero: never) and RevokedAt (zero: not revoked).
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"-"`
	// CreatedBy is who created the key.
	CreatedBy string `json:"created_by"`
	// Hash is SHA-256 of the secret part of the key.
	Hash []byte `json:"hash"`
}

// Active reports whether the credential authenticates at time now.
func (c Credential) Active(now time.Time) bool {
	return c.RevokedAt.IsZero() && (c.ExpiresAt.IsZero() || now.Before(c.ExpiresAt))
}

// API keys look like "at_<id>_<secret>": a prefix that secret scanners can
// recognise, a 16-hex-digit public id, and 43 characters of base64url holding
// 32 random bytes.
const keyPrefix = "at_"

// ErrBadKey: an API key is malformed or unknown, or its secret is wrong.
var ErrBadKey = errors.New("store: bad API key")

// NewKey makes a new API key for a credential: it fills in c.ID and c.Hash
// and returns the secret key string, which is not stored anywhere.
func NewKey(c *Credential) (string, error) {
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

// parseKey splits an API key into its id and secret.
func parseKey(key string) (id, secret string, ok bool) {
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

func credentialKey(id string) []byte { return append([]byte{prefixCredential}, id...) }
func revocationKey(id string) []byte { return append([]byte{prefixRevocation}, id...) }

// AddCredential stores a new credential (made with NewKey). Its id must be
// new.
func (s *Store) AddCredential(ctx context.Context, c Credential) error {
	if err := s.readable(ctx); err != nil {
		return err
	}
	if len(c.ID) != 16 || len(c.Hash) != sha256.Size || c.Principal == "" || c.Role == "" || c.CreatedAt.IsZero() {
		return fmt.Errorf("%w: credential needs an id, hash, principal, role and creation time (make it with NewKey)", ErrInvalidArgument)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(credentialKey(c.ID)); err == nil {
			return fmt.Errorf("%w: credential %s", ErrAlreadyExists, c.ID)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(credentialKey(c.ID), b)
	})
}

// RevokeCredential revokes a credential at time at. Revoking twice keeps the
// first revocation.
func (s *Store) RevokeCredential(ctx context.Context, id string, at time.Time) (Credential, error) {
	if err := s.readable(ctx); err != nil {
		return Credential{}, err
	}
	var c Credential
	err := s.db.Update(func(txn *badger.Txn) error {
		var err error
		if c, err = readCredential(txn, id); err != nil {
			return err
		}
		if !c.RevokedAt.IsZero() {
			return nil
		}
		c.RevokedAt = at.UTC()
		ts, _ := c.RevokedAt.MarshalBinary()
		return txn.Set(revocationKey(id), ts)
	})
	return c, err
}

// Credential returns the credential with an id.
func (s *Store) Credential(ctx context.Context, id string) (Credential, error) {
	var c Credential
	err := s.view(func(txn *badger.Txn) error {
		var err error
		c, err = readCredential(txn, id)
		return err
	})
	return c, err
}

// Credentials returns every credential, oldest first.
func (s *Store) Credentials(ctx context.Context) ([]Credential, error) {
	var out []Credential
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixCredential}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			c, err := readCredential(txn, string(it.Item().Key()[1:]))
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Credential) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// Authenticate returns the credential of an API key when the key is well
// formed, known, its secret matches and it is active at now; otherwise
// ErrBadKey (whatever the reason, so callers cannot probe which).
func (s *Store) Authenticate(ctx context.Context, key string, now time.Time) (Credential, error) {
	id, secret, ok := parseKey(key)
	if !ok {
		return Credential{}, ErrBadKey
	}
	c, err := s.Credential(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Credential{}, ErrBadKey
	}
	if err != nil {
		return Credential{}, err
	}
	h := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(h[:], c.Hash) != 1 || !c.Active(now) {
		return Credential{}, ErrBadKey
	}
	return c, nil
}

func readCredential(txn *badger.Txn, id string) (Credential, error) {
	b, err := getValue(txn, credentialKey(id))
	if err != nil {
		return Credential{}, fmt.Errorf("credential: %w", err)
	}
	var c Credential
	if err := json.Unmarshal(b, &c); err != nil {
		return Credential{}, fmt.Errorf("%w: credential %s: %v", ErrCorrupt, id, err)
	}
	ts, err := getValue(txn, revocationKey(id))
	switch {
	case err == nil:
		if err := c.RevokedAt.UnmarshalBinary(ts); err != nil {
			return Credential{}, fmt.Errorf("%w: revocation of %s: %v", ErrCorrupt, id, err)
		}
	case !errors.Is(err, ErrNotFound):
		return Credential{}, err
	}
	return c, nil
}
