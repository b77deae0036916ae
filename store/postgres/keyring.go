package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrail/agenttrail/store"
)

// The keyring is two tables: content_keys, one row per event (the record
// store.EventKeyName(idx) names), read with the event's content; and
// keyring, every other record. DestroyKeys DELETEs rows. What that does and
// does not guarantee: once the transaction commits, no query can read the
// rows, and autovacuum (or VACUUM) marks the space of their dead tuples
// free for reuse, but neither overwrites the bytes: they stay in the
// table's data files until a later write reuses the space, and they stay in
// the write-ahead log (pg_wal) until it is recycled, in WAL archives, in
// base backups and on replicas. VACUUM FULL rewrites the tables into new
// files and removes the old ones, which is what DestroyKeys asks for after
// a deletion when it can (it needs the table's owner, and is not done on
// CockroachDB, whose storage compacts on its own schedule); the file system
// and the disk may keep the old blocks. PostgreSQL itself encrypts nothing
// at rest: run it on encrypted storage. The engine still encrypts every
// event's content, so the database never holds content in the clear, and
// destroying the keys is what makes erased content unreadable.

// eventKeyIndex returns the event index a content key's name names.
func eventKeyIndex(name []byte) (int64, bool) {
	if len(name) != 9 || name[0] != store.EventKeyName(0)[0] {
		return 0, false
	}
	i := binary.BigEndian.Uint64(name[1:])
	if i > math.MaxInt64 {
		return 0, false
	}
	return int64(i), true
}

