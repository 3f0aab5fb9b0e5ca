package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The incremental U and tie term must equal a from-scratch Mann-Whitney on the same data. Values
// are whole milliseconds, so equal values share a grid bin and different ones never do.
func TestRankCounterMatchesMannWhitney(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rc := newRankCounter()
	var x, y []float64
	for i := range 400 {
		side := i % 2
		if i%7 == 0 {
			side = green // unequal sample sizes
		}
		k := 1 + r.IntN(80)
		if side == green {
			k += 5 // green a little slower
		}
		v := float64(k) / 1000
		if side == green {
			x = append(x, v)
		} else {
			y = append(y, v)
		}
		rc.add(side, v)
	}
	u, p := mannWhitney(x, y)
	if rc.u() != u {
		t.Fatalf("incremental U = %v, from scratch %v", rc.u(), u)
	}
	// The one-sided statistic must agree with the two-sided p-value: p = 2·P(Z > z) when z > 0.
	if z := rc.z(); z <= 0 || math.Abs(2*normalSF(z)-p) > 1e-12 {
		t.Errorf("z = %v gives two-sided %v, from scratch p = %v", z, 2*normalSF(z), p)
	}
}

func TestRankCounterMinimumSamples(t *testing.T) {
	rc := newRankCounter()
	for i := range naiveMinSamples - 1 {
		rc.add(blue, 0.1)
		rc.add(green, 1+float64(i))
	}
	if z := rc.z(); z != 0 {
		t.Errorf("z = %v below the minimum sample size, want 0", z)
	}
}

func TestTwoProportionZ(t *testing.T) {
	tests := []struct {
		name           string
		xb, nb, xc, nc int64
		want           float64
	}{
		// Pooled p = 30/2000 = 0.015; se = √(0.015·0.985·(2/1000)) = 0.0054360; z = 0.02/se.
		{"by hand", 5, 1000, 25, 1000, 0.02 / math.Sqrt(0.015*0.985*0.002)},
		{"no errors at all", 0, 1000, 0, 1000, 0},
		{"too few samples", 0, 10, 5, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := twoProportionZ(tt.xb, tt.nb, tt.xc, tt.nc); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("z = %v, want %v", got, tt.want)
			}
		})
	}
}
