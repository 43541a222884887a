package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// median of xs (mean of the middle two for an even count); 0 when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile p (0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// medianCI is a 95 % bootstrap confidence interval for the median of the
// values in groups, one group per pair of processes: it resamples the
// pairs, then the rounds within each, so pairs that disagree widen the
// interval (conservative where they do not; with two pairs it says
// little). The resampling is seeded, so the same rounds always give the
// same interval. With fewer than three values in all it is just their
// range. The two order statistics taken have as many resamples below the
// one as above the other.
func medianCI(groups [][]float64) (lo, hi float64) {
	var all []float64
	for _, g := range groups {
		all = append(all, g...)
	}
	if len(all) == 0 {
		return 0, 0
	}
	if len(all) < 3 {
		return slices.Min(all), slices.Max(all)
	}
	const resamples = 4000
	rng := rand.New(rand.NewPCG(1, 2))
	meds := make([]float64, resamples)
	sample := make([]float64, 0, len(all))
	for i := range meds {
		sample = sample[:0]
		for range groups {
			g := groups[rng.IntN(len(groups))]
			for range g {
				sample = append(sample, g[rng.IntN(len(g))])
			}
		}
		meds[i] = median(sample)
	}
	slices.Sort(meds)
	return meds[resamples*25/1000], meds[resamples*975/1000-1]
}
