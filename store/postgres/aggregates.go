package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agenttrail/agenttrail/store"
)

// insertAggregatesSQL files a batch's aggregate records (a delta under the
// batch's first index, a rollup under the size it covers up to).
const insertAggregatesSQL = `INSERT INTO aggregates (cube, hour, rollup, n, cells)
SELECT * FROM unnest($1::INT2[], $2::INT8[], $3::BOOL[], $4::INT8[], $5::BYTEA[])`

// aggregateRows are a batch's aggregate records as the columns of the
// INSERT, or nil when it has none.
func aggregateRows(b *store.Batch) []any {
	if len(b.Aggregates) == 0 {
		return nil
	}
	n := len(b.Aggregates)
	cube, hour, rollup, at, cells := make([]int16, n), make([]int64, n), make([]bool, n), make([]int64, n), make([][]byte, n)
	for i, r := range b.Aggregates {
		cube[i], hour[i], rollup[i], cells[i] = int16(r.Cube), int64(r.Hour), r.Rollup(), r.Cells
		at[i] = int64(b.First)
		if r.Rollup() {
			at[i] = int64(r.Upto)
		}
	}
	return []any{cube, hour, rollup, at, cells}
}

// aggregatesSQL reads, for one cube and the hours [$2, $3), each hour's
// latest rollup and the deltas at or after it: rollups first within an
// hour, then deltas by first index.
const aggregatesSQL = `WITH latest AS (
    SELECT hour, max(n) AS upto FROM aggregates
    WHERE cube = $1 AND hour >= $2 AND hour < $3 AND rollup
    GROUP BY hour
)
SELECT a.hour, a.rollup, a.n, a.cells
FROM aggregates a LEFT JOIN latest l ON l.hour = a.hour
WHERE a.cube = $1 AND a.hour >= $2 AND a.hour < $3
  AND ((a.rollup AND a.n = l.upto) OR (NOT a.rollup AND a.n >= coalesce(l.upto, 0)))
ORDER BY a.hour, a.rollup DESC, a.n`

// Aggregates implements store.Driver.
func (d *Driver) Aggregates(ctx context.Context, cube store.Cube, from, to uint32) iter.Seq2[store.AggregateRecord, error] {
	return func(yield func(store.AggregateRecord, error) bool) {
		var out []store.AggregateRecord
		err := d.read(ctx, func(q querier) error {
			out = out[:0]
			rows, err := q.Query(ctx, aggregatesSQL, int16(cube), int64(from), int64(to))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var hour, n int64
				var rollup bool
				var cells []byte
				if err := rows.Scan(&hour, &rollup, &n, &cells); err != nil {
					return err
				}
				if hour < 0 || hour > math.MaxUint32 || n < 0 || rollup && n == 0 {
					return fmt.Errorf("%w: aggregate record of hour %d at %d", store.ErrCorrupt, hour, n)
				}
				r := store.AggregateRecord{Cube: cube, Hour: uint32(hour), Cells: cells}
				if rollup {
					r.Upto = uint64(n)
				} else {
					r.First = uint64(n)
				}
				out = append(out, r)
			}
			return rows.Err()
		})
		if err != nil {
			yield(store.AggregateRecord{}, err)
			return
		}
		for _, r := range out {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// PutAggregates implements store.Driver.
func (d *Driver) PutAggregates(ctx context.Context, size uint64, rollups []store.AggregateRecord) error {
	if err := d.writable(); err != nil {
		return err
	}
	if size > math.MaxInt64/2 {
		return fmt.Errorf("%w: rollups up to %d", store.ErrInvalidArgument, size)
	}
	for _, r := range rollups {
		if r.Upto != size {
			return fmt.Errorf("%w: a rollup up to %d among rollups up to %d", store.ErrInvalidArgument, r.Upto, size)
		}
	}
	b := &store.Batch{First: size, Aggregates: rollups}
	cols := aggregateRows(b)
	if cols == nil {
		return nil
	}
	return d.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			// The state row's share lock keeps the size from moving while
			// the rollups are written for it.
			var stored int64
			if err := tx.QueryRow(ctx, `SELECT size FROM log_state WHERE id = 1 FOR SHARE`).Scan(&stored); err != nil {
				return err
			}
			if uint64(stored) != size {
				return fmt.Errorf("%w: rollups up to %d, the stored size is %d", store.ErrStale, size, stored)
			}
			if _, err := tx.Exec(ctx, insertAggregatesSQL, cols...); err != nil {
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "23505" {
					return fmt.Errorf("%w: a rollup up to %d is stored", store.ErrAlreadyExists, size)
				}
				return err
			}
			return nil
		})
	})
}
