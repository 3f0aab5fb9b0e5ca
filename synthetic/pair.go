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
	order     Order
	coin      func() bool // OrderRandom's draw: true launches the baseline first
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
// Neither side may get a head start: first's goroutine is launched first (see launchOrder), and
// both wait at a barrier until both are ready, then go together. Whatever edge the scheduler
// still gives one of them then falls on either role alike instead of always on the baseline.
func (p *prober) pair(ctx context.Context, m *Monitor, seq int64, first Role, log *slog.Logger) pairResult {
	pr := Pair{Monitor: m.Name, Seq: seq, At: time.Now(), First: first}
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
	// OrderRandom draws the first side with a fair coin for every other run and gives the run
	// after it the other side, so each side goes first in half the runs of a monitor: the
	// default, and the only order under which an A/A pair measures as one.
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

// coinOf returns OrderRandom's coin: rng when given (tests seed it), else the process's
// generator. One coin serves every monitor of a Run, hence the lock.
func coinOf(rng *rand.Rand) func() bool {
	if rng == nil {
		return func() bool { return rand.N(2) == 0 }
	}
	var mu sync.Mutex
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rng.IntN(2) == 0
	}
}

// launchOrder picks the first side of each run of one monitor. Under OrderRandom it draws in
// blocks of two runs: a coin for the first run of a block, the other side for the second. Each
// side then goes first in half the runs exactly, not just on average: going first is worth a
// lot on a busy machine (on two loaded cores, the side launched first measured some 20% faster),
// and a chance surplus of one order would tilt a comparison of the two environments by as much
// as its sampling noise.
type launchOrder struct {
	p    *prober
	last Role // the previous run's first side
}

// next returns the first side of run seq (1, 2, …); only the monitor's scheduling loop calls it.
func (o *launchOrder) next(seq int64) Role {
	var first Role
	switch {
	case o.p.order == OrderBaselineFirst:
		first = Baseline
	case o.p.order == OrderCandidateFirst:
		first = Candidate
	case seq%2 == 0 && o.last == Baseline:
		first = Candidate
	case seq%2 == 0 && o.last == Candidate:
		first = Baseline
	case o.p.coin():
		first = Baseline
	default:
		first = Candidate
	}
	o.last = first
	return first
}