// Keys implements store.Driver.
func (d *Driver) Keys(ctx context.Context, names [][]byte) (map[string][]byte, error) {
	var idx []int64
	var other [][]byte
	for _, n := range names {
		if i, ok := eventKeyIndex(n); ok {
			idx = append(idx, i)
		} else {
			other = append(other, n)
		}
	}
	out := make(map[string][]byte, len(names))
	err := d.read(ctx, func(q querier) error {
		clear(out)
		if len(idx) > 0 {
			rows, err := q.Query(ctx, `SELECT idx, record FROM content_keys WHERE idx = ANY($1::INT8[])`, idx)
			if err != nil {
				return err
			}
			var i int64
			var rec []byte
			if _, err := pgx.ForEachRow(rows, []any{&i, &rec}, func() error {
				out[string(store.EventKeyName(uint64(i)))] = bytes.Clone(rec)
				return nil
			}); err != nil {
				return err
			}
		}
		if len(other) > 0 {
			rows, err := q.Query(ctx, `SELECT name, value FROM keyring WHERE name = ANY($1::BYTEA[])`, other)
			if err != nil {
				return err
			}
			var name, value []byte
			if _, err := pgx.ForEachRow(rows, []any{&name, &value}, func() error {
				out[string(name)] = bytes.Clone(value)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// KeysWithPrefix implements store.Driver.
func (d *Driver) KeysWithPrefix(ctx context.Context, prefix []byte) iter.Seq2[store.KeyRecord, error] {
	return namedWithPrefix(d, ctx, "keyring", prefix, func(name, value []byte) store.KeyRecord {
		return store.KeyRecord{Name: name, Value: value}
	})
}

// prefixEnd returns the least byte string greater than every string that
// starts with prefix, or false when there is none (all 0xff).
func prefixEnd(prefix []byte) ([]byte, bool) {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1], true
		}
	}
	return nil, false
}

// PutKeys implements store.Driver.
func (d *Driver) PutKeys(ctx context.Context, recs []store.KeyRecord) error {
	if err := d.writable(); err != nil {
		return err
	}
	idx, ckeys, names, values, err := splitKeys(recs)
	if err != nil {
		return err
	}
	return d.retry(ctx, func() error {
		tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background())
		if len(idx) > 0 {
			if _, err := tx.Exec(ctx, upsertContentKeysSQL, idx, ckeys); err != nil {
				return err
			}
		}
		if len(names) > 0 {
			if _, err := tx.Exec(ctx, upsertKeysSQL, names, values); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	})
}

const (
	upsertKeysSQL = `INSERT INTO keyring (name, value) SELECT * FROM unnest($1::BYTEA[], $2::BYTEA[])
ON CONFLICT (name) DO UPDATE SET value = excluded.value`
	upsertContentKeysSQL = `INSERT INTO content_keys (idx, record) SELECT * FROM unnest($1::INT8[], $2::BYTEA[])
ON CONFLICT (idx) DO UPDATE SET record = excluded.record`
	insertLifecycleSQL = `INSERT INTO lifecycle (name, value) SELECT * FROM unnest($1::BYTEA[], $2::BYTEA[])`
	requireKeysSQL     = `SELECT name, value FROM keyring WHERE name = ANY($1::BYTEA[]) FOR SHARE`
)

// splitKeys separates content keys from other keyring records.
func splitKeys(recs []store.KeyRecord) (idx []int64, ckeys [][]byte, names, values [][]byte, err error) {
	for _, r := range recs {
		if len(r.Name) == 0 {
			return nil, nil, nil, nil, fmt.Errorf("%w: empty keyring record name", store.ErrInvalidArgument)
		}
		if i, ok := eventKeyIndex(r.Name); ok {
			idx, ckeys = append(idx, i), append(ckeys, r.Value)
			continue
		}
		names, values = append(names, r.Name), append(values, r.Value)
	}
	return idx, ckeys, names, values, nil
}

// DestroyKeys implements store.Driver: it DELETEs the rows, then, when it
// may, rewrites the two tables (VACUUM FULL) so that their files no longer
// hold the deleted rows' bytes. See the top of this file for what that
// does not reach.
func (d *Driver) DestroyKeys(ctx context.Context, names [][]byte) error {
	if err := d.writable(); err != nil {
		return err
	}
	if len(names) == 0 {
		return nil
	}
	var idx []int64
	var other [][]byte
	for _, n := range names {
		if i, ok := eventKeyIndex(n); ok {
			idx = append(idx, i)
		} else {
			other = append(other, n)
		}
	}
	var deleted int64
	err := d.retry(ctx, func() error {
		deleted = 0
		tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background())
		for start := 0; start < len(idx); start += 10000 {
			tag, err := tx.Exec(ctx, `DELETE FROM content_keys WHERE idx = ANY($1::INT8[])`, idx[start:min(start+10000, len(idx))])
			if err != nil {
				return err
			}
			deleted += tag.RowsAffected()
		}
		if len(other) > 0 {
			tag, err := tx.Exec(ctx, `DELETE FROM keyring WHERE name = ANY($1::BYTEA[])`, other)
			if err != nil {
				return err
			}
			deleted += tag.RowsAffected()
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return fmt.Errorf("postgres: deleting destroyed keys: %w", err)
	}
	if deleted > 0 && !d.cockroach {
		// Outside any transaction, as VACUUM must be. A role that does not
		// own the tables may not: the rows are gone from every query all
		// the same, and their bytes go as autovacuum and later writes
		// reuse the space.
		for _, t := range []string{"content_keys", "keyring"} {
			if _, err := d.pool.Exec(ctx, `VACUUM FULL `+t); err != nil {
				d.log.Warn("postgres: VACUUM FULL of the keyring failed: the deleted keys' bytes stay in its files until the space is reused", "table", t, "error", err)
				break
			}
		}
	}
	return nil
}

// PutLifecycle implements store.Driver.
func (d *Driver) PutLifecycle(ctx context.Context, rec store.LifecycleRecord) error {
	if err := d.writable(); err != nil {
		return err
	}
	return d.retry(ctx, func() error {
		tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.Background())
		var old []byte
		err = tx.QueryRow(ctx, `SELECT value FROM lifecycle WHERE name = $1`, rec.Name).Scan(&old)
		switch {
		case err == nil && bytes.Equal(old, rec.Value):
			return nil
		case err == nil:
			return fmt.Errorf("%w: another lifecycle record %x is stored", store.ErrAlreadyExists, rec.Name)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO lifecycle (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, rec.Name, rec.Value); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// Lifecycle implements store.Driver.
func (d *Driver) Lifecycle(ctx context.Context, prefix []byte) iter.Seq2[store.LifecycleRecord, error] {
	return namedWithPrefix(d, ctx, "lifecycle", prefix, func(name, value []byte) store.LifecycleRecord {
		return store.LifecycleRecord{Name: name, Value: value}
	})
}

// namedWithPrefix yields the rows of a (name, value) table whose names
// start with prefix, in name order, read in one transaction. table is one
// of this package's own table names, never input.
func namedWithPrefix[T any](d *Driver, ctx context.Context, table string, prefix []byte, record func(name, value []byte) T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var recs []T
		err := d.read(ctx, func(q querier) error {
			recs = recs[:0]
			// Names are bytes: the range [prefix, next) holds exactly the
			// names that start with prefix.
			var rows pgx.Rows
			var err error
			if end, ok := prefixEnd(prefix); ok {
				rows, err = q.Query(ctx, `SELECT name, value FROM `+table+` WHERE name >= $1 AND name < $2 ORDER BY name`, prefix, end)
			} else {
				rows, err = q.Query(ctx, `SELECT name, value FROM `+table+` WHERE name >= $1 ORDER BY name`, prefix)
			}
			if err != nil {
				return err
			}
			var name, value []byte
			_, err = pgx.ForEachRow(rows, []any{&name, &value}, func() error {
				recs = append(recs, record(bytes.Clone(name), bytes.Clone(value)))
				return nil
			})
			return err
		})
		if err != nil {
			var zero T
			yield(zero, err)
			return
		}
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// requireKeys checks, in the transaction of a commit, that every keyring
// record the batch relies on is stored with the value it expects, and
// keeps the rows from changing until the commit (FOR SHARE).
func requireKeys(ctx context.Context, tx pgx.Tx, recs []store.KeyRecord) error {
	if len(recs) == 0 {
		return nil
	}
	names := make([][]byte, len(recs))
	for i, r := range recs {
		names[i] = r.Name
	}
	rows, err := tx.Query(ctx, requireKeysSQL, names)
	if err != nil {
		return err
	}
	got := map[string][]byte{}
	var name, value []byte
	if _, err := pgx.ForEachRow(rows, []any{&name, &value}, func() error {
		got[string(name)] = bytes.Clone(value)
		return nil
	}); err != nil {
		return err
	}
	for _, r := range recs {
		if v, ok := got[string(r.Name)]; !ok || !bytes.Equal(v, r.Value) {
			return fmt.Errorf("%w: keyring record %x", store.ErrKeyChanged, r.Name)
		}
	}
	return nil
}
