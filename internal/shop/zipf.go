package shop

import (
	"math"
	"math/rand/v2"
)

// Zipf samples ranks 1..n with P(k) ∝ 1/k^s: item popularity in the shop.
// It keeps the CDF, so any s > 0 works and the law is exact.
type Zipf struct{ cdf []float64 }

// NewZipf returns a sampler over ranks 1..n with exponent s.
func NewZipf(n int, s float64) *Zipf {
	z := &Zipf{cdf: make([]float64, n)}
	sum := 0.0
	for k := 1; k <= n; k++ {
		sum += 1 / math.Pow(float64(k), s)
		z.cdf[k-1] = sum
	}
	for i := range z.cdf {
		z.cdf[i] /= sum
	}
	return z
}

// Sample draws a rank.
func (z *Zipf) Sample(rng *rand.Rand) int {
	u := rng.Float64()
	lo, hi := 0, len(z.cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if z.cdf[mid] < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// P returns the probability of rank k.
func (z *Zipf) P(k int) float64 {
	if k == 1 {
		return z.cdf[0]
	}
	return z.cdf[k-1] - z.cdf[k-2]
}
