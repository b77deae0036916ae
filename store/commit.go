package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// This file is the committer's side of the sequencer: committing a
// prepared batch, and, when the log moved on under it, preparing it again.
//
// One writer per store (Badger) never sees the log move. A shared driver
// (SharedDriver: several servers on one database) does, whenever another
// server commits first. The driver refuses such a batch with ErrStale,
// writing nothing; the committer then reloads the tree from the driver and
// prepares the same sealed events again (their leaves do not depend on
// their indexes), looking their ids up again so that an event another
// server stored meanwhile becomes a duplicate receipt or AlreadyExists,
// and tries again. A conflict between servers therefore never reaches a
// client. A commit whose outcome is unknown (the database went away
// during COMMIT) is resolved by reading the log: the batch is there, at
// its indexes, or it is not and is prepared again.

// errOpStale answers the batch of a lifecycle operation that the log moved
// past before it committed: runOp runs the operation again.
var errOpStale = errors.New("store: the log moved on under a lifecycle operation")

// unavailableAfter is how long the committer of a shared driver goes on
// trying to reach the storage before it answers a batch with
// ErrUnavailable.
const unavailableAfter = 30 * time.Second

// commitBatch commits a prepared batch, preparing it again on the stored
// tree as often as the log moved on. It returns the failure to answer the
// batch with, and whether it stops the store.
func (q *sequencer) commitBatch(p *prepared) (failure error, sticky bool) {
	s := q.s
	ctx := context.Background()
	// A batch prepared on a tree that is not the one the committer knows
	// (an earlier batch was prepared again), or, for a shared driver, that
	// another writer has already extended, is stale before it is tried.
	// The trees are compared, not their sizes: an earlier batch whose
	// events another server stored meanwhile, in a batch of the same size,
	// leaves the committer's tree at the size this batch starts at, with
	// other leaves, and the driver, which checks only the size, would take
	// this batch's tree hashes, computed on the dropped batch's leaves.
	var base *frontier
	rebase := false
	if !p.b.base.same(q.cfr) {
		rebase, base = true, q.cfr
	}
	if q.shared != nil && s.head.Load().size > p.b.batch.First {
		rebase, base = true, nil
	}
	rekey := false   // a subject key the batch uses was retired by another server
	unknown := false // the last commit's outcome is unknown
	var giveUp time.Time
	backoff := 5 * time.Millisecond
	wait := func(err error) error {
		if giveUp.IsZero() {
			giveUp = time.Now().Add(unavailableAfter)
		}
		if time.Now().After(giveUp) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		s.log.Warn("the storage is unreachable; retrying the batch", slog.Uint64("first", p.b.batch.First), slog.Any("error", err))
		time.Sleep(backoff/2 + rand.N(backoff))
		backoff = min(2*backoff, time.Second)
		return nil
	}
	for stale := 0; ; {
		if unknown {
			landed, err := q.landed(p)
			if err != nil {
				if err := wait(err); err != nil {
					return err, false
				}
				continue
			}
			unknown = false
			q.agg.reset() // read the aggregates again, whichever way it went
			if landed {
				q.commitDone(p)
				return nil, false
			}
			rebase, base = true, nil
		}
		if rebase && p.op {
			// A lifecycle operation decided on the log as it was: it runs
			// again on the log as it is now.
			return errOpStale, false
		}
		if rebase {
			if err := q.rebase(p, base, rekey); err != nil {
				if q.shared == nil || errors.Is(err, ErrCorrupt) {
					return err, true
				}
				if err := wait(err); err != nil {
					return err, false
				}
				continue
			}
			rebase, base, rekey = false, nil, false
			if p.b == nil {
				// Every event turned out to be stored: the sequencer's
				// tree, which counted them, is wrong.
				q.setRebased()
				return nil, false
			}
		}
		apply, err := q.aggregates(p)
		if err != nil {
			if q.shared == nil {
				return err, true
			}
			if err := wait(err); err != nil {
				return err, false
			}
			continue
		}
		start := time.Now()
		err = s.d.Commit(ctx, &p.b.batch)
		switch {
		case err == nil:
			apply()
			s.recent.add(p.b.batch.First, p.b.batch.Events) // before the head moves to it
			if s.cfg.observe != nil {
				s.cfg.observe(CommitInfo{Events: len(p.b.batch.Events), Duration: time.Since(start)})
			}
			q.commitDone(p)
			return nil, false
		case errors.Is(err, ErrStale), q.shared != nil && errors.Is(err, ErrAlreadyExists):
			// Another writer committed first: prepare the batch again on
			// the tree it left (with fresh subject keys when another
			// server retired one the batch used), with aggregates read
			// again from the storage, since they now hold that writer's
			// batches.
			q.agg.reset()
			rebase = true
			rekey = rekey || errors.Is(err, ErrKeyChanged)
			if stale++; stale > 3 {
				time.Sleep(rand.N(time.Duration(min(stale, 20)) * time.Millisecond))
			}
		case q.shared != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrInvalidArgument):
			unknown = true
			if err := wait(err); err != nil {
				return err, false
			}
		default:
			return fmt.Errorf("%w: committing batch of %d events at index %d: %w", ErrFailed, len(p.b.entries), p.b.batch.First, err), true
		}
	}
}

