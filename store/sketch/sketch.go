// Package sketch is a mergeable quantile sketch of durations, after
// DDSketch (Masson, Rim and Lee, VLDB 2019): values fall into buckets whose
// bounds grow geometrically, so any quantile is answered within 1% of the
// true value, whatever the distribution, in a few hundred bytes. Two
// sketches merge by adding their bucket counts, so sketches of hours add up
// to the sketch of a day exactly as if the day had been sketched whole:
// the store keeps one per aggregate cell and merges them at query time.
//
// A sketch keeps at most MaxBuckets buckets, which span a factor of about
// 10^9 (a microsecond to a quarter of an hour, say): when values span more,
// the lowest buckets are folded into one, so that quantiles far below the
// largest value are reported as the lowest kept bucket. Folding depends
// only on the largest value, so merging still equals sketching the whole.
//
// The encoding is canonical (buckets in increasing order, minimal varints),
// so that equal sketches encode to equal bytes, which verification compares.
package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// RelativeAccuracy is the bound on the relative error of every quantile.
const RelativeAccuracy = 0.01

var (
	gamma    = (1 + RelativeAccuracy) / (1 - RelativeAccuracy)
	logGamma = math.Log(gamma)
)

// maxIndex bounds bucket indexes: durations up to about 10^20 ns.
const maxIndex = 2400

// MaxBuckets is the most buckets a sketch keeps (see the package doc).
const MaxBuckets = 1024

// Sketch is a quantile sketch of durations. The zero value is empty and
// ready to use. Durations are kept in nanoseconds; those under 1 ns
// (zero and negative) are counted apart, as zero.
type Sketch struct {
	zero    uint64
	offset  int      // index of counts[0]
	counts  []uint64 // dense counts of buckets offset, offset+1, ...
	total   uint64
	minimum time.Duration
	maximum time.Duration
}

// index is the bucket of a value of at least 1 ns: the smallest i with
// v <= gamma^i.
func index(v float64) int {
	return min(int(math.Ceil(math.Log(v)/logGamma)), maxIndex)
}

// value is the representative of bucket i: its bounds' harmonic middle,
// within RelativeAccuracy of every value in the bucket.
func value(i int) float64 {
	return 2 * math.Pow(gamma, float64(i)) / (1 + gamma)
}

// Add counts one duration.
func (s *Sketch) Add(d time.Duration) {
	s.addN(d, 1)
}

func (s *Sketch) addN(d time.Duration, n uint64) {
	if s.total == 0 || d < s.minimum {
		s.minimum = d
	}
	if s.total == 0 || d > s.maximum {
		s.maximum = d
	}
	s.total += n
	if d < 1 {
		s.zero += n
		return
	}
	s.bump(index(float64(d)), n)
}

func (s *Sketch) bump(i int, n uint64) {
	switch {
	case len(s.counts) == 0:
		s.offset, s.counts = i, make([]uint64, 1, 8)
	case i < s.offset:
		if low := s.offset + len(s.counts) - MaxBuckets; i < low {
			i = low // below the kept range: into its lowest bucket
		}
		if i < s.offset {
			s.counts = append(make([]uint64, s.offset-i), s.counts...)
			s.offset = i
		}
	case i >= s.offset+len(s.counts):
		s.counts = append(s.counts, make([]uint64, i-s.offset-len(s.counts)+1)...)
		if len(s.counts) > MaxBuckets {
			s.fold()
		}
	}
	s.counts[i-s.offset] += n
}

// fold keeps the top MaxBuckets buckets, adding the counts of the others
// to the lowest kept one.
func (s *Sketch) fold() {
	cut := len(s.counts) - MaxBuckets
	var low uint64
	for _, c := range s.counts[:cut] {
		low += c
	}
	s.counts = append(s.counts[:0], s.counts[cut:]...)
	s.counts[0] += low
	s.offset += cut
}

// Merge adds the values of o to s.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil || o.total == 0 {
		return
	}
	if s.total == 0 || o.minimum < s.minimum {
		s.minimum = o.minimum
	}
	if s.total == 0 || o.maximum > s.maximum {
		s.maximum = o.maximum
	}
	s.total += o.total
	s.zero += o.zero
	for j, c := range o.counts {
		if c != 0 {
			s.bump(o.offset+j, c)
		}
	}
}

// Count is the number of durations added.
func (s *Sketch) Count() uint64 { return s.total }

