package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
)

// AllRoutes is the fault key that applies to every route without a key of
// its own.
const AllRoutes = "*"

// Faults are the knobs that make the app misbehave on purpose. Keys are
// route paths exactly as registered ("/api/orders", "/api/orders/{id}",
// "/auth/login", "/health", "/api/user/profile", "/slow", "/redirect") or
// AllRoutes. For each knob a route's own key wins over AllRoutes; they do
// not add up. /admin/faults is never subject to faults, so a test can always
// take them back.
type Faults struct {
	// Latency added per route pattern, e.g. "/api/orders": 200ms.
	Latency map[string]Duration `json:"latency,omitempty"`
	// Jitter: extra uniformly random latency in [0, value) per route.
	Jitter map[string]Duration `json:"jitter,omitempty"`
	// ErrorRate per route, 0..1: that fraction of requests gets a 500
	// {"error":"injected fault"} instead of being handled.
	ErrorRate map[string]float64 `json:"errorRate,omitempty"`
}

// FaultRoutes lists the route keys Faults accepts besides AllRoutes.
func FaultRoutes() []string { return slices.Clone(faultKeys) }

// Validate reports every unknown route key, negative duration and error
// rate outside [0, 1]. PUT /admin/faults and the exampleapp flags reject
// invalid faults; New and SetFaults instead ignore unknown keys and clamp
// values, because they have no way to return an error.
func (f Faults) Validate() error {
	var errs []error
	checkKey := func(knob, key string) {
		if key != AllRoutes && !slices.Contains(faultKeys, key) {
			errs = append(errs, fmt.Errorf("%s: unknown route %q (want %q or one of %s)",
				knob, key, AllRoutes, strings.Join(faultKeys, ", ")))
		}
	}
	for _, knob := range []struct {
		name string
		m    map[string]Duration
	}{{"latency", f.Latency}, {"jitter", f.Jitter}} {
		for _, key := range slices.Sorted(maps.Keys(knob.m)) {
			checkKey(knob.name, key)
			if d := knob.m[key]; d < 0 {
				errs = append(errs, fmt.Errorf("%s[%s]: %s is negative", knob.name, key, d))
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(f.ErrorRate)) {
		checkKey("errorRate", key)
		if r := f.ErrorRate[key]; math.IsNaN(r) || r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("errorRate[%s]: %v is outside [0, 1]", key, r))
		}
	}
	return errors.Join(errs...)
}

// LogValue logs faults as their JSON form, the same text PUT /admin/faults
// takes, so a log line can be pasted back into a request.
func (f Faults) LogValue() slog.Value {
	b, err := json.Marshal(f)
	if err != nil {
		return slog.StringValue(err.Error())
	}
	return slog.StringValue(string(b))
}

func (f Faults) clone() Faults {
	return Faults{
		Latency:   maps.Clone(f.Latency),
		Jitter:    maps.Clone(f.Jitter),
		ErrorRate: maps.Clone(f.ErrorRate),
	}
}
