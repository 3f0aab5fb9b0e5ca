package synthetic

import (
	"sync"
	"time"

	"github.com/greenlight/greenlight/smoke"
)

// burstRuns is how many runs' worth of requests a bucket holds: one more than a single run, so
// that a tick a little late followed by one a little early is not skipped when a monitor's
// schedule asks for exactly its rate cap.
const burstRuns = 2

// limiter is one monitor's rate cap: a token bucket per environment, each refilled at the same
// rate. A run takes its cost from every bucket or from none, so the two environments are always
// probed together or not at all.
type limiter struct {
	mu      sync.Mutex
	rate    float64            // tokens (requests) per second
	cost    map[string]float64 // requests one run sends to each environment
	buckets map[string]*bucket
}

type bucket struct {
	tokens, burst float64
	last          time.Time
}

// newLimiter sizes one bucket per environment a run sends requests to; each starts full.
func newLimiter(rate float64, cost map[string]float64) *limiter {
	l := &limiter{rate: rate, cost: cost, buckets: map[string]*bucket{}}
	for env, c := range cost {
		l.buckets[env] = &bucket{tokens: burstRuns * c, burst: burstRuns * c}
	}
	return l
}

// Burst returns the most requests a monitor's rate cap lets through at once to one environment:
// the cap allows at most Burst + RateLimit×T requests to it over any T.
func (m *Monitor) Burst() int {
	if m.Suite == nil {
		return 0
	}
	return burstRuns * len(m.Suite.Steps)
}

// runCost counts the requests one paired run sends to each environment: a step goes to the
// environment probed, or to the one it names (a rollback rehearsal writes on one and reads on
// the other). Retries are not known in advance; debit charges them after the run.
func runCost(m *Monitor, envs ...string) map[string]float64 {
	cost := map[string]float64{}
	for _, env := range envs {
		for i := range m.Suite.Steps {
			to := env
			if e := m.Suite.Steps[i].Env; e != "" {
				to = e
			}
			cost[to]++
		}
	}
	return cost
}

// take takes one run's cost from every bucket at now, or nothing when any bucket lacks it.
func (l *limiter) take(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.buckets {
		b.refill(now, l.rate)
	}
	for env, c := range l.cost {
		if l.buckets[env].tokens < c {
			return false
		}
	}
	for env, c := range l.cost {
		l.buckets[env].tokens -= c
	}
	return true
}

// refund gives back one run's cost, taken by a run that did not start after all (a host's cap
// refused it).
func (l *limiter) refund() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for env, c := range l.cost {
		b := l.buckets[env]
		b.tokens = min(b.burst, b.tokens+c)
	}
}

// debit charges the requests a run sent beyond its cost (retried attempts), per environment.
// A bucket may go negative; the next runs are then skipped until it has refilled.
func (l *limiter) debit(extra map[string]float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for env, n := range extra {
		if b := l.buckets[env]; b != nil {
			b.tokens -= n
		}
	}
}

func (b *bucket) refill(now time.Time, rate float64) {
	if dt := now.Sub(b.last); !b.last.IsZero() && dt > 0 {
		b.tokens = min(b.burst, b.tokens+dt.Seconds()*rate)
	}
	if now.After(b.last) {
		b.last = now
	}
}

// extraAttempts counts, per environment, the attempts beyond the first of every step of a
// smoke pass.
func extraAttempts(res *smoke.SuiteResult, into map[string]float64) {
	for i := range res.Steps {
		if n := res.Steps[i].Attempts - 1; n > 0 {
			into[res.Steps[i].Environment] += float64(n)
		}
	}
}
