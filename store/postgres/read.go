package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrail/agenttrail/store"
)

// LookupIDs implements store.Driver.
func (d *Driver) LookupIDs(ctx context.Context, ids []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := d.read(ctx, func(q querier) error {
		clear(out)
		rows, err := q.Query(ctx, `SELECT event_id, idx FROM event_ids WHERE event_id = ANY($1::TEXT[])`, ids)
		if err != nil {
			return err
		}
		var id string
		var idx int64
		_, err = pgx.ForEachRow(rows, []any{&id, &idx}, func() error {
			if idx < 0 {
				return fmt.Errorf("%w: the id index maps an event to index %d", store.ErrCorrupt, idx)
			}
			out[id] = uint64(idx)
			return nil
		})
		return err
	})
	return out, err
}

// entryColumns are the columns an entry read selects, with its content
// when asked. Content and erasure marks are read by index for each event
// row (correlated subqueries): a join would let the planner merge the
// whole contents table into every page of a scan.
func entryColumns(content bool) string {
	if content {
		return `e.idx, e.leaf_data, (SELECT c.record FROM contents c WHERE c.idx = e.idx),
EXISTS (SELECT 1 FROM content_erasures x WHERE x.idx = e.idx),
(SELECT k.record FROM content_keys k WHERE k.idx = e.idx) FROM events e`
	}
	return `e.idx, e.leaf_data, NULL::BYTEA, false, NULL::BYTEA FROM events e`
}

// scanEntry reads a row of entryColumns.
func scanEntry(rows pgx.Rows, content bool) (store.RawEntry, error) {
	var idx int64
	var e store.RawEntry
	var erased bool
	if err := rows.Scan(&idx, &e.LeafData, &e.Content, &erased, &e.ContentKey); err != nil {
		return e, err
	}
	if idx < 0 {
		return e, fmt.Errorf("%w: an event row has index %d", store.ErrCorrupt, idx)
	}
	e.Index = uint64(idx)
	if content && e.Content == nil {
		e.Erased = erased
	}
	if !content {
		e.Content, e.ContentKey = nil, nil
	}
	return e, nil
}

