package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrail/agenttrail/store"
)

// Credentials are stored as JSON under their id, each revocation as a
// row of its own (nanoseconds since the epoch, exactly as given); both are
// inserted once and never updated.

// AddCredential implements store.Driver.
func (d *Driver) AddCredential(ctx context.Context, c store.Credential) error {
	if err := d.writable(); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return d.retry(ctx, func() error {
		_, err := d.pool.Exec(ctx, `INSERT INTO credentials (id, record) VALUES ($1, $2)`, c.ID, b)
		if isCode(err, "23505") {
			return fmt.Errorf("%w: credential %s", store.ErrAlreadyExists, c.ID)
		}
		return err
	})
}

// RevokeCredential implements store.Driver.
func (d *Driver) RevokeCredential(ctx context.Context, id string, at time.Time) (store.Credential, error) {
	if err := d.writable(); err != nil {
		return store.Credential{}, err
	}
	var c store.Credential
	err := d.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO credential_revocations (id, revoked_at_unix_ns)
SELECT id, $2 FROM credentials WHERE id = $1 ON CONFLICT (id) DO NOTHING`, id, at.UnixNano()); err != nil {
				return err
			}
			var err error
			c, err = readCredential(ctx, tx, id)
			return err
		})
	})
	return c, err
}

// Credential implements store.Driver.
func (d *Driver) Credential(ctx context.Context, id string) (store.Credential, error) {
	var c store.Credential
	err := d.read(ctx, func(q querier) error {
		var err error
		c, err = readCredential(ctx, q, id)
		return err
	})
	return c, err
}

const selectCredentials = `SELECT c.id, c.record, r.revoked_at_unix_ns FROM credentials c
LEFT JOIN credential_revocations r ON r.id = c.id`

// Credentials implements store.Driver.
func (d *Driver) Credentials(ctx context.Context) iter.Seq2[store.Credential, error] {
	return func(yield func(store.Credential, error) bool) {
		var all []store.Credential
		err := d.read(ctx, func(q querier) error {
			all = all[:0]
			rows, err := q.Query(ctx, selectCredentials+` ORDER BY c.id`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				c, err := scanCredential(rows)
				if err != nil {
					return err
				}
				all = append(all, c)
			}
			return rows.Err()
		})
		if err != nil {
			yield(store.Credential{}, err)
			return
		}
		for _, c := range all {
			if !yield(c, nil) {
				return
			}
		}
	}
}

func readCredential(ctx context.Context, q querier, id string) (store.Credential, error) {
	rows, err := q.Query(ctx, selectCredentials+` WHERE c.id = $1`, id)
	if err != nil {
		return store.Credential{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return store.Credential{}, err
		}
		return store.Credential{}, fmt.Errorf("credential: %w", store.ErrNotFound)
	}
	return scanCredential(rows)
}

func scanCredential(rows pgx.Rows) (store.Credential, error) {
	var id string
	var rec []byte
	var revoked *int64
	if err := rows.Scan(&id, &rec, &revoked); err != nil {
		return store.Credential{}, err
	}
	var c store.Credential
	if err := json.Unmarshal(rec, &c); err != nil {
		return store.Credential{}, fmt.Errorf("%w: credential %s: %v", store.ErrCorrupt, id, err)
	}
	if c.ID != id {
		return store.Credential{}, errors.Join(fmt.Errorf("%w: the credential stored under %s names %s", store.ErrCorrupt, id, c.ID))
	}
	if revoked != nil {
		c.RevokedAt = time.Unix(0, *revoked).UTC()
	}
	return c, nil
}
