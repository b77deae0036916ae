package badger

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	badgerdb "github.com/dgraph-io/badger/v4"
)

// A bundleFinder answers every order of reads as a lone floor seek does:
// in log order and backwards (where it steps from bundle to bundle), with
// gaps, up and down in turn, and at random. The layout
// has bundles of one to five events and indexes in no bundle, as a store
// written partly before bundles has; half of it is flushed to tables, so
// the iterators merge tables and memtables.
func TestBundleFinderAnswersEveryOrder(t *testing.T) {
	db := openTempDB(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var next, max uint64
	write := func(bundles int) {
		err := db.Update(func(txn *badgerdb.Txn) error {
			for range bundles {
				next += uint64(rng.IntN(3)) // 0: contiguous; else a gap
				n := 1 + rng.IntN(5)
				state, recs := make([]byte, n), make([][]byte, n)
				for i := range n {
					state[i] = slotStored
					recs[i] = fmt.Appendf(nil, "record %d", next+uint64(i))
				}
				first, last := next, next+uint64(n-1)
				if err := txn.Set(bundleKey(prefixLeaves, first, last), encodeBundle(state, recs)); err != nil {
					return err
				}
				next, max = last+1, last
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write(150)
	if err := db.Flatten(1); err != nil {
		t.Fatal(err)
	}
	write(150)

	all := make([]uint64, 0, max+4)
	for i := uint64(0); i <= max+3; i++ {
		all = append(all, i)
	}
	var everyThird, growing []uint64
	for i := uint64(0); i <= max+3; i += 3 {
		everyThird = append(everyThird, i)
	}
	for i := uint64(0); i <= max+3; i += 1 + uint64(rng.IntN(40)) {
		growing = append(growing, i)
	}
	backwards := slices.Clone(all)
	slices.Reverse(backwards)
	backwardsThird := slices.Clone(everyThird)
	slices.Reverse(backwardsThird)
	// Up a run of indexes and down it again, run after run, so that each
	// direction starts where the other left its iterators.
	var zigzag []uint64
	for lo := uint64(0); lo <= max; lo += 20 {
		up := all[lo:min(lo+25, uint64(len(all)))]
		zigzag = append(zigzag, up...)
		for i := len(up) - 1; i >= 0; i-- {
			zigzag = append(zigzag, up[i])
		}
	}
	random := slices.Clone(all)
	rng.Shuffle(len(random), func(i, j int) { random[i], random[j] = random[j], random[i] })
	orders := map[string][]uint64{"log order": all, "every third": everyThird, "growing gaps": growing,
		"backwards": backwards, "backwards, every third": backwardsThird, "up and down": zigzag, "random": random}

	describe := func(b *bundle, err error) string {
		switch {
		case err != nil:
			return "error " + err.Error()
		case b == nil:
			return "none"
		}
		return fmt.Sprintf("bundle %d-%d", b.first, b.last())
	}
	err := db.View(func(txn *badgerdb.Txn) error {
		for name, order := range orders {
			f := newBundleFinder(txn, prefixLeaves)
			for _, idx := range order {
				got := describe(f.find(idx))
				want := describe(findBundle(txn, prefixLeaves, idx))
				if got != want {
					t.Errorf("%s: find(%d) = %s, want %s", name, idx, got, want)
				}
			}
			f.close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
