package synthetic

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
)

// probeFunc runs one pass of a suite against one environment: smoke.Runner.Run, or a test's
// stand-in (the seam through which tests inject panics).
type probeFunc func(ctx context.Context, suite *specs.Suite, env string, targets map[string]smoke.Target) *smoke.SuiteResult

// prober runs paired probes. One serves every monitor of a Run; it holds no per-run state.
type prober struct {
	probe     probeFunc
	baseline  Target
	candidate Target
	targets   map[string]smoke.Target // both environments, keyed by name
	first     func() Role             // which side of the next pair is launched first
}

// recovered is a panic caught in a probe.
type recovered struct {
	env   string
	value any
	stack []byte
}

func (r *recovered) Error() string { return fmt.Sprintf("panic probing %s: %v", r.env, r.value) }

// pairResult is what one paired run yields.
type pairResult struct {
	pair  Pair
	extra map[string]float64 // attempts beyond each step's first, per environment (for the rate cap)
	panic *recovered         // set when a probe panicked; pair is then unusable
}

// pair probes both environments concurrently with the same suite and returns when both are
// done. A panic in either probe is returned instead of a pair: the other probe still finishes.
//
// Neither side may get a head start: the side launched first is drawn per pair (p.first), and
// both goroutines wait at a barrier until both are ready, then go together. Whatever edge the
// scheduler still gives one of them then falls on either role alike instead of always on the
// baseline.
func (p *prober) pair(ctx context.Context, m *Monitor, seq int64, log *slog.Logger) pairResult {
	pr := Pair{Monitor: m.Name, Seq: seq, At: time.Now(), First: p.first()}
	var (
		wg, ready sync.WaitGroup
		start     = make(chan struct{})
		panics    [2]*recovered
		extra     = [2]map[string]float64{{}, {}}
	)
	type side struct {
		target Target
		out    *Probe
	}
	sides := [2]side{{p.baseline, &pr.Baseline}, {p.candidate, &pr.Candidate}}
	if pr.First == Candidate {
		sides[0], sides[1] = sides[1], sides[0]
	}
	ready.Add(len(sides))
	for i, side := range sides {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					panics[i] = &recovered{env: side.target.Name, value: v, stack: debug.Stack()}
				}
			}()
			ready.Done()
			<-start
			res := p.probe(ctx, m.Suite, side.target.Name, p.targets)
			extraAttempts(res, extra[i])
			*side.out = probeFrom(res, m.Name, side.target.Role, seq)
			log.Debug("probe", "env", side.target.Name, "role", side.target.Role, "seq", seq,
				"ok", side.out.OK, "latency", side.out.Latency, "err", side.out.Err)
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()
	for env, n := range extra[1] {
		extra[0][env] += n
	}
	out := pairResult{pair: pr, extra: extra[0]}
	for _, r := range panics {
		if r != nil && out.panic == nil {
			out.panic = r
		}
	}
	return out
}

// Order says which environment of each pair is launched first. Both are then released
// together; the order only decides which goroutine the scheduler meets first.
type Order string

const (
	// OrderRandom draws the first side of each pair with a fair coin: the default, and the only
	// order under which an A/A pair measures as one.
	OrderRandom Order = ""
	// OrderBaselineFirst always launches the baseline first, and OrderCandidateFirst the
	// candidate. They exist to measure the order bias (bench/probe); analyses never use them.
	OrderBaselineFirst  Order = "baseline-first"
	OrderCandidateFirst Order = "candidate-first"
)

// ParseOrder reads an Order from its name ("random" is OrderRandom).
func ParseOrder(s string) (Order, error) {
	switch o := Order(s); o {
	case "random":
		return OrderRandom, nil
	case OrderRandom, OrderBaselineFirst, OrderCandidateFirst:
		return o, nil
	}
	return "", fmt.Errorf("%w: unknown order %q (want random, baseline-first or candidate-first)", ErrInvalidOptions, s)
}

// String names the order as ParseOrder reads it.
func (o Order) String() string {
	if o == OrderRandom {
		return "random"
	}
	return string(o)
}

// firstSide returns how each pair's first side is chosen. rng, when not nil, is the coin of
// OrderRandom (tests seed it); it is shared by every monitor of a Run, hence the lock.
func firstSide(o Order, rng *rand.Rand) (func() Role, error) {
	coin := func(heads bool) Role {
		if heads {
			return Baseline
		}
		return Candidate
	}
	switch o {
	case OrderBaselineFirst:
		return func() Role { return Baseline }, nil
	case OrderCandidateFirst:
		return func() Role { return Candidate }, nil
	case OrderRandom:
		if rng == nil {
			return func() Role { return coin(rand.N(2) == 0) }, nil
		}
		var mu sync.Mutex
		return func() Role {
			mu.Lock()
			defer mu.Unlock()
			return coin(rng.IntN(2) == 0)
		}, nil
	}
	return nil, fmt.Errorf("%w: unknown order %q", ErrInvalidOptions, o)
}
