package store

import (
	"context"
	"fmt"
	"sync"

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

// same reports whether two frontiers are of one tree: the same size and the
// same rightmost complete subtree at every level. Two trees of one size
// whose leaves differ differ here, and would lead a batch appended to the
// one to store wrong tree hashes if it were committed on the other.
func (f *frontier) same(g *frontier) bool {
	if f.size != g.size {
		return false
	}
	for l := 0; l < max(len(f.nodes), len(g.nodes)); l++ {
		var a, b frontierNode
		if l < len(f.nodes) {
			a = f.nodes[l]
		}
		if l < len(g.nodes) {
			b = g.nodes[l]
		}
		if a.ok != b.ok || a.ok && (a.n != b.n || a.hash != b.hash) {
			return false
		}
	}
	return true
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
	var idxs []int64
	for level := 0; level < 64 && size>>level > 0; level++ {
		n := int64(size>>level) - 1
		// The rightmost complete node at this level covers leaves
		// [n<<level, (n+1)<<level); it exists when that is within size.
		idxs = append(idxs, tlog.StoredHashIndex(level, n))
		f.nodes = append(f.nodes, frontierNode{n: n, ok: true})
	}
	// One read for all levels: a round trip each would cost a shared
	// driver dearly every time another server moves the log.
	hs, err := r.ReadHashes(idxs)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(idxs) {
		return nil, fmt.Errorf("%w: asked for %d tree hashes, got %d", ErrCorrupt, len(idxs), len(hs))
	}
	for i := range f.nodes {
		f.nodes[i].hash = hs[i]
	}
	return f, nil
}

// hashReader reads stored tree hashes through the driver, as a
// tlog.HashReader. Drivers keep the hashes of one batch together; a small
// cache of recently read hashes serves proofs, which read a few hashes from
// each of a few batches, and the stored hashes never change.
type hashReader struct {
	d Driver

	mu    sync.Mutex
	cache map[int64]tlog.Hash
	order []int64 // insertion order, for eviction
}

const hashCacheSize = 4096

func newHashReader(d Driver) *hashReader {
	return &hashReader{d: d, cache: make(map[int64]tlog.Hash)}
}

// ReadHashes implements tlog.HashReader.
func (r *hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	var at []int
	r.mu.Lock()
	for i, idx := range indexes {
		if idx < 0 {
			r.mu.Unlock()
			return nil, fmt.Errorf("%w: negative tree hash index", ErrInvalidArgument)
		}
		if h, ok := r.cache[idx]; ok {
			out[i] = h
			continue
		}
		missing = append(missing, idx)
		at = append(at, i)
	}
	r.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	hs, err := r.d.ReadHashes(context.Background(), missing)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(missing) {
		return nil, fmt.Errorf("%w: asked for %d tree hashes, the driver returned %d", ErrCorrupt, len(missing), len(hs))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, h := range hs {
		out[at[k]] = h
		if _, ok := r.cache[missing[k]]; !ok {
			if len(r.order) >= hashCacheSize {
				delete(r.cache, r.order[0])
				r.order = r.order[1:]
			}
			r.cache[missing[k]] = h
			r.order = append(r.order, missing[k])
		}
	}
	return out, nil
}
