package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"
)

// Credential is an API key as the store keeps it: everything but the
// secret, of which only a SHA-256 hash is stored. Credentials are written
// once; revocation writes a separate, write-once revocation record. The key
// format and authentication belong to package server/auth; the store only
// persists what it is given.
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

// maxCredentialID bounds a credential id.
const maxCredentialID = 64

// AddCredential stores a new credential. Its id must be new.
func (s *Store) AddCredential(ctx context.Context, c Credential) error {
	if c.ID == "" || len(c.ID) > maxCredentialID || len(c.Hash) != sha256.Size || c.Principal == "" || c.Role == "" || c.CreatedAt.IsZero() {
		return fmt.Errorf("%w: credential needs an id, a SHA-256 hash, a principal, a role and a creation time", ErrInvalidArgument)
	}
	if !c.RevokedAt.IsZero() {
		return fmt.Errorf("%w: a new credential cannot be revoked already", ErrInvalidArgument)
	}
	return s.writing(ctx, func() error { return s.d.AddCredential(ctx, c) })
}

// RevokeCredential revokes a credential at time at. Revoking twice keeps the
// first revocation.
func (s *Store) RevokeCredential(ctx context.Context, id string, at time.Time) (Credential, error) {
	var c Credential
	err := s.writing(ctx, func() error {
		var err error
		c, err = s.d.RevokeCredential(ctx, id, at.UTC())
		return err
	})
	return c, err
}

// Credential returns the credential with an id.
func (s *Store) Credential(ctx context.Context, id string) (Credential, error) {
	if id == "" || len(id) > maxCredentialID {
		return Credential{}, fmt.Errorf("credential: %w", ErrNotFound)
	}
	var c Credential
	err := s.reading(ctx, func() error {
		var err error
		c, err = s.d.Credential(ctx, id)
		return err
	})
	return c, err
}

// Credentials returns every credential, oldest first.
func (s *Store) Credentials(ctx context.Context) ([]Credential, error) {
	var out []Credential
	err := s.reading(ctx, func() error {
		for c, err := range s.d.Credentials(ctx) {
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b Credential) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// writing runs a write other than an append, unless the store is closing
// or read-only.
func (s *Store) writing(ctx context.Context, fn func() error) error {
	if err := s.readable(ctx); err != nil {
		return err
	}
	if s.cfg.readOnly {
		return fmt.Errorf("%w: the store is open read-only", ErrInvalidArgument)
	}
	return s.reading(ctx, fn)
}
