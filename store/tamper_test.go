package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// tamperedStore builds a closed store of n events in small batches.
func tamperedStore(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, WithClock(func() time.Time { return eventtest.T0.Add(time.Hour) }),
		WithCheckpointInterval(0), WithBatchLimits(8, 1<<20, 0))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 8 {
		var evs = eventsFrom(i, min(i+8, n))
		res, err := s.Append(context.Background(), "agent", evs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func eventsFrom(lo, hi int) []*agenttrailv1.Event {
	var evs []*agenttrailv1.Event
	for i := lo; i < hi; i++ {
		evs = append(evs, testEvent(fmt.Sprintf("t-%04d", i), i))
	}
	return evs
}

// editRaw changes the stored bytes of a closed store directly through
// Badger, as an attacker with disk access would.
func editRaw(t *testing.T, dir string, edit func(txn *badger.Txn) error) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir + "/events").WithLogger(nil).WithValueThreshold(1 << 10))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(edit); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func rawGet(txn *badger.Txn, key []byte) []byte {
	item, err := txn.Get(key)
	if err != nil {
		panic(err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		panic(err)
	}
	return v
}

func TestVerifyNamesTheFirstTamperedEvent(t *testing.T) {
	const n = 50
	tests := []struct {
		name   string
		edit   func(txn *badger.Txn) error
		want   uint64
		reason string
	}{
		{"content byte", func(txn *badger.Txn) error {
			v := rawGet(txn, contentKey(17))
			v[len(v)-3] ^= 0x01
			return txn.Set(contentKey(17), v)
		}, 17, "content does not match"},
		{"salt byte", func(txn *badger.Txn) error {
			v := rawGet(txn, contentKey(3))
			v[5] ^= 0x80
			return txn.Set(contentKey(3), v)
		}, 3, "content does not match"},
		{"header byte", func(txn *badger.Txn) error {
			v := rawGet(txn, recordKey(29))
			v[12] ^= 0x04
			return txn.Set(recordKey(29), v)
		}, 29, "leaf hash"},
		{"digest byte", func(txn *badger.Txn) error {
			v := rawGet(txn, recordKey(41))
			v[len(v)-1] ^= 0x01
			return txn.Set(recordKey(41), v)
		}, 41, "leaf hash"},
		{"deleted event record", func(txn *badger.Txn) error {
			return txn.Delete(recordKey(22))
		}, 22, "record is missing"},
		{"deleted content", func(txn *badger.Txn) error {
			return txn.Delete(contentKey(9))
		}, 9, "missing"},
		{"deleted id index", func(txn *badger.Txn) error {
			return txn.Delete(idKey("t-0033"))
		}, 33, "id index"},
		{"swapped events", func(txn *badger.Txn) error {
			a, b := rawGet(txn, recordKey(12)), rawGet(txn, recordKey(35))
			ca, cb := rawGet(txn, contentKey(12)), rawGet(txn, contentKey(35))
			for _, kv := range []struct{ k, v []byte }{{recordKey(12), b}, {recordKey(35), a}, {contentKey(12), cb}, {contentKey(35), ca}} {
				if err := txn.Set(kv.k, kv.v); err != nil {
					return err
				}
			}
			return nil
		}, 12, "leaf hash"},
		{"tree hash", func(txn *badger.Txn) error {
			// Rewrite the batch's stored hashes with one leaf hash changed.
			key, val, err := seekFloor(txn, prefixHashes, uint64(storedHashCount(26)))
			if err != nil {
				return err
			}
			val[0] ^= 1
			return txn.Set(key, val)
		}, 24, "leaf hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tamperedStore(t, n)
			rep, err := VerifyDir(context.Background(), dir, "")
			if err != nil || !rep.OK() {
				t.Fatalf("before tampering: VerifyDir = %+v, %v", rep, err)
			}
			editRaw(t, dir, tt.edit)
			rep, err = VerifyDir(context.Background(), dir, "")
			if err != nil {
				t.Fatalf("VerifyDir: %v", err)
			}
			if rep.Problem == nil {
				t.Fatalf("VerifyDir found nothing wrong after tampering")
			}
			if rep.Problem.Index != tt.want {
				t.Errorf("first bad index %d (%s), want %d", rep.Problem.Index, rep.Problem.Reason, tt.want)
			}
			if !strings.Contains(rep.Problem.Reason, tt.reason) {
				t.Errorf("reason %q, want it to mention %q", rep.Problem.Reason, tt.reason)
			}
		})
	}
}