// aggregates computes a batch's aggregate records (Batch.Aggregates) for
// its current indexes, and returns what to apply once it is committed.
func (q *sequencer) aggregates(p *prepared) (func(), error) {
	b := p.b
	if q.s.cfg.noAggregates {
		b.batch.Aggregates = nil
		return func() {}, nil
	}
	evs := make([]*agenttrailv1.Event, len(b.entries))
	for i, e := range b.entries {
		evs[i] = e.ev
	}
	recs, apply, err := q.agg.batch(context.Background(), evs, b.batch.First, b.batch.Size, q.cfr.size)
	if err != nil {
		return nil, err
	}
	b.batch.Aggregates = recs
	return apply, nil
}

// commitDone records a batch as the committer's tree and publishes it.
func (q *sequencer) commitDone(p *prepared) {
	q.cfr = p.b.fr.clone()
	if p.moved {
		q.setRebased()
	}
	q.published(p)
}

// setRebased tells the sequencer to prepare its next batch on the
// committer's tree: the batches it prepared on its own went elsewhere.
func (q *sequencer) setRebased() {
	q.mu.Lock()
	q.rebased = q.cfr.clone()
	q.mu.Unlock()
}

// landed reports whether a batch whose commit's outcome is unknown is in
// the log: every one of its event ids stored at the index it was given.
func (q *sequencer) landed(p *prepared) (bool, error) {
	ctx := context.Background()
	st, err := q.s.d.Load(ctx)
	if err != nil {
		return false, err
	}
	b := &p.b.batch
	if st.Size < b.Size {
		return false, nil
	}
	ids := make([]string, len(b.Events))
	for i, e := range b.Events {
		ids[i] = e.EventID
	}
	found, err := q.s.d.LookupIDs(ctx, ids)
	if err != nil {
		return false, err
	}
	for i, id := range ids {
		if at, ok := found[id]; !ok || at != b.First+uint64(i) {
			return false, nil
		}
	}
	return true, nil
}

// rebase prepares a batch again on a tree: base, or, when base is nil, the
// stored tree, read back from the driver and checked against its recorded
// root. Events whose ids are stored by now are answered from the stored
// event (their original receipt, or AlreadyExists); the others keep their
// sealed leaves and take the next indexes. p.b is nil afterwards when no
// event is left to commit.
func (q *sequencer) rebase(p *prepared, base *frontier, rekey bool) error {
	s := q.s
	ctx := context.Background()
	if base == nil {
		// The log moved under this store (another writer, or a commit of
		// unknown outcome): the aggregates in memory may lack batches.
		q.agg.reset()
		st, err := s.d.Load(ctx)
		if err != nil {
			return err
		}
		fr, err := loadTree(s.hashes, st)
		if err != nil {
			return err
		}
		if st.Size > q.cfr.size {
			q.cfr = fr.clone()
		}
		base = fr
	}
	old := p.b
	ids := make([]string, len(old.entries))
	for i, pe := range old.entries {
		ids[i] = pe.ev.GetEventId()
	}
	found, err := s.d.LookupIDs(ctx, ids)
	if err != nil {
		return err
	}
	b := newBatchBuilder(base.clone(), old.received)
	// The subject keys the old batch created or relied on go with it,
	// unless another server retired one: then every key is looked up again.
	b.batch.Keys, b.batch.RequireKeys = old.batch.Keys, old.batch.RequireKeys
	if rekey {
		b.batch.Keys, b.batch.RequireKeys = nil, nil
	}
	for _, pe := range old.entries {
		if index, ok := found[pe.ev.GetEventId()]; ok {
			r, err := q.existing(index, pe.ev)
			switch {
			case err == nil:
				pe.receipt, pe.stored = r, true
			case errors.Is(err, ErrAlreadyExists):
				pe.err = err
			default:
				return err
			}
			continue
		}
		if rekey && s.keys != nil {
			var err error
			if pe.key, err = q.freshSubjectKey(subjectOf(pe.ev), b); err != nil {
				return err
			}
		}
		if err := b.add(pe); err != nil {
			return err
		}
	}
	p.moved = true
	if len(b.entries) == 0 {
		p.b = nil
		return nil
	}
	if s.keys != nil {
		// Content is encrypted for its index: again, at the new ones.
		if err := encryptBatch(b, s.keys.hook); err != nil {
			return err
		}
	}
	cp, err := b.finish(s, p.signed)
	if err != nil {
		return err
	}
	if p.signed {
		p.cp = cp
	}
	p.b = b
	s.log.Debug("batch prepared again on the stored tree", slog.Uint64("first", b.batch.First), slog.Int("events", len(b.entries)))
	return nil
}

