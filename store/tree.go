package store

import (
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// frontier holds, for each level of the Merkle tree, the rightmost complete
// subtree's hash: exactly the stored hashes that appending the next leaf and
// computing the current root read (tlog.StoredHashesForRecordHash,
// tlog.TreeHash). The sequencer keeps it in memory so that appends never read
// tree hashes from disk.
type frontier struct {
	size  uint64
	nodes []frontierNode // by level
}

type frontierNode struct {
	n    int64 // index of the node at its level
	hash tlog.Hash
	ok   bool
}

func (f *frontier) clone() *frontier {
	return &frontier{size: f.size, nodes: append([]frontierNode(nil), f.nodes...)}
}

// ReadHashes implements tlog.HashReader for the hashes the frontier holds.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		if level >= len(f.nodes) || !f.nodes[level].ok || f.nodes[level].n != n {
			return nil, fmt.Errorf("%w: tree hash %d (level %d, node %d) is not on the frontier", ErrCorrupt, idx, level, n)
		}
		out[i] = f.nodes[level].hash
	}
	return out, nil
}

// add appends a leaf and returns the stored hashes it creates, in stored
// hash index order.
func (f *frontier) add(leaf tlog.Hash) ([]tlog.Hash, error) {
	hs, err := tlog.StoredHashesForRecordHash(int64(f.size), leaf, f)
	if err != nil {
		return nil, err
	}
	for level, h := range hs {
		for len(f.nodes) <= level {
			f.nodes = append(f.nodes, frontierNode{})
		}
		f.nodes[level] = frontierNode{n: int64(f.size >> level), hash: h, ok: true}
	}
	f.size++
	return hs, nil
}

// root is the tree hash of the frontier's tree.
func (f *frontier) root() (tlog.Hash, error) {
	if f.size == 0 {
		return tlog.Hash{}, nil
	}
	return tlog.TreeHash(int64(f.size), f)
}

// loadFrontier reads the frontier of a tree of the given size from stored
// hashes.
func loadFrontier(r tlog.HashReader, size uint64) (*frontier, error) {
	f := &frontier{size: size}
	for level := 0; level < 64 && size>>level > 0; level++ {
		n := int64(size>>level) - 1
		// The rightmost complete node at this level covers leaves
		// [n<<level, (n+1)<<level); it exists when that is within size.
		idx := tlog.StoredHashIndex(level, n)
		hs, err := r.ReadHashes([]int64{idx})
		if err != nil {
			return nil, err
		}
		f.nodes = append(f.nodes, frontierNode{n: n, hash: hs[0], ok: true})
	}
	return f, nil
}

// storedHashReader reads tree hashes from the hash bundles in Badger. Each
// bundle holds the consecutive stored hashes of one batch under the stored
// hash index of its first hash; a read finds the bundle at or below the
// index. A small cache of decoded bundles serves proofs, which read a few
// hashes from each of a few bundles.
type storedHashReader struct {
	view func(func(*badger.Txn) error) error

	mu    sync.Mutex
	cache map[uint64][]tlog.Hash // by bundle's first index
	order []uint64               // insertion order, for eviction
}

const hashBundleCacheSize = 256

func newStoredHashReader(view func(func(*badger.Txn) error) error) *storedHashReader {
	return &storedHashReader{view: view, cache: make(map[uint64][]tlog.Hash)}
}

// ReadHashes implements tlog.HashReader.
func (r *storedHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	err := r.view(func(txn *badger.Txn) error {
		return r.readIn(txn, indexes, out)
	})
	return out, err
}

func (r *storedHashReader) readIn(txn *badger.Txn, indexes []int64, out []tlog.Hash) error {
	for i, idx := range indexes {
		if idx < 0 {
			return fmt.Errorf("%w: negative tree hash index", ErrInvalidArgument)
		}
		if h, ok := r.cached(uint64(idx)); ok {
			out[i] = h
			continue
		}
		first, hs, err := r.load(txn, uint64(idx))
		if err != nil {
			return err
		}
		out[i] = hs[uint64(idx)-first]
	}
	return nil
}

func (r *storedHashReader) cached(idx uint64) (tlog.Hash, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, first := range r.order {
		hs := r.cache[first]
		if idx >= first && idx-first < uint64(len(hs)) {
			return hs[idx-first], true
		}
	}
	return tlog.Hash{}, false
}

func (r *storedHashReader) load(txn *badger.Txn, idx uint64) (uint64, []tlog.Hash, error) {
	key, val, err := seekFloor(txn, prefixHashes, idx)
	if err != nil {
		return 0, nil, err
	}
	first := keyIndex(key)
	hs, err := decodeHashes(val)
	if err != nil {
		return 0, nil, fmt.Errorf("hash bundle %d: %w", first, err)
	}
	if idx-first >= uint64(len(hs)) {
		return 0, nil, fmt.Errorf("%w: tree hash %d is not stored", ErrNotFound, idx)
	}
	r.mu.Lock()
	if _, ok := r.cache[first]; !ok {
		if len(r.order) >= hashBundleCacheSize {
			delete(r.cache, r.order[0])
			r.order = r.order[1:]
		}
		r.cache[first] = hs
		r.order = append(r.order, first)
	}
	r.mu.Unlock()
	return first, hs, nil
}

// seekFloor returns the key and value of the greatest key with the given
// one-byte prefix whose 8-byte index is at most n, or ErrNotFound.
func seekFloor(txn *badger.Txn, prefix byte, n uint64) ([]byte, []byte, error) {
	opts := badger.DefaultIteratorOptions
	opts.Reverse = true
	opts.PrefetchValues = false
	opts.Prefix = []byte{prefix}
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Seek(u64Key(prefix, n))
	if !it.Valid() {
		return nil, nil, fmt.Errorf("%w: nothing stored at or below %d", ErrNotFound, n)
	}
	item := it.Item()
	key := item.KeyCopy(nil)
	if len(key) != 9 {
		return nil, nil, fmt.Errorf("%w: key of %d bytes under prefix %q", ErrCorrupt, len(key), prefix)
	}
	val, err := item.ValueCopy(nil)
	if err != nil {
		return nil, nil, err
	}
	return key, val, nil
}

// storedHashCount is the number of stored hashes of a tree of size n.
func storedHashCount(n uint64) int64 { return tlog.StoredHashCount(int64(n)) }
