package app

import (
	"math"
	"slices"
	"testing"
	"time"
)

// compileFaults decides what each route actually gets; timing tests can
// only show lower bounds, so precedence and clamping are checked here.
func TestCompileFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		route  string
		want   routeFault
	}{
		{name: "nothing set", route: "/health", want: routeFault{}},
		{name: "wildcard applies", route: "/health",
			faults: Faults{Latency: map[string]Duration{"*": Duration(time.Second)}},
			want:   routeFault{latency: time.Second}},
		{name: "route key beats wildcard, even when lower", route: "/health",
			faults: Faults{Latency: map[string]Duration{"*": Duration(time.Second), "/health": 0}},
			want:   routeFault{}},
		{name: "precedence is per knob", route: "/api/orders",
			faults: Faults{
				Latency:   map[string]Duration{"/api/orders": Duration(time.Millisecond)},
				Jitter:    map[string]Duration{"*": Duration(2 * time.Millisecond)},
				ErrorRate: map[string]float64{"*": 0.5, "/api/orders": 0.1},
			},
			want: routeFault{latency: time.Millisecond, jitter: 2 * time.Millisecond, errorRate: 0.1}},
		{name: "other routes keep the wildcard", route: "/health",
			faults: Faults{ErrorRate: map[string]float64{"*": 0.5, "/api/orders": 0.1}},
			want:   routeFault{errorRate: 0.5}},
		{name: "negative values clamp to zero", route: "/health",
			faults: Faults{Latency: map[string]Duration{"*": -1}, Jitter: map[string]Duration{"*": -1}, ErrorRate: map[string]float64{"*": -1}},
			want:   routeFault{}},
		{name: "rate clamps to one", route: "/health",
			faults: Faults{ErrorRate: map[string]float64{"*": 7}},
			want:   routeFault{errorRate: 1}},
		{name: "NaN rate is no rate", route: "/health",
			faults: Faults{ErrorRate: map[string]float64{"*": math.NaN()}},
			want:   routeFault{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compileFaults(tt.faults).routes[slices.Index(faultKeys, tt.route)]
			if got != tt.want {
				t.Errorf("%s: got %+v, want %+v", tt.route, got, tt.want)
			}
		})
	}
}

func TestFaultKeysMatchRoutes(t *testing.T) {
	want := []string{"/health", "/auth/login", "/api/user/profile", "/api/orders", "/api/orders/{id}", "/slow", "/redirect"}
	if !slices.Equal(faultKeys, want) {
		t.Errorf("faultKeys = %q, want %q", faultKeys, want)
	}
}

func TestRNGIsUniform(t *testing.T) {
	r := newRNG(99)
	const n = 100_000
	var buckets [10]int
	for range n {
		f := r.float64()
		if f < 0 || f >= 1 {
			t.Fatalf("float64() = %v, want [0, 1)", f)
		}
		buckets[int(f*10)]++
	}
	// Each bucket expects 10,000 with a standard deviation near 95.
	for i, c := range buckets {
		if c < 9_500 || c > 10_500 {
			t.Errorf("bucket %d holds %d of %d draws, want about %d", i, c, n, n/10)
		}
	}
}
