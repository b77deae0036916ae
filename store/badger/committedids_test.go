package badger

import (
	"context"
	"errors"
	"testing"

	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/event/eventtest"
)

// When the ids the driver keeps in memory reach their bound, it forgets
// them and keeps those from the next batch on: a batch looked up before
// that is checked against the database, one looked up since in memory.
func TestCommittedIDsMoveOnWhenFull(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.committed.max = 2
	ctx := context.Background()
	commit := func(first, lookedUpAt uint64, names ...string) error {
		b := &store.Batch{First: first, Size: first + uint64(len(names)), IDsLookedUpAt: lookedUpAt}
		for _, n := range names {
			b.Events = append(b.Events, store.BatchEvent{EventID: eventtest.ID(n), LeafData: []byte("leaf"), Content: []byte("content")})
			b.Hashes = append(b.Hashes, [store.HashSize]byte{1})
		}
		return d.Commit(ctx, b)
	}
	if err := commit(0, 0, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := commit(2, 2, "c"); err != nil {
		t.Fatal(err)
	}
	if d.committed.from != 2 || len(d.committed.ids) != 1 {
		t.Errorf("kept ids from %d, %d of them; want from 2, 1", d.committed.from, len(d.committed.ids))
	}
	for _, tc := range []struct {
		name       string
		lookedUpAt uint64
	}{
		{"a", 1}, // before what memory holds: read from the database
		{"c", 2},
	} {
		if err := commit(3, tc.lookedUpAt, "d", tc.name); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("Commit of stored id %s looked up at %d = %v, want ErrAlreadyExists", tc.name, tc.lookedUpAt, err)
		}
	}
}
