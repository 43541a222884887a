package main

import "testing"

func TestMedianCI(t *testing.T) {
	t.Parallel()
	if lo, hi := medianCI([]float64{0.9, 0.9, 0.9, 0.9}); lo != 0.9 || hi != 0.9 {
		t.Errorf("identical rounds: CI %v-%v, want 0.9-0.9", lo, hi)
	}
	if lo, hi := medianCI([]float64{0.8, 1.0}); lo != 0.8 || hi != 1.0 {
		t.Errorf("two rounds: CI %v-%v, want their range", lo, hi)
	}
	spread := []float64{0.70, 0.95, 0.80, 0.85, 0.90, 0.75, 0.82, 0.88}
	lo, hi := medianCI(spread)
	if m := median(spread); !(0.70 <= lo && lo < m && m < hi && hi <= 0.95) {
		t.Errorf("CI %v-%v should hold the median %v strictly inside the range 0.70-0.95", lo, hi, m)
	}
	// More rounds like these narrow the interval.
	lo2, hi2 := medianCI(append(append(append([]float64(nil), spread...), spread...), spread...))
	if hi2-lo2 >= hi-lo {
		t.Errorf("24 rounds: CI width %v, not narrower than 8 rounds' %v", hi2-lo2, hi-lo)
	}
	if lo3, hi3 := medianCI(spread); lo3 != lo || hi3 != hi {
		t.Errorf("not reproducible: %v-%v then %v-%v", lo, hi, lo3, hi3)
	}
}

func TestVerdictSaysNarrowly(t *testing.T) {
	t.Parallel()
	c := comparison{Target: 0.75}
	for _, tc := range []struct {
		ratio, lo, hi float64
		want          string
	}{
		{0.80, 0.77, 0.83, "met"},
		{0.76, 0.73, 0.79, "met, narrowly"},
		{0.74, 0.70, 0.77, "MISSED, narrowly"},
		{0.70, 0.65, 0.74, "MISSED"},
		{0.75, 0.75, 0.76, "met"},
	} {
		if got := verdictFor(c, tc.ratio, tc.lo, tc.hi); got != tc.want {
			t.Errorf("ratio %v CI %v-%v: %q, want %q", tc.ratio, tc.lo, tc.hi, got, tc.want)
		}
	}
}
