package main

import (
	"math"
	"testing"
)

func TestMannWhitney(t *testing.T) {
	tests := []struct {
		name  string
		x, y  []float64
		wantU float64
		wantP float64
	}{
		{
			// By hand. Pooled and sorted: 1b 2b 2b 2x 3x 4b 5x; the three 2s share rank 3, so
			// R_x = 3+5+7 = 15 and U = 15 − 3·4/2 = 9 (pairs: 1+½+½, 3, 4). E[U] = 6; ties: one
			// group of 3, Σ(t³−t) = 24; Var U = 3·4/12·(8 − 24/(7·6)) = 7.428571; z = (|9−6| − ½)
			// / √7.428571 = 0.917249; two-sided p = erfc(z/√2) = 0.359012.
			name: "hand example with ties",
			x:    []float64{2, 3, 5}, y: []float64{1, 2, 2, 4},
			wantU: 9, wantP: 0.3590120537864295,
		},
		{
			// ClickHouse's mannWhitneyUTest test case (tests/queries/0_stateless/01560_mann_whitney):
			// U = 223, p = 0.5426959774289482, two-sided with continuity correction; the data
			// have four tied pairs, so this also pins the tie correction.
			name:  "published example",
			x:     []float64{310, 195, 530, 155, 530, 245, 385, 450, 465, 545, 170, 180, 125, 180, 230, 75, 430, 480, 495, 295},
			y:     []float64{116, 171, 176, 421, 111, 326, 481, 111, 346, 441, 261, 411, 206, 521, 456, 446, 296, 51, 426, 261},
			wantU: 223, wantP: 0.5426959774289482,
		},
		{
			name: "all tied",
			x:    []float64{1, 1, 1}, y: []float64{1, 1},
			wantU: 3, wantP: 1,
		},
		{
			name: "complete separation",
			x:    []float64{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, y: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
			// U = 100, E = 50, Var = 100·21/12 = 175: z = 49.5/√175 = 3.7418, p = 1.8262e-4.
			wantU: 100, wantP: math.Erfc(49.5 / math.Sqrt(175) / math.Sqrt2),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, p := mannWhitney(tt.x, tt.y)
			if u != tt.wantU {
				t.Errorf("U = %v, want %v", u, tt.wantU)
			}
			if math.Abs(p-tt.wantP) > 1e-12 {
				t.Errorf("p = %.16g, want %.16g", p, tt.wantP)
			}
		})
	}
}

func TestKayentaHigh(t *testing.T) {
	ramp := func(from, step float64) []float64 {
		v := make([]float64, 10)
		for i := range v {
			v[i] = from + step*float64(i)
		}
		return v
	}
	tests := []struct {
		name       string
		base, cand []float64
		errors     bool
		want       bool
	}{
		{"significant and beyond 1.2", ramp(100, 1), ramp(150, 1), false, true},
		{"significant but within 1.2", ramp(100, 1), ramp(115, 1), false, false},
		{"beyond 1.2 but not significant", []float64{100, 300}, []float64{200, 250}, false, false},
		{"no data", nil, ramp(150, 1), false, false},
		{"zero baseline mean: mean ratio NaN, never High", make([]float64, 10), ramp(0.01, 0.001), true, false},
		{"errors beyond +0.5pp", ramp(0.001, 0), ramp(0.010, 0.0001), true, true},
		{"errors within +0.5pp", ramp(0.001, 0.00001), ramp(0.004, 0.00001), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kayentaHigh(tt.base, tt.cand, tt.errors); got != tt.want {
				t.Errorf("kayentaHigh = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKayentaJudgeSchedule(t *testing.T) {
	s := &scenario{percentile: 95}
	feed := func(k *kayentaJudge, minutes int) (verdict, int) {
		for m := 1; m <= minutes; m++ {
			// Green is 1.5× blue every minute; every value differs, so there are no ties.
			b := 100 + float64(m)
			if v := k.observe(&tick{t: 60 * m, minute: m, point: [2]float64{b, 1.5 * b}}); v != undecided {
				return v, m
			}
		}
		return k.final(), minutes
	}
	// Re-checked every minute: nothing before the 3rd minute; at 3 points per side U = 9 of 9,
	// z = 4/√(9·7/12) = 1.746, p = 0.081: not yet; at 4, z = 7.5/√(16·9/12) = 2.165, p = 0.030:
	// not yet; at 5, z = 12/√(25·11/12) = 2.507, p = 0.012 < 0.02: High.
	if v, m := feed(newKayenta(s, true), 15); v != rollback || m != 5 {
		t.Errorf("every minute: %v at minute %d, want rollback at 5", v, m)
	}
	if v, m := feed(newKayenta(s, false), 15); v != rollback || m != 15 {
		t.Errorf("fixed horizon: %v at minute %d, want rollback at the horizon", v, m)
	}
}