// ReadEntries implements store.Driver.
func (d *Driver) ReadEntries(ctx context.Context, indexes []uint64, content bool) ([]store.RawEntry, error) {
	want := make([]int64, 0, len(indexes))
	for _, i := range indexes {
		if i > math.MaxInt64 {
			return nil, fmt.Errorf("%w: no event at index %d", store.ErrNotFound, i)
		}
		want = append(want, int64(i))
	}
	found := make(map[uint64]store.RawEntry, len(indexes))
	err := d.read(ctx, func(q querier) error {
		clear(found)
		rows, err := q.Query(ctx, `SELECT `+entryColumns(content)+` WHERE e.idx = ANY($1::INT8[])`, want)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEntry(rows, content)
			if err != nil {
				return err
			}
			found[e.Index] = e
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.RawEntry, 0, len(indexes))
	for _, i := range indexes {
		e, ok := found[i]
		if !ok {
			return nil, fmt.Errorf("%w: no event at index %d", store.ErrNotFound, i)
		}
		out = append(out, e)
	}
	return out, nil
}

// Scan implements store.Driver. It reads in pages of consecutive matches,
// each one query on the columns of the filter, which PostgreSQL answers
// from the index on the most selective of them. Pages bound the memory and
// keep no connection across the caller's pauses; the events below the
// stored size never change, so pages of one scan agree with each other
// (and in read-only mode, every page reads the one snapshot).
func (d *Driver) Scan(ctx context.Context, r store.ScanRequest) iter.Seq2[store.RawEntry, error] {
	return func(yield func(store.RawEntry, error) bool) {
		lo, hi := r.Lo, r.Hi
		if hi > math.MaxInt64 {
			hi = math.MaxInt64
		}
		if lo >= hi {
			return
		}
		f := r.Filter
		if f == nil {
			f = &store.Filter{}
		}
		where, args := filterSQL(f)
		order, limit := "ASC", 512
		if r.Descending {
			order = "DESC"
		}
		if r.Content {
			limit = 64
		}
		// [lo, hi) shrinks from one end as pages are read.
		for lo < hi {
			page := make([]store.RawEntry, 0, limit)
			err := d.read(ctx, func(q querier) error {
				page = page[:0]
				a := append(append([]any(nil), args...), int64(lo), int64(hi))
				sql := fmt.Sprintf(`SELECT %s WHERE %s e.idx >= $%d AND e.idx < $%d ORDER BY e.idx %s LIMIT %d`,
					entryColumns(r.Content), where, len(a)-1, len(a), order, limit)
				rows, err := q.Query(ctx, sql, a...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					e, err := scanEntry(rows, r.Content)
					if err != nil {
						return err
					}
					page = append(page, e)
				}
				return rows.Err()
			})
			if err != nil {
				yield(store.RawEntry{}, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if len(page) < limit {
				return
			}
			last := page[len(page)-1].Index
			if r.Descending {
				hi = last
			} else {
				lo = last + 1
			}
		}
	}
}

// filterSQL returns the conditions of a filter, each followed by AND, and
// their arguments ($1...). Times are widened by a microsecond, the
// precision of TIMESTAMPTZ: the engine checks every candidate's header
// exactly.
func filterSQL(f *store.Filter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.SessionID != "" {
		add("e.session_id = $%d", f.SessionID)
	}
	if f.AgentID != "" {
		add("e.agent_id = $%d", f.AgentID)
	}
	if f.UserID != "" {
		add("e.user_id = $%d", f.UserID)
	}
	if f.ToolName != "" {
		add("e.tool_name = $%d", f.ToolName)
	}
	if f.ErrorsOnly {
		conds = append(conds, "e.failure")
	}
	if len(f.Kinds) > 0 {
		kinds := make([]int32, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = int32(k)
		}
		add("e.kind = ANY($%d::INT4[])", kinds)
	}
	if !f.OccurredAfter.IsZero() {
		add("e.occurred_at >= $%d", f.OccurredAfter.Add(-time.Microsecond))
	}
	if !f.OccurredBefore.IsZero() {
		add("e.occurred_at < $%d", f.OccurredBefore.Add(time.Microsecond))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return strings.Join(conds, " AND ") + " AND", args
}

// ReadHashes implements store.Driver.
func (d *Driver) ReadHashes(ctx context.Context, indexes []int64) ([][hashSize]byte, error) {
	for _, idx := range indexes {
		if idx < 0 {
			return nil, fmt.Errorf("%w: negative tree hash index", store.ErrInvalidArgument)
		}
	}
	found := make(map[int64][hashSize]byte, len(indexes))
	err := d.read(ctx, func(q querier) error {
		clear(found)
		rows, err := q.Query(ctx, `SELECT idx, hash FROM tree_hashes WHERE idx = ANY($1::INT8[])`, indexes)
		if err != nil {
			return err
		}
		var idx int64
		var h []byte
		_, err = pgx.ForEachRow(rows, []any{&idx, &h}, func() error {
			if len(h) != hashSize {
				return fmt.Errorf("%w: tree hash %d has %d bytes", store.ErrCorrupt, idx, len(h))
			}
			found[idx] = [hashSize]byte(h)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([][hashSize]byte, len(indexes))
	for i, idx := range indexes {
		h, ok := found[idx]
		if !ok {
			return nil, fmt.Errorf("%w: tree hash %d is not stored", store.ErrNotFound, idx)
		}
		out[i] = h
	}
	return out, nil
}

// pages yields the rows of a table keyed by size above after, by
// increasing size, a page at a time.
func pages[T any](d *Driver, ctx context.Context, table, column string, after uint64, decode func(size int64, val []byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if after >= math.MaxInt64 {
			return
		}
		const limit = 256
		from := int64(after)
		for {
			var page []T
			err := d.read(ctx, func(q querier) error {
				page = page[:0]
				rows, err := q.Query(ctx, fmt.Sprintf(`SELECT size, %s FROM %s WHERE size > $1 ORDER BY size LIMIT %d`, column, table, limit), from)
				if err != nil {
					return err
				}
				var size int64
				var val []byte
				_, err = pgx.ForEachRow(rows, []any{&size, &val}, func() error {
					v, err := decode(size, val)
					if err != nil {
						return err
					}
					page = append(page, v)
					from = size
					return nil
				})
				return err
			})
			if err != nil {
				yield(zero, err)
				return
			}
			for _, v := range page {
				if !yield(v, nil) {
					return
				}
			}
			if len(page) < limit {
				return
			}
		}
	}
}

// Roots implements store.Driver.
func (d *Driver) Roots(ctx context.Context, after uint64) iter.Seq2[store.TreeRoot, error] {
	return pages(d, ctx, "batch_roots", "root", after, func(size int64, root []byte) (store.TreeRoot, error) {
		if size < 0 || len(root) != hashSize {
			return store.TreeRoot{}, fmt.Errorf("%w: batch root of size %d has %d bytes", store.ErrCorrupt, size, len(root))
		}
		return store.TreeRoot{Size: uint64(size), Root: [hashSize]byte(root)}, nil
	})
}

// Checkpoints implements store.Driver.
func (d *Driver) Checkpoints(ctx context.Context, after uint64) iter.Seq2[store.StoredCheckpoint, error] {
	return pages(d, ctx, "checkpoints", "note", after, func(size int64, note []byte) (store.StoredCheckpoint, error) {
		if size < 0 {
			return store.StoredCheckpoint{}, fmt.Errorf("%w: checkpoint of size %d", store.ErrCorrupt, size)
		}
		return store.StoredCheckpoint{Size: uint64(size), Note: note}, nil
	})
}

// Checkpoint implements store.Driver.
func (d *Driver) Checkpoint(ctx context.Context, size uint64) ([]byte, error) {
	if size > math.MaxInt64 {
		return nil, fmt.Errorf("%w: no checkpoint of size %d", store.ErrNotFound, size)
	}
	var note []byte
	err := d.read(ctx, func(q querier) error {
		err := q.QueryRow(ctx, `SELECT note FROM checkpoints WHERE size = $1`, int64(size)).Scan(&note)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no checkpoint of size %d", store.ErrNotFound, size)
		}
		return err
	})
	return note, err
}

// LatestCheckpoint implements store.Driver.
func (d *Driver) LatestCheckpoint(ctx context.Context) (uint64, []byte, error) {
	var size int64
	var note []byte
	err := d.read(ctx, func(q querier) error {
		err := q.QueryRow(ctx, `SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &note)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no checkpoint is stored", store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	if size < 0 {
		return 0, nil, fmt.Errorf("%w: checkpoint of size %d", store.ErrCorrupt, size)
	}
	return uint64(size), note, nil
}

// Postings implements store.Driver: the metadata columns of every event
// row, which PostgreSQL's indexes are built from, as canonical postings.
// Read in pages by index, like Scan.
func (d *Driver) Postings(ctx context.Context) iter.Seq2[store.Posting, error] {
	return func(yield func(store.Posting, error) bool) {
		const limit = 2048
		from := int64(-1)
		for {
			var page []store.Posting
			n := 0
			err := d.read(ctx, func(q querier) error {
				page, n = page[:0], 0
				rows, err := q.Query(ctx, fmt.Sprintf(`SELECT idx, session_id, agent_id, user_id, tool_name, kind, failure, occurred_at
FROM events WHERE idx > $1 ORDER BY idx LIMIT %d`, limit), from)
				if err != nil {
					return err
				}
				var idx int64
				var session, agent, user, tool *string
				var kind int32
				var failure bool
				var at time.Time
				_, err = pgx.ForEachRow(rows, []any{&idx, &session, &agent, &user, &tool, &kind, &failure, &at}, func() error {
					n++
					from = idx
					if idx < 0 {
						return fmt.Errorf("%w: an event row has index %d", store.ErrCorrupt, idx)
					}
					add := func(f store.IndexField, v *string) {
						if v != nil {
							page = append(page, store.Posting{Field: f, Value: *v, Index: uint64(idx)})
						}
					}
					add(store.IndexSession, session)
					add(store.IndexAgent, agent)
					add(store.IndexUser, user)
					add(store.IndexTool, tool)
					k := strconv.FormatInt(int64(kind), 10)
					add(store.IndexKind, &k)
					if failure {
						page = append(page, store.Posting{Field: store.IndexFailure, Index: uint64(idx)})
					}
					h := store.HourValue(at)
					add(store.IndexHour, &h)
					return nil
				})
				return err
			})
			if err != nil {
				yield(store.Posting{}, err)
				return
			}
			for _, p := range page {
				if !yield(p, nil) {
					return
				}
			}
			if n < limit {
				return
			}
		}
	}
}