// Quantile returns the q-quantile (0 <= q <= 1) within RelativeAccuracy,
// the exact minimum for 0 and maximum for 1, and 0 for an empty sketch.
func (s *Sketch) Quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	if q <= 0 {
		return s.minimum
	}
	if q >= 1 {
		return s.maximum
	}
	rank := uint64(q * float64(s.total-1))
	if rank < s.zero {
		return 0
	}
	seen := s.zero
	for j, c := range s.counts {
		seen += c
		if seen > rank {
			v := time.Duration(math.Round(value(s.offset + j)))
			return min(max(v, s.minimum), s.maximum)
		}
	}
	return s.maximum
}

// Equal reports whether two sketches hold the same counts.
func (s *Sketch) Equal(o *Sketch) bool {
	a, _ := s.MarshalBinary()
	b, _ := o.MarshalBinary()
	return slices.Equal(a, b)
}

// MarshalBinary encodes the sketch canonically: total, zero count,
// minimum and maximum, then the non-empty buckets as (index delta, count)
// pairs in increasing index order, all as varints.
func (s *Sketch) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 16+4*len(s.counts))
	b = binary.AppendUvarint(b, s.total)
	if s.total == 0 {
		return b, nil
	}
	b = binary.AppendUvarint(b, s.zero)
	b = binary.AppendVarint(b, int64(s.minimum))
	b = binary.AppendVarint(b, int64(s.maximum))
	var n uint64
	for _, c := range s.counts {
		if c != 0 {
			n++
		}
	}
	b = binary.AppendUvarint(b, n)
	prev := 0
	first := true
	for j, c := range s.counts {
		if c == 0 {
			continue
		}
		i := s.offset + j
		if first {
			b = binary.AppendVarint(b, int64(i))
			first = false
		} else {
			b = binary.AppendUvarint(b, uint64(i-prev))
		}
		prev = i
		b = binary.AppendUvarint(b, c)
	}
	return b, nil
}

var errBad = errors.New("sketch: invalid encoding")

// UnmarshalBinary decodes what MarshalBinary wrote, and only that: it
// refuses trailing bytes, non-minimal varints, empty buckets, indexes out of
// range or spanning more than MaxBuckets, and counts that do not add up to
// the total.
func (s *Sketch) UnmarshalBinary(b []byte) error {
	*s = Sketch{}
	if err := s.MergeBinary(b); err != nil {
		*s = Sketch{}
		return err
	}
	return nil
}

// MergeBinary merges an encoded sketch into s, as Merge would the decoded
// one, without decoding it apart: the fast path of readers that add up
// many sketches. It validates as UnmarshalBinary does; on error s may hold
// part of the merge.
func (s *Sketch) MergeBinary(b []byte) error {
	r := reader{b: b}
	total := r.uvarint()
	if r.err != nil {
		return errBad
	}
	if total == 0 {
		if len(b) != 1 { // the one encoding of an empty sketch: a zero byte
			return errBad
		}
		return nil
	}
	zero := r.uvarint()
	minimum, maximum := time.Duration(r.varint()), time.Duration(r.varint())
	n := r.uvarint()
	if r.err != nil || n > MaxBuckets || minimum > maximum {
		return errBad
	}
	sum := zero
	idx, first := 0, 0
	for k := uint64(0); k < n; k++ {
		if k == 0 {
			v := r.varint()
			if v < 0 || v > maxIndex {
				return errBad
			}
			idx, first = int(v), int(v)
		} else {
			d := r.uvarint()
			if d == 0 || d > MaxBuckets {
				return errBad
			}
			idx += int(d)
		}
		c := r.uvarint()
		if r.err != nil || c == 0 || idx > maxIndex || idx-first >= MaxBuckets || sum+c < sum {
			return errBad
		}
		sum += c
		s.bump(idx, c)
	}
	if r.err != nil || len(r.b) != 0 || sum != total {
		return errBad
	}
	if s.total == 0 || minimum < s.minimum {
		s.minimum = minimum
	}
	if s.total == 0 || maximum > s.maximum {
		s.maximum = maximum
	}
	s.total += total
	s.zero += zero
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n > 1 && r.b[n-1] == 0 { // truncated, or not minimal
		r.err = fmt.Errorf("%w: truncated or not minimal", errBad)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 || n > 1 && r.b[n-1] == 0 {
		r.err = fmt.Errorf("%w: truncated or not minimal", errBad)
		return 0
	}
	r.b = r.b[n:]
	return v
}
