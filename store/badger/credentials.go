package badger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/agenttrail/agenttrail/store"
)

// Credentials are stored as JSON under their id ('A'), each revocation as a
// binary time under the id ('Z'); both are written once.

// AddCredential implements store.Driver.
func (d *Driver) AddCredential(ctx context.Context, c store.Credential) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return failed(d.update(func(txn *badgerdb.Txn) error {
		if _, err := txn.Get(credentialKey(c.ID)); err == nil {
			return fmt.Errorf("%w: credential %s", store.ErrAlreadyExists, c.ID)
		} else if !errors.Is(err, badgerdb.ErrKeyNotFound) {
			return err
		}
		return txn.Set(credentialKey(c.ID), b)
	}))
}

// RevokeCredential implements store.Driver.
func (d *Driver) RevokeCredential(ctx context.Context, id string, at time.Time) (store.Credential, error) {
	var c store.Credential
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.update(func(txn *badgerdb.Txn) error {
		var err error
		if c, err = readCredential(txn, id); err != nil {
			return err
		}
		if !c.RevokedAt.IsZero() {
			return nil
		}
		c.RevokedAt = at
		ts, err := at.MarshalBinary()
		if err != nil {
			return fmt.Errorf("%w: revocation time: %v", store.ErrInvalidArgument, err)
		}
		return txn.Set(revocationKey(id), ts)
	})
	return c, failed(err)
}

// Credential implements store.Driver.
func (d *Driver) Credential(ctx context.Context, id string) (store.Credential, error) {
	var c store.Credential
	err := d.view(func(txn *badgerdb.Txn) error {
		var err error
		c, err = readCredential(txn, id)
		return err
	})
	return c, err
}

// Credentials implements store.Driver.
func (d *Driver) Credentials(ctx context.Context) iter.Seq2[store.Credential, error] {
	return func(yield func(store.Credential, error) bool) {
		yield = guard(yield)
		err := d.view(func(txn *badgerdb.Txn) error {
			opts := badgerdb.DefaultIteratorOptions
			opts.Prefix = []byte{prefixCredential}
			opts.PrefetchValues = false
			it := txn.NewIterator(opts)
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				c, err := readCredential(txn, string(it.Item().Key()[1:]))
				if err != nil {
					return err
				}
				if !yield(c, nil) {
					return errStop
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(store.Credential{}, err)
		}
	}
}

func readCredential(txn *badgerdb.Txn, id string) (store.Credential, error) {
	b, err := getValue(txn, credentialKey(id))
	if err != nil {
		return store.Credential{}, fmt.Errorf("credential: %w", err)
	}
	var c store.Credential
	if err := json.Unmarshal(b, &c); err != nil {
		return store.Credential{}, fmt.Errorf("%w: credential %s: %v", store.ErrCorrupt, id, err)
	}
	ts, err := getValue(txn, revocationKey(id))
	switch {
	case err == nil:
		if err := c.RevokedAt.UnmarshalBinary(ts); err != nil {
			return store.Credential{}, fmt.Errorf("%w: revocation of %s: %v", store.ErrCorrupt, id, err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return store.Credential{}, err
	}
	return c, nil
}
