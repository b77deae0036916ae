package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// subjectKey returns the key that encrypts the content keys of a subject's
// new events: the one in use, or the subject's live key in the keyring, or
// a new one, whose record then commits with the batch b. A key the batch
// did not create is one the batch relies on (Batch.RequireKeys): a shared
// driver refuses the batch if another server retired it meanwhile.
func (q *sequencer) subjectKey(s subject, b *batchBuilder) (*subjectKey, error) {
	q.subjectsMu.Lock()
	sk, ok := q.subjects[s]
	q.subjectsMu.Unlock()
	if ok {
		b.require(sk)
		return sk, nil
	}
	return q.freshSubjectKey(s, b)
}

// freshSubjectKey is subjectKey without the cache: it reads the keyring.
func (q *sequencer) freshSubjectKey(s subject, b *batchBuilder) (*subjectKey, error) {
	sk, err := q.s.currentSubjectKey(context.Background(), s)
	if err != nil {
		return nil, err
	}
	if sk == nil {
		if sk = b.created[s]; sk == nil {
			random := make([]byte, newSubjectKeyRandom)
			if _, err := rand.Read(random); err != nil {
				return nil, fmt.Errorf("store: reading random bytes: %w", err)
			}
			var rec KeyRecord
			sk, rec, err = q.s.keys.newSubjectKey(s, b.fr.size, random)
			if err != nil {
				return nil, err
			}
			b.batch.Keys = append(b.batch.Keys, rec)
			if b.created == nil {
				b.created = map[subject]*subjectKey{}
			}
			b.created[s] = sk
		}
	} else {
		b.require(sk)
	}
	q.subjectsMu.Lock()
	if len(q.subjects) >= maxCachedKeys {
		clear(q.subjects)
	}
	q.subjects[s] = sk
	q.subjectsMu.Unlock()
	return sk, nil
}

// require notes that the batch relies on a subject key it did not create.
func (b *batchBuilder) require(sk *subjectKey) {
	for _, c := range b.created {
		if c == sk {
			return
		}
	}
	for _, r := range b.batch.RequireKeys {
		if string(r.Name) == string(sk.name) {
			return
		}
	}
	b.batch.RequireKeys = append(b.batch.RequireKeys, KeyRecord{Name: sk.name, Value: sk.record})
}

// currentSubjectKey returns the live subject key of a subject from the
// keyring, or nil when it has none. A key an erasure retired (destroyed, or
// about to be: its record holds the retired mark) is never used again.
func (s *Store) currentSubjectKey(ctx context.Context, subj subject) (*subjectKey, error) {
	var best KeyRecord
	var bestCreated uint64
	found := false
	for rec, err := range s.d.KeysWithPrefix(ctx, subj.prefix()) {
		if err != nil {
			return nil, fmt.Errorf("store: reading the keyring: %w", err)
		}
		got, _, ok := parseSubjectKeyName(rec.Name)
		if !ok || got != subj || s.isRetired(rec.Name) || isRetiredRecord(rec.Value) {
			continue
		}
		r, err := decodeSubjectKeyRecord(rec.Value)
		if err != nil {
			return nil, err
		}
		if !found || r.created >= bestCreated {
			best, bestCreated, found = rec, r.created, true
		}
	}
	if !found {
		return nil, nil
	}
	a, _, err := s.keys.unwrapSubjectKey(best.Name, best.Value)
	if err != nil {
		return nil, err
	}
	_, id, _ := parseSubjectKeyName(best.Name)
	s.keys.remember(best.Name, a)
	return &subjectKey{name: best.Name, id: id, aead: a, record: best.Value}, nil
}

// isRetired reports whether an erasure retired a subject key.
func (s *Store) isRetired(name []byte) bool {
	s.retiredMu.Lock()
	defer s.retiredMu.Unlock()
	return s.retired[string(name)]
}

// retire marks subject keys as retired: no event is encrypted under them
// again.
func (s *Store) retire(names [][]byte) {
	s.retiredMu.Lock()
	defer s.retiredMu.Unlock()
	for _, n := range names {
		s.retired[string(n)] = true
	}
}

// unretire forgets retired keys once they are destroyed.
func (s *Store) unretire(names [][]byte) {
	s.retiredMu.Lock()
	defer s.retiredMu.Unlock()
	for _, n := range names {
		delete(s.retired, string(n))
	}
}

// encryptBatch encrypts the content of every event of a batch under a new
// content key, wrapped by its subject key: on every core when the batch is
// large, as preflight does.
func encryptBatch(b *batchBuilder, hook func(name, key []byte)) error {
	n := len(b.batch.Events)
	random := make([]byte, encryptRandom*n)
	if _, err := rand.Read(random); err != nil {
		return fmt.Errorf("store: reading random bytes: %w", err)
	}
	do := func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			index := b.batch.First + uint64(i)
			pe := b.entries[i]
			rnd := random[i*encryptRandom : (i+1)*encryptRandom]
			rec, key, err := encryptContent(index, pe.key, pe.sealed.salt, pe.sealed.content, rnd)
			if err != nil {
				return err
			}
			if hook != nil {
				hook(EventKeyName(index), rnd[:32])
			}
			b.batch.Events[i].Content, b.batch.Events[i].ContentKey = rec, key
		}
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	if n < 64 || workers < 2 {
		return do(0, n)
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	per := (n + workers - 1) / workers
	for w := 0; w*per < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			errs[w] = do(w*per, min((w+1)*per, n))
		}(w)
	}
	wg.Wait()
	return errors.Join(errs...)
}
