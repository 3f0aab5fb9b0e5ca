package main

import (
	"context"
	"math"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/synthetic"
)

// aaResult is an A/A run: the engine probing two identical targets (the two ports of one
// probeserver process) with the blue port as baseline and the green one as candidate. Any
// difference between the roles is the engine's bias.
type aaResult struct {
	Order         string  `json:"order"`
	Seconds       float64 `json:"seconds"`
	Pairs         int     `json:"pairs"` // both probes passed
	BaselineFirst int     `json:"baseline_first"`
	Baseline      dist    `json:"baseline"`
	Candidate     dist    `json:"candidate"`
	P50Ratio      float64 `json:"p50_ratio"` // candidate p50 / baseline p50
	P95Ratio      float64 `json:"p95_ratio"`
	// PairRatio is the median of the per-pair candidate/baseline ratios; BalancedRatio averages
	// (in logs) that median over the pairs of each launch order, which cancels the order effect
	// when both orders are present; OrderEffect is how much faster the side launched first is.
	PairRatio     float64 `json:"pair_ratio"`
	BalancedRatio float64 `json:"balanced_pair_ratio,omitempty"`
	OrderEffect   float64 `json:"first_side_faster,omitempty"`
	Shift         string  `json:"shift"`   // a shift check at α = 1%, maxProbability 0.6, either way
	Latency       string  `json:"latency"` // a p50 latency check at α = 1%, maxRatio 1.2, either way
	ShiftState    string  `json:"shift_state"`
	LatencyState  string  `json:"latency_state"`
}

// measureAA runs the A/A section once per order.
func measureAA(ctx context.Context, cfg *config, e *engine, rep *report) error {
	for _, o := range cfg.orders {
		say("greenlight: A/A, order %s, %.0f probes/s for %s", o, cfg.aaRate, cfg.aaDur)
		s := cfg.rateSpec(cfg.aaRate, cfg.aaDur)
		s.order = o
		res, err := e.aa(ctx, s)
		if err != nil {
			return err
		}
		rep.Greenlight.AA = append(rep.Greenlight.AA, res)
	}
	return nil
}

// aa runs the engine as s says and compares the roles pair by pair.
func (e *engine) aa(ctx context.Context, s engineSpec) (*aaResult, error) {
	var pairs []synthetic.Pair
	s.onPair = func(p *synthetic.Pair) {
		if p.Baseline.OK && p.Candidate.OK {
			pairs = append(pairs, *p)
		}
	}
	run, err := e.run(ctx, s)
	if err != nil {
		return nil, err
	}
	return aaOf(s.order.String(), run.Seconds, pairs)
}

// aaOf summarises the pairs of an A/A run.
func aaOf(order string, seconds float64, pairs []synthetic.Pair) (*aaResult, error) {
	r := &aaResult{Order: order, Seconds: seconds, Pairs: len(pairs)}
	shift, err := compare.NewShift(compare.Config{}, 0.6, compare.Either)
	if err != nil {
		return nil, err
	}
	p50, err := compare.NewLatency(compare.Config{}, 50, compare.Threshold{MaxRatio: compare.F(1.2), Direction: compare.Either})
	if err != nil {
		return nil, err
	}
	var base, cand []int64
	var all []float64
	byOrder := map[synthetic.Role][]float64{}
	for _, p := range pairs {
		b, c := p.Baseline.Latency, p.Candidate.Latency
		base, cand = append(base, int64(b)), append(cand, int64(c))
		lr := math.Log(float64(c) / float64(b))
		all = append(all, lr)
		byOrder[p.First] = append(byOrder[p.First], lr)
		if p.First == synthetic.Baseline {
			r.BaselineFirst++
		}
		if err := shift.AddPair(b.Seconds(), c.Seconds()); err != nil {
			return nil, err
		}
		_ = p50.Add(compare.Baseline, b.Seconds())
		_ = p50.Add(compare.Candidate, c.Seconds())
	}
	r.Baseline, r.Candidate = distOf(base), distOf(cand) // sorts base and cand
	if len(pairs) == 0 {
		return r, nil
	}
	r.P50Ratio = r.Candidate.P50 / r.Baseline.P50
	r.P95Ratio = float64(rank(cand, 0.95)) / float64(rank(base, 0.95))
	r.PairRatio = math.Exp(median(all))
	if bf, cf := byOrder[synthetic.Baseline], byOrder[synthetic.Candidate]; len(bf) > 0 && len(cf) > 0 {
		r.BalancedRatio = math.Exp((median(bf) + median(cf)) / 2)
		r.OrderEffect = math.Exp((median(bf) - median(cf)) / 2)
	}
	so, lo := shift.Evaluate(), p50.Evaluate()
	r.Shift, r.ShiftState = so.Reason, string(so.State)
	r.Latency, r.LatencyState = lo.Reason, string(lo.State)
	return r, nil
}
