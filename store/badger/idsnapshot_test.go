package badger

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	badgerdb "github.com/dgraph-io/badger/v4"
)

// A lookup that races a refresh (every commit refreshes the snapshot)
// still gets a snapshot and its bound: a stored id is never answered as
// absent. Before view checked again after taking its read lock, a refresh
// in between left the bound nil, which reads as "no id stored", and a
// kill -9 test saw an acknowledged event as not found.
func TestIDSnapshotViewRacesRefresh(t *testing.T) {
	db := openTempDB(t)
	key := idKey("stored-id")
	if err := db.Update(func(txn *badgerdb.Txn) error { return txn.Set(key, encodeU64(7)) }); err != nil {
		t.Fatal(err)
	}
	var s idSnapshot
	defer s.discard()
	var stop atomic.Bool
	refresher := make(chan struct{})
	go func() {
		defer close(refresher)
		for !stop.Load() {
			s.refresh(db)
		}
	}()
	var missed atomic.Int64
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for range 200000 {
				err := s.view(db, func(txn *badgerdb.Txn, last []byte) error {
					if bytes.Compare(key, last) > 0 {
						missed.Add(1)
						return nil
					}
					_, err := txn.Get(key)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	readers.Wait()
	stop.Store(true)
	<-refresher
	if n := missed.Load(); n > 0 {
		t.Errorf("got %d lookups that saw no stored id, want none", n)
	}
}
