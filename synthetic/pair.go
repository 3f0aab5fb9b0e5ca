package synthetic

import (
	"context"
	"fmt"
	"log/slog"
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
func (p *prober) pair(ctx context.Context, m *Monitor, seq int64, log *slog.Logger) pairResult {
	pr := Pair{Monitor: m.Name, Seq: seq, At: time.Now()}
	var (
		wg     sync.WaitGroup
		panics [2]*recovered
		extra  = [2]map[string]float64{{}, {}}
	)
	sides := [2]struct {
		target Target
		out    *Probe
	}{{p.baseline, &pr.Baseline}, {p.candidate, &pr.Candidate}}
	for i, side := range sides {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					panics[i] = &recovered{env: side.target.Name, value: v, stack: debug.Stack()}
				}
			}()
			res := p.probe(ctx, m.Suite, side.target.Name, p.targets)
			extraAttempts(res, extra[i])
			*side.out = probeFrom(res, m.Name, side.target.Role, seq)
			log.Debug("probe", "env", side.target.Name, "role", side.target.Role, "seq", seq,
				"ok", side.out.OK, "latency", side.out.Latency, "err", side.out.Err)
		})
	}
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
