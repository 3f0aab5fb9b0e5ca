package app

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// routeFault is the effective fault for one route, resolved once when the
// faults are set so the request path only indexes a slice.
type routeFault struct {
	latency, jitter time.Duration
	errorRate       float64
}

func (f routeFault) none() bool { return f.latency <= 0 && f.jitter <= 0 && f.errorRate <= 0 }

// faultTable is immutable once built; App swaps whole tables atomically so
// readers never lock.
type faultTable struct {
	spec   Faults       // as set, returned by GET /admin/faults
	routes []routeFault // indexed like faultKeys
}

func compileFaults(f Faults) *faultTable {
	t := &faultTable{spec: f.clone(), routes: make([]routeFault, len(faultKeys))}
	for i, key := range faultKeys {
		t.routes[i] = routeFault{
			latency:   max(0, time.Duration(lookup(f.Latency, key))),
			jitter:    max(0, time.Duration(lookup(f.Jitter, key))),
			errorRate: clampRate(lookup(f.ErrorRate, key)),
		}
	}
	return t
}

func lookup[V any](m map[string]V, key string) V {
	if v, ok := m[key]; ok {
		return v
	}
	return m[AllRoutes]
}

func clampRate(r float64) float64 {
	if math.IsNaN(r) {
		return 0
	}
	return min(1, max(0, r))
}

// inject applies f to one request and reports whether the handler should
// still run. When it returns false it has already answered: with the
// injected 500, or with 503 if the caller went away during the latency.
func (a *App) inject(w http.ResponseWriter, r *http.Request, f routeFault) bool {
	if f.none() {
		return true
	}
	d := f.latency
	if f.jitter > 0 {
		d += time.Duration(float64(f.jitter) * a.rng.float64())
	}
	if d > 0 {
		if err := sleep(r.Context(), d); err != nil {
			writeRaw(w, http.StatusServiceUnavailable, cancelledBody)
			return false
		}
	}
	if f.errorRate > 0 && a.rng.float64() < f.errorRate {
		writeRaw(w, http.StatusInternalServerError, injectedFaultBody)
		return false
	}
	return true
}

// sleep waits for d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rng is a lock-free random source: the n-th draw is splitmix64 of
// seed+n. Concurrent requests only contend on one atomic add, and a test
// that sends requests one at a time sees the same sequence for the same
// seed. Not for anything secret; tokens use crypto/rand.
type rng struct {
	seed uint64
	n    atomic.Uint64
}

func newRNG(seed int64) *rng {
	s := uint64(seed)
	if seed == 0 {
		s = rand.Uint64()
	}
	return &rng{seed: s}
}

// float64 returns a uniform number in [0, 1).
func (r *rng) float64() float64 {
	z := r.seed + r.n.Add(1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) * 0x1p-53
}
