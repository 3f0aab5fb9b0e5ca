package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// simConfig is what every simulated analysis shares.
type simConfig struct {
	runs     int
	horizon  int // seconds
	alpha    float64
	seed     uint64
	parallel int
	judges   []judgeKind
	// minDuration is the analysis judge's policy.minDuration, in seconds: no promote before.
	minDuration int
}

// both reports whether some judge needs latencies and errors every second.
func (c *simConfig) both() bool {
	for _, k := range c.judges {
		if k.both {
			return true
		}
	}
	return false
}

// runCell simulates cfg.runs analyses of one scenario at one rate (observations per second per
// environment) and returns each judge's decision in each run: [judge][run]. Runs are spread
// over cfg.parallel workers; each run has its own random stream, derived from the seed, the
// scenario's name, the rate and the run's index, so results do not depend on the parallelism
// or on which other scenarios are selected.
func runCell(ctx context.Context, s *scenario, rate int, cfg simConfig) ([][]decision, error) {
	out := make([][]decision, len(cfg.judges))
	for i := range out {
		out[i] = make([]decision, cfg.runs)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.parallel)
	for range cfg.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := newWorkspace(rate)
			for {
				run := int(next.Add(1) - 1)
				if run >= cfg.runs || ctx.Err() != nil {
					return
				}
				d, err := simulate(s, rate, run, cfg, ws)
				if err != nil {
					errs <- err
					return
				}
				for j := range d {
					out[j][run] = d[j]
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, ctx.Err()
}

// workspace holds one worker's buffers, reused from run to run.
type workspace struct {
	tk     tick
	minute [2][]float64 // this minute's latencies per side
	mErrs  [2]int64     // this minute's errors per side
	mTotal [2]int64     // this minute's requests per side
	burst  [2]bool      // each side in an error burst now
	slow   [2]bool      // each side in a latency episode now
}

func newWorkspace(rate int) *workspace {
	ws := &workspace{}
	for s := range 2 {
		ws.tk.lat[s] = make([]float64, rate)
		ws.minute[s] = make([]float64, 0, 60*rate)
	}
	return ws
}

// simulate runs one analysis: it generates each second's data once and feeds it to every judge
// that has not decided yet, and stops as soon as all have.
func simulate(s *scenario, rate, run int, cfg simConfig, ws *workspace) ([]decision, error) {
	rng := rand.New(rand.NewPCG(cfg.seed, runStream(s.name, rate, run)))
	judges := make([]judge, len(cfg.judges))
	for i, k := range cfg.judges {
		j, err := k.build(s, &cfg)
		if err != nil {
			return nil, fmt.Errorf("build %s judge for %s: %w", k.name, s.name, err)
		}
		judges[i] = j
	}
	dec := make([]decision, len(judges))
	active := len(judges)
	tk := &ws.tk
	for side := range 2 {
		ws.minute[side] = ws.minute[side][:0]
	}
	ws.mErrs, ws.mTotal = [2]int64{}, [2]int64{}
	for side := range 2 {
		ws.burst[side] = s.bursts.start(rng)
		ws.slow[side] = s.slow.start(rng)
	}
	both := cfg.both()

	for t := 1; t <= cfg.horizon && active > 0; t++ {
		tk.t, tk.minute = t, 0
		if s.errors || both {
			ws.errorsSecond(s, rate, rng)
		}
		if !s.errors || both {
			ws.latencySecond(s, rate, t, cfg.horizon, rng)
		}
		for side := range 2 {
			ws.burst[side] = s.bursts.step(ws.burst[side], rng)
			ws.slow[side] = s.slow.step(ws.slow[side], rng)
		}
		if t%60 == 0 {
			ws.closeMinute(s, t/60)
		}
		for i, j := range judges {
			if dec[i].v != undecided {
				continue
			}
			if v := j.observe(tk); v != undecided {
				dec[i] = decision{v, int32(t)}
				active--
			}
		}
	}
	for i, j := range judges {
		if dec[i].v == undecided {
			dec[i] = decision{j.final(), int32(cfg.horizon)}
		}
	}
	return dec, nil
}

func (ws *workspace) latencySecond(s *scenario, rate, t, horizon int, rng *rand.Rand) {
	load := s.loadAt(float64(t), float64(horizon))
	for side, d := range [2]dist{s.base, s.cand} {
		f := load
		if ws.slow[side] {
			f *= s.slow.level
		}
		v := ws.tk.lat[side][:rate]
		for i := range v {
			v[i] = f * d.sample(rng)
		}
		if !s.errors {
			ws.minute[side] = append(ws.minute[side], v...)
		}
	}
}

// errorsSecond draws each side's failed requests, then pairs them as probes made at the same
// moments would: the sides fail independently, so which failures coincide is a random pairing.
func (ws *workspace) errorsSecond(s *scenario, rate int, rng *rand.Rand) {
	for side, p := range [2]float64{s.pb, s.pc} {
		if ws.burst[side] {
			p = s.bursts.level
		}
		e := binomial(rng, int64(rate), p)
		ws.tk.errs[side], ws.tk.total[side] = e, int64(rate)
		if s.errors {
			ws.mErrs[side] += e
			ws.mTotal[side] += int64(rate)
		}
	}
	tk := &ws.tk
	tk.both = hypergeometric(rng, int64(rate), tk.errs[blue], tk.errs[green])
	tk.onlyBlue, tk.onlyGreen = tk.errs[blue]-tk.both, tk.errs[green]-tk.both
}

// hypergeometric is the number of marked items among k drawn without replacement from n of
// which m are marked, drawn one by one (k and m are small: error counts).
func hypergeometric(r *rand.Rand, n, m, k int64) int64 {
	if m > k {
		m, k = k, m
	}
	var x int64
	for i := int64(0); i < m && k > 0; i++ {
		// The i-th of blue's failures coincides with one of green's k remaining failures among
		// the n−i remaining moments.
		if r.Int64N(n-i) < k {
			x++
			k--
		}
	}
	return x
}

// start draws whether an environment is in an episode when a run begins: the chain's
// stationary share.
func (e *episodes) start(r *rand.Rand) bool {
	return e != nil && r.Float64() < e.share()
}

// step moves the chain on by one second.
func (e *episodes) step(on bool, r *rand.Rand) bool {
	switch {
	case e == nil:
		return false
	case on:
		return r.Float64() >= 1/e.length
	}
	return r.Float64() < 1/e.every
}

// closeMinute turns the minute's raw data into one point per side, as a metrics store
// queried at a 1-minute step would.
func (ws *workspace) closeMinute(s *scenario, m int) {
	ws.tk.minute = m
	for side := range 2 {
		p := math.NaN()
		switch {
		case s.errors && ws.mTotal[side] > 0:
			p = float64(ws.mErrs[side]) / float64(ws.mTotal[side])
		case !s.errors && len(ws.minute[side]) > 0:
			p = percentileOf(ws.minute[side], s.percentile/100)
		}
		ws.tk.point[side] = p
		ws.minute[side] = ws.minute[side][:0]
		ws.mErrs[side], ws.mTotal[side] = 0, 0
	}
}

// percentileOf is the empirical p-quantile (the ceil(p·n)-th smallest value, as greenlight's
// sketch defines it). It reorders v.
func percentileOf(v []float64, p float64) float64 {
	k := int(math.Ceil(p*float64(len(v)))) - 1
	return kth(v, min(max(k, 0), len(v)-1))
}

// kth returns the k-th smallest value (0-based) by quickselect, reordering v.
func kth[T float32 | float64](v []T, k int) T {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// Median of three as the pivot: no random numbers, no quadratic case on sorted input.
		mid := lo + (hi-lo)/2
		a, b, c := v[lo], v[mid], v[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// binomial draws from Binomial(n, p) by inversion, in chunks small enough that (1−p)^m does
// not underflow. Exact, and fast for the small n·p of error rates.
func binomial(r *rand.Rand, n int64, p float64) int64 {
	switch {
	case p <= 0 || n <= 0:
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	}
	odds := p / (1 - p)
	var x int64
	for n > 0 {
		m := min(n, 256)
		n -= m
		f := math.Pow(1-p, float64(m))
		u := r.Float64()
		var k int64
		for u > f && k < m {
			u -= f
			f *= float64(m-k) / float64(k+1) * odds
			k++
		}
		x += k
	}
	return x
}

// runStream is the random stream of one run: a hash of the scenario's name mixed with the rate
// and the run's index.
func runStream(name string, rate, run int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return splitmix(h.Sum64() ^ splitmix(uint64(rate)<<32|uint64(run)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
