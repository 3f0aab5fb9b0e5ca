package main

import (
	"math"
	"testing"
)

func TestThresholdJudge(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		errors  bool
		points  [][2]float64 // per minute: blue, green
		want    verdict
		atMinut int // minute of the rollback; 0 for a promotion at the horizon
	}{
		{"one failure is tolerated", false, [][2]float64{{1, 1}, {1, 1.3}, {1, 1.1}, {1, 1.2}}, promote, 0},
		{"the second failure rolls back", false, [][2]float64{{1, 1.3}, {1, 1}, {1, 1}, {1, 1.25}, {1, 2}}, rollback, 4},
		{"failures need not be consecutive", false, [][2]float64{{1, 2}, {1, 1}, {1, 1}, {1, 1}, {1, 2}}, rollback, 5},
		{"exactly at the limit passes", false, [][2]float64{{1, 1.2}, {2, 2.4}, {0.5, 0.6}}, promote, 0},
		{"no data fails", false, [][2]float64{{1, nan}, {nan, 1}}, rollback, 2},
		{"errors: +0.6pp fails twice", true, [][2]float64{{0.001, 0.007}, {0, 0}, {0.01, 0.016}}, rollback, 3},
		{"errors: +0.5pp passes", true, [][2]float64{{0, 0.005}, {0.01, 0.015}, {0.02, 0.024}}, promote, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newThreshold(&scenario{errors: tt.errors})
			got, at := undecided, 0
			for m, p := range tt.points {
				// Seconds inside a minute carry no measurement and must not count.
				if v := j.observe(&tick{t: 60*m + 30}); v != undecided {
					t.Fatalf("decided %v without a measurement", v)
				}
				if v := j.observe(&tick{t: 60 * (m + 1), minute: m + 1, point: p}); v != undecided {
					got, at = v, m+1
					break
				}
			}
			if got == undecided {
				got = j.final()
			}
			if got != tt.want || at != tt.atMinut {
				t.Errorf("got %v at minute %d, want %v at %d", got, at, tt.want, tt.atMinut)
			}
		})
	}
}