// loadTree reads the frontier of a stored tree and checks it against the
// root recorded with it.
func loadTree(hashes tlog.HashReader, st LogState) (*frontier, error) {
	fr := &frontier{}
	if st.Size > 0 {
		var err error
		if fr, err = loadFrontier(hashes, st.Size); err != nil {
			return nil, fmt.Errorf("store: reading the tree: %w", err)
		}
	}
	root, err := fr.root()
	if err != nil {
		return nil, err
	}
	if root != st.Root {
		return nil, fmt.Errorf("%w: the tree of size %d has root %x, but %x was recorded", ErrCorrupt, st.Size, root, st.Root)
	}
	return fr, nil
}

// signCommitted signs and stores the checkpoint of a tree this store has
// just committed (shared drivers sign only after the commit).
func (q *sequencer) signCommitted(size uint64, root tlog.Hash) {
	if q.s.head.Load().checkpoint.Size >= size {
		return
	}
	cp, err := q.s.storeCheckpoint(context.Background(), size, root)
	if err != nil {
		q.s.log.Error("storing the checkpoint of a committed batch failed; the timer signs again", slog.Uint64("tree_size", size), slog.Any("error", err))
		return
	}
	q.s.record.noteSigned(cp)
	q.s.advance(size, root, cp)
}

// advance moves the head forward to a tree and, when it is newer, a
// checkpoint; it never moves either back, whoever calls it first (the
// committer after its own commits, the follower after other writers').
func (s *Store) advance(size uint64, root tlog.Hash, cp Checkpoint) {
	for {
		cur := s.head.Load()
		next := *cur
		moved := false
		if size > cur.size {
			next.size, next.root, moved = size, root, true
		}
		if cp.Note != nil && cp.Size > cur.checkpoint.Size && cp.Size <= next.size {
			next.checkpoint, moved = cp, true
		}
		if !moved {
			return
		}
		next.changed = make(chan struct{})
		if s.head.CompareAndSwap(cur, &next) {
			close(cur.changed)
			return
		}
	}
}

// follow keeps the head up with the batches and checkpoints other writers
// commit to a shared driver, until stop is closed.
func (s *Store) follow(sd SharedDriver, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ch := sd.Changes()
	if ch == nil {
		return
	}
	failing := false
	for {
		select {
		case <-stop:
			return
		case <-ch:
		}
		err := s.reading(context.Background(), func() error {
			if err := s.refresh(context.Background()); err != nil {
				return err
			}
			// The holds, policies and erasures other servers logged.
			s.lifeMu.Lock()
			defer s.lifeMu.Unlock()
			return s.loadLifecycleState(context.Background())
		})
		switch {
		case err != nil && !failing:
			failing = true
			s.log.Warn("reading the log's head failed", slog.Any("error", err))
		case err == nil && failing:
			failing = false
			s.log.Info("reading the log's head works again")
		}
	}
}

// refresh reads the stored tree size and latest checkpoint and moves the
// head to them. The checkpoint is read first: it never covers more than
// the size read after it.
func (s *Store) refresh(ctx context.Context) error {
	cpSize, note, err := s.d.LatestCheckpoint(ctx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	st, err := s.d.Load(ctx)
	if err != nil {
		return err
	}
	var cp Checkpoint
	if note != nil && cpSize > s.head.Load().checkpoint.Size {
		if cp, err = s.openCheckpoint(note); err != nil || cp.Size != cpSize || cp.Size > st.Size {
			s.log.Error("a stored checkpoint does not verify with this server's key, or exceeds the log: is another server signing with another key?",
				slog.Uint64("checkpoint_size", cpSize), slog.Uint64("tree_size", st.Size), slog.Any("error", err))
			cp = Checkpoint{}
		}
	}
	s.advance(st.Size, st.Root, cp)
	return nil
}
