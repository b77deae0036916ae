package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/agenttrail/agenttrail/store"
)

// Tamperer edits a log's rows in raw SQL, as anyone with write access to
// the database would: it exists for tamper campaigns, the project's own
// and an auditor's, which must show that verification finds every such
// edit. The driver never uses it. It implements storetest.Tamperer.
type Tamperer struct {
	conn *pgx.Conn
}

// Tamper connects to the database of a log for tampering.
func Tamper(ctx context.Context, storeURL string) (*Tamperer, error) {
	conn, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s for tampering: %w", redact(storeURL), err)
	}
	return &Tamperer{conn: conn}, nil
}

func (tp *Tamperer) bytes(sql string, arg any) ([]byte, error) {
	var b []byte
	err := tp.conn.QueryRow(context.Background(), sql, arg).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s [%v]: %w", sql, arg, store.ErrNotFound)
	}
	return b, err
}

func (tp *Tamperer) exec(sql string, args ...any) error {
	tag, err := tp.conn.Exec(context.Background(), sql, args...)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("%s %v: %d rows changed, want 1", sql, args, tag.RowsAffected())
	}
	return err
}

// LeafData returns the stored leaf data of an event.
func (tp *Tamperer) LeafData(i uint64) ([]byte, error) {
	return tp.bytes(`SELECT leaf_data FROM events WHERE idx = $1`, int64(i))
}

// SetLeafData replaces the stored leaf data of an event.
func (tp *Tamperer) SetLeafData(i uint64, data []byte) error {
	return tp.exec(`UPDATE events SET leaf_data = $2 WHERE idx = $1`, int64(i), data)
}

// Content returns the content record of an event.
func (tp *Tamperer) Content(i uint64) ([]byte, error) {
	return tp.bytes(`SELECT record FROM contents WHERE idx = $1`, int64(i))
}

// SetContent replaces the content record of an event.
func (tp *Tamperer) SetContent(i uint64, rec []byte) error {
	return tp.exec(`UPDATE contents SET record = $2 WHERE idx = $1`, int64(i), rec)
}

// DeleteEvent deletes the row of an event.
func (tp *Tamperer) DeleteEvent(i uint64) error {
	return tp.exec(`DELETE FROM events WHERE idx = $1`, int64(i))
}

// DeleteContent deletes the content record of an event.
func (tp *Tamperer) DeleteContent(i uint64) error {
	return tp.exec(`DELETE FROM contents WHERE idx = $1`, int64(i))
}

// DeleteKey deletes a keyring record: an event's content key, or another.
func (tp *Tamperer) DeleteKey(name []byte) error {
	if i, ok := eventKeyIndex(name); ok {
		return tp.exec(`DELETE FROM content_keys WHERE idx = $1`, i)
	}
	return tp.exec(`DELETE FROM keyring WHERE name = $1`, name)
}

// DeleteEventID deletes the id index row of an event id.
func (tp *Tamperer) DeleteEventID(id string) error {
	return tp.exec(`DELETE FROM event_ids WHERE event_id = $1`, id)
}

// TreeHash returns the stored tree hash at a stored-hash index.
func (tp *Tamperer) TreeHash(idx int64) ([store.HashSize]byte, error) {
	b, err := tp.bytes(`SELECT hash FROM tree_hashes WHERE idx = $1`, idx)
	if err != nil {
		return [store.HashSize]byte{}, err
	}
	if len(b) != store.HashSize {
		return [store.HashSize]byte{}, fmt.Errorf("tree hash %d has %d bytes", idx, len(b))
	}
	return [store.HashSize]byte(b), nil
}

// SetTreeHash replaces the stored tree hash at a stored-hash index.
func (tp *Tamperer) SetTreeHash(idx int64, h [store.HashSize]byte) error {
	return tp.exec(`UPDATE tree_hashes SET hash = $2 WHERE idx = $1`, idx, h[:])
}

// MarkErased deletes the content record of an event and writes the mark a
// logged erasure leaves, without logging any erasure.
func (tp *Tamperer) MarkErased(i uint64) error {
	if err := tp.DeleteContent(i); err != nil {
		return err
	}
	return tp.exec(`INSERT INTO content_erasures (idx) VALUES ($1)`, int64(i))
}

// DropFromIndexes removes an event from the indexes it can leave: its
// session, agent, user and tool columns become NULL and its failure flag
// false. (kind and occurred_at are NOT NULL: the event stays filed under
// them.)
func (tp *Tamperer) DropFromIndexes(i uint64) error {
	return tp.exec(`UPDATE events SET session_id = NULL, agent_id = NULL, user_id = NULL, tool_name = NULL, failure = false WHERE idx = $1`, int64(i))
}

// Truncate removes every event at and above size, a size a batch ended
// at, with every row that goes with them, and sets the log state back to
// that batch's tree: as if the log had never grown past size.
func (tp *Tamperer) Truncate(size uint64) error {
	ctx := context.Background()
	return pgx.BeginFunc(ctx, tp.conn, func(tx pgx.Tx) error {
		var root []byte
		if err := tx.QueryRow(ctx, `SELECT root FROM batch_roots WHERE size = $1`, int64(size)).Scan(&root); err != nil {
			return fmt.Errorf("no batch ended at %d: %w", size, err)
		}
		for _, q := range []string{
			`DELETE FROM event_ids WHERE idx >= $1`,
			`DELETE FROM contents WHERE idx >= $1`,
			`DELETE FROM content_erasures WHERE idx >= $1`,
			`DELETE FROM events WHERE idx >= $1`,
			`DELETE FROM batch_roots WHERE size > $1`,
			`DELETE FROM checkpoints WHERE size > $1`,
			// A batch's delta goes with its events; a rollup with the
			// batch that wrote it.
			`DELETE FROM aggregates WHERE (NOT rollup AND n >= $1) OR (rollup AND n > $1)`,
		} {
			if _, err := tx.Exec(ctx, q, int64(size)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tree_hashes WHERE idx >= $1`, tlog.StoredHashIndex(0, int64(size))); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE log_state SET size = $1, root = $2 WHERE id = 1`, int64(size), root)
		return err
	})
}

// AggregateRecords returns every stored aggregate record.
func (tp *Tamperer) AggregateRecords() ([]store.AggregateRecord, error) {
	ctx := context.Background()
	rows, err := tp.conn.Query(ctx, `SELECT cube, hour, rollup, n, cells FROM aggregates ORDER BY cube, hour, rollup DESC, n`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AggregateRecord
	for rows.Next() {
		var cube int16
		var hour, n int64
		var rollup bool
		var cells []byte
		if err := rows.Scan(&cube, &hour, &rollup, &n, &cells); err != nil {
			return nil, err
		}
		r := store.AggregateRecord{Cube: store.Cube(cube), Hour: uint32(hour), Cells: cells}
		if rollup {
			r.Upto = uint64(n)
		} else {
			r.First = uint64(n)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetAggregateRecord replaces the cells of a stored aggregate record.
func (tp *Tamperer) SetAggregateRecord(r store.AggregateRecord) error {
	n := r.First
	if r.Rollup() {
		n = r.Upto
	}
	return tp.exec(`UPDATE aggregates SET cells = $5 WHERE cube = $1 AND hour = $2 AND rollup = $3 AND n = $4`,
		int16(r.Cube), int64(r.Hour), r.Rollup(), int64(n), r.Cells)
}

// Close disconnects.
func (tp *Tamperer) Close() error { return tp.conn.Close(context.Background()) }
