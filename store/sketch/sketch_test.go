package sketch_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/agenttrail/agenttrail/store/sketch"
)

// exact is the q-quantile of sorted values, by the rank the sketch uses.
func exact(sorted []time.Duration, q float64) time.Duration {
	return sorted[int(q*float64(len(sorted)-1))]
}

func TestQuantilesWithinRelativeAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, gen := range map[string]func() time.Duration{
		"uniform ms":     func() time.Duration { return time.Duration(rng.IntN(1000)+1) * time.Millisecond },
		"lognormal":      func() time.Duration { return time.Duration(math.Exp(rng.NormFloat64()*2 + 18)) },
		"with zeros":     func() time.Duration { return time.Duration(rng.IntN(3)) * time.Second },
		"heavy tail":     func() time.Duration { return time.Duration(1e6 / math.Pow(rng.Float64()+1e-6, 1.5)) },
		"one value only": func() time.Duration { return 85 * time.Millisecond },
	} {
		var s sketch.Sketch
		var all []time.Duration
		for range 20000 {
			d := gen()
			s.Add(d)
			all = append(all, d)
		}
		slices.Sort(all)
		for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
			got, want := s.Quantile(q), exact(all, q)
			if math.Abs(float64(got-want)) > sketch.RelativeAccuracy*float64(want)+1 {
				t.Errorf("%s: q%v = %v, exact %v: off by more than 1%%", name, q, got, want)
			}
		}
		if s.Count() != 20000 {
			t.Errorf("%s: count %d", name, s.Count())
		}
	}
}

// Merging sketches of parts gives the sketch of the whole, byte for byte,
// in any order.
func TestMergeEqualsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var whole sketch.Sketch
	parts := make([]sketch.Sketch, 7)
	for range 5000 {
		d := time.Duration(rng.ExpFloat64() * float64(time.Second))
		if rng.IntN(50) == 0 {
			d = 0
		}
		whole.Add(d)
		parts[rng.IntN(len(parts))].Add(d)
	}
	var a, b sketch.Sketch
	for i := range parts {
		a.Merge(&parts[i])
		b.Merge(&parts[len(parts)-1-i])
	}
	if !a.Equal(&whole) || !b.Equal(&whole) {
		t.Errorf("merged parts differ from the whole")
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	var empty sketch.Sketch
	for _, s := range []*sketch.Sketch{&empty, one(0), one(time.Nanosecond), one(90 * time.Minute), one(-time.Second)} {
		b, _ := s.MarshalBinary()
		var got sketch.Sketch
		if err := got.UnmarshalBinary(b); err != nil || !got.Equal(s) || got.Quantile(0.5) != s.Quantile(0.5) {
			t.Errorf("round trip of %x: %v", b, err)
		}
	}
	b, _ := one(time.Second).MarshalBinary()
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(slices.Clone(b), 0), {1, 0, 0, 0, 0}} {
		var got sketch.Sketch
		if err := got.UnmarshalBinary(bad); err == nil {
			t.Errorf("UnmarshalBinary(%x) accepted", bad)
		}
	}
}

func one(d time.Duration) *sketch.Sketch {
	var s sketch.Sketch
	s.Add(d)
	return &s
}

func FuzzUnmarshal(f *testing.F) {
	for _, d := range []time.Duration{0, 1, time.Second, time.Hour} {
		b, _ := one(d).MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s sketch.Sketch
		if s.UnmarshalBinary(b) != nil {
			return
		}
		again, _ := s.MarshalBinary()
		if !slices.Equal(again, b) {
			t.Fatalf("decoded %x, encodes as %x", b, again)
		}
		for _, q := range []float64{0, 0.5, 0.99, 1} {
			s.Quantile(q)
		}
		var m sketch.Sketch
		m.Merge(&s)
		m.Merge(&s)
		if m.Count() != 2*s.Count() {
			t.Fatalf("merge count %d, want %d", m.Count(), 2*s.Count())
		}
	})
}

// Values spanning more than the buckets can hold fold into the lowest kept
// bucket; the upper quantiles stay exact to 1%, and merging still equals
// sketching the whole.
func TestFoldingKeepsTheTop(t *testing.T) {
	var whole, a, b sketch.Sketch
	var all []time.Duration
	for i := range 3000 {
		d := time.Duration(1+i) * time.Nanosecond // 1 ns to 3 µs: the low end
		if i%3 == 0 {
			d = time.Duration(i) * 1000 * time.Second // up to 10^15 ns: far above
		}
		whole.Add(d)
		all = append(all, d)
		if i%2 == 0 {
			a.Add(d)
		} else {
			b.Add(d)
		}
	}
	a.Merge(&b)
	if !a.Equal(&whole) {
		t.Errorf("merged halves differ from the whole after folding")
	}
	slices.Sort(all)
	for _, q := range []float64{0.9, 0.99, 1} {
		got, want := whole.Quantile(q), all[int(q*float64(len(all)-1))]
		if math.Abs(float64(got-want)) > sketch.RelativeAccuracy*float64(want)+1 {
			t.Errorf("q%v = %v, exact %v", q, got, want)
		}
	}
	enc, _ := whole.MarshalBinary()
	var back sketch.Sketch
	if err := back.UnmarshalBinary(enc); err != nil || !back.Equal(&whole) {
		t.Errorf("a folded sketch does not round-trip: %v", err)
	}
}
