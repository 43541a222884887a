package main

import (
	"math"
	"testing"
	"time"
)

func TestMedianCI(t *testing.T) {
	t.Parallel()
	if lo, hi := medianCI([][]float64{{0.9, 0.9}, {0.9, 0.9}}); lo != 0.9 || hi != 0.9 {
		t.Errorf("identical rounds: CI %v-%v, want 0.9-0.9", lo, hi)
	}
	if lo, hi := medianCI([][]float64{{0.8, 1.0}}); lo != 0.8 || hi != 1.0 {
		t.Errorf("two rounds: CI %v-%v, want their range", lo, hi)
	}
	spread := []float64{0.70, 0.95, 0.80, 0.85, 0.90, 0.75, 0.82, 0.88}
	lo, hi := medianCI([][]float64{spread})
	if m := median(spread); !(0.70 <= lo && lo < m && m < hi && hi <= 0.95) {
		t.Errorf("CI %v-%v should hold the median %v strictly inside the range 0.70-0.95", lo, hi, m)
	}
	// More rounds like these narrow the interval.
	lo2, hi2 := medianCI([][]float64{append(append(append([]float64(nil), spread...), spread...), spread...)})
	if hi2-lo2 >= hi-lo {
		t.Errorf("24 rounds: CI width %v, not narrower than 8 rounds' %v", hi2-lo2, hi-lo)
	}
	if lo3, hi3 := medianCI([][]float64{spread}); lo3 != lo || hi3 != hi {
		t.Errorf("not reproducible: %v-%v then %v-%v", lo, hi, lo3, hi3)
	}
}

// Two pairs of processes that disagree: the interval must span both, not
// shrink as if their rounds were one sample.
func TestMedianCIWidensForDisagreeingPairs(t *testing.T) {
	t.Parallel()
	a := []float64{0.80, 0.81, 0.79, 0.80, 0.82, 0.80}
	b := []float64{0.70, 0.71, 0.69, 0.70, 0.72, 0.70}
	lo, hi := medianCI([][]float64{a, b})
	if lo > 0.71 || hi < 0.79 {
		t.Errorf("CI %v-%v, want it to span both pairs' medians 0.70 and 0.80", lo, hi)
	}
	pooledLo, pooledHi := medianCI([][]float64{append(append([]float64(nil), a...), b...)})
	if pooledHi-pooledLo >= hi-lo {
		t.Errorf("pairs %v-%v no wider than pooled rounds %v-%v", lo, hi, pooledLo, pooledHi)
	}
}

func TestByRestart(t *testing.T) {
	t.Parallel()
	got := byRestart([]float64{1, 2, 3, 4}, []int{0, 0, 1, 1})
	if len(got) != 2 || len(got[0]) != 2 || got[1][1] != 4 {
		t.Errorf("byRestart = %v", got)
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

// Over a pair in each order, each side goes first in half the rounds,
// whatever the number of rounds.
func TestRoundOrderBalancedOverPairs(t *testing.T) {
	t.Parallel()
	for rounds := 1; rounds <= 7; rounds++ {
		subFirst := 0
		for k := range 2 {
			for i := range rounds {
				if subGoesFirst(i, k%2 == 0) {
					subFirst++
				}
			}
		}
		if subFirst != rounds {
			t.Errorf("%d rounds on 2 pairs: subject first in %d of %d", rounds, subFirst, 2*rounds)
		}
	}
	if subGoesFirst(0, true) || !subGoesFirst(0, false) {
		t.Error("round 0 should start with the server warmed up first")
	}
}

func TestRatioTextShowsThirdDecimalNearTarget(t *testing.T) {
	t.Parallel()
	c := comparison{Target: 0.90}
	for r, want := range map[float64]string{0.898: "0.898", 0.904: "0.904", 0.92: "0.92", 0.85: "0.85"} {
		if got := ratioText(c, r); got != want {
			t.Errorf("ratioText(%v) = %q, want %q", r, got, want)
		}
	}
	if got := ratioText(comparison{}, 0.999); got != "1.00" {
		t.Errorf("A/A ratio 0.999 = %q, want 1.00", got)
	}
}

func TestBusyIsCPUShareOfEachReading(t *testing.T) {
	t.Parallel()
	c := comparison{
		SubTogether: []wrkResult{{ServerCPU: 500 * time.Millisecond, Wall: time.Second}},
		RefTogether: []wrkResult{{ServerCPU: 525 * time.Millisecond, Wall: 1050 * time.Millisecond}},
	}
	if got := c.busy(); len(got) != 1 || math.Abs(got[0]-1.0) > 1e-9 {
		t.Errorf("busy = %v, want [1]", got)
	}
}
