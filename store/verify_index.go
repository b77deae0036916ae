package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// The secondary indexes are checked against the event headers both ways
// without holding either in memory: each posting is hashed with a key
// chosen at random for this verification, and the hashes are summed per
// block of indexes, once over the postings the headers call for (PostingsOf)
// and once over those the driver holds (Driver.Postings). Equal sums mean
// equal multisets, except with probability about 2^-256, and an attacker
// who does not know the key cannot make unequal ones collide. The first
// block whose sums differ is then compared posting by posting, to name the
// first bad index and what is wrong with it.

// indexBlock is how many log indexes one sum covers.
const indexBlock = 4096

type postingSum [4]uint64

func (s *postingSum) add(h [32]byte) {
	for i := range s {
		s[i] += binary.LittleEndian.Uint64(h[8*i:])
	}
}

// indexCheck accumulates the sums of both sides.
type indexCheck struct {
	key      [32]byte
	want     []postingSum // by block, from the headers
	have     []postingSum // by block, from the driver
	postings int
}

func newIndexCheck() *indexCheck {
	c := &indexCheck{}
	rand.Read(c.key[:])
	return c
}

func (c *indexCheck) hash(p Posting) [32]byte {
	h := sha256.New()
	h.Write(c.key[:])
	b := make([]byte, 0, 16+len(p.Value))
	b = append(b, byte(p.Field))
	b = binary.AppendUvarint(b, uint64(len(p.Value)))
	b = append(b, p.Value...)
	b = binary.BigEndian.AppendUint64(b, p.Index)
	h.Write(b)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func grow(sums []postingSum, block uint64) []postingSum {
	for uint64(len(sums)) <= block {
		sums = append(sums, postingSum{})
	}
	return sums
}

// expect adds the postings an event's header calls for.
func (c *indexCheck) expect(index uint64, v IndexValues) {
	b := index / indexBlock
	c.want = grow(c.want, b)
	for _, p := range PostingsOf(index, v) {
		c.want[b].add(c.hash(p))
	}
}

// compare reads every posting the driver holds and compares the sums with
// the headers' of a tree of size events. It returns the first problem.
func (c *indexCheck) compare(ctx context.Context, d Driver, size uint64) (*Problem, error) {
	var beyond *Posting
	for p, err := range d.Postings(ctx) {
		if err != nil {
			return &Problem{Index: 0, Tree: true, Reason: fmt.Sprintf("the secondary indexes are unreadable: %v", err)}, nil
		}
		c.postings++
		if p.Index >= size {
			if beyond == nil || p.Index < beyond.Index {
				beyond = &p
			}
			continue
		}
		b := p.Index / indexBlock
		c.have = grow(c.have, b)
		c.have[b].add(c.hash(p))
	}
	n := max(len(c.want), len(c.have))
	c.want, c.have = grow(c.want, uint64(n)), grow(c.have, uint64(n))
	for b := 0; b < n; b++ {
		if c.want[b] != c.have[b] {
			return c.locate(ctx, d, uint64(b)*indexBlock, min(uint64(b+1)*indexBlock, size))
		}
	}
	if beyond != nil {
		return &Problem{Index: beyond.Index, Reason: fmt.Sprintf("the %s index files an event at this index, beyond the tree size %d", beyond.Field, size)}, nil
	}
	return nil, nil
}

// locate compares the postings of the events in [lo, hi) one by one and
// names the first index where the driver's disagree with the headers'.
func (c *indexCheck) locate(ctx context.Context, d Driver, lo, hi uint64) (*Problem, error) {
	want := map[uint64][]Posting{}
	for raw, err := range d.Scan(ctx, ScanRequest{Filter: &Filter{}, Lo: lo, Hi: hi}) {
		if err != nil {
			return nil, err
		}
		e, err := decodeHeader(raw)
		if err != nil {
			return nil, err
		}
		want[raw.Index] = PostingsOf(raw.Index, indexValues(e.Header))
	}
	have := map[uint64][]Posting{}
	for p, err := range d.Postings(ctx) {
		if err != nil {
			return nil, err
		}
		if p.Index >= lo && p.Index < hi {
			have[p.Index] = append(have[p.Index], p)
		}
	}
	for i := lo; i < hi; i++ {
		w, h := want[i], have[i]
		for _, p := range w {
			if k := slices.Index(h, p); k >= 0 {
				h = slices.Delete(h, k, k+1)
				continue
			}
			if p.Field == IndexFailure {
				return &Problem{Index: i, Reason: "the failure index does not file this event, which records a failure"}, nil
			}
			return &Problem{Index: i, Reason: fmt.Sprintf("the %s index does not file this event under its %s %q", p.Field, p.Field, p.Value)}, nil
		}
		if len(h) > 0 {
			return &Problem{Index: i, Reason: fmt.Sprintf("the %s index files this event under %q, which its header does not have", h[0].Field, h[0].Value)}, nil
		}
	}
	return &Problem{Index: lo, Reason: fmt.Sprintf("the secondary indexes of events [%d, %d) disagree with their headers", lo, hi)}, nil
}
