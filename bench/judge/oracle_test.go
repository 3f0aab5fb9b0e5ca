package main

import (
	"math"
	"testing"
)

func TestBinomSF(t *testing.T) {
	tests := []struct {
		name string
		n, k int
		p    float64
		want float64
	}{
		{"P(X ≥ 2), n 10, p 0.05", 10, 2, 0.05, 1 - math.Pow(0.95, 10) - 10*0.05*math.Pow(0.95, 9)},
		{"P(X ≥ 1) = 1 − (1−p)^n", 100, 1, 0.01, 1 - math.Pow(0.99, 100)},
		{"P(X ≥ n) = p^n", 20, 20, 0.9, math.Pow(0.9, 20)},
		{"k = 0", 5, 0, 0.3, 1},
		{"k > n", 5, 6, 0.3, 0},
		{"p = 0", 5, 1, 0, 0},
		// Symmetric: P(X ≥ 5001) for n = 10000, p = ½ is (1 − P(X = 5000))/2.
		{"large n", 10000, 5001, 0.5, (1 - math.Exp(lchoose(10000, 5000)-10000*math.Ln2)) / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := binomSF(tt.n, tt.k, tt.p); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("binomSF(%d, %d, %v) = %.15g, want %.15g", tt.n, tt.k, tt.p, got, tt.want)
			}
		})
	}
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// A case small enough to do by hand: H0 boundary ½ (blue's rate 0.495 + 0.005), truth 0.9,
// one request a second, α = ¼.
//
//	t=1: P(X ≥ 1 | ½) = ½ > ¼: no count rejects; power 0.
//	t=2: P(X ≥ 2 | ½) = ¼ ≤ ¼: reject at 2; power 0.9² = 0.81.
//	t=3: P(X ≥ 2 | ½) = ½, P(X ≥ 3 | ½) = ⅛: reject at 3; power 0.9³ = 0.729.
func TestOracleByHand(t *testing.T) {
	s := &scenario{name: "errors/hand", errors: true, pb: 0.495, pc: 0.9}
	o := oracle(s, 1, 3, 0.25)
	if o.Null {
		t.Error("a +40.5pp increase reported as healthy")
	}
	if math.Abs(o.MaxSize-0.81) > 1e-12 {
		t.Errorf("max power %v, want 0.81 (at t = 2)", o.MaxSize)
	}
	if o.Reach["50%"] != 2 {
		t.Errorf("power first ≥ 50%% at %v, want 2 s", o.Reach["50%"])
	}
	if _, ok := o.Reach["90%"]; ok {
		t.Errorf("power reached 90%% at %v s, but it never exceeds 0.81", o.Reach["90%"])
	}
}

// On every healthy scenario the oracle's size stays at or below α at every moment.
func TestOracleSizeAtMostAlpha(t *testing.T) {
	for _, s := range catalog() {
		if !s.truth().Healthy {
			continue
		}
		o := oracle(s, 10, 300, 0.01)
		if o.MaxSize > 0.01+1e-12 {
			t.Errorf("%s: size %v > α", s.name, o.MaxSize)
		}
	}
}
