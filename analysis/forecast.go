package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
)

// ForecastOptions say what a plan assumes about the traffic it simulates.
type ForecastOptions struct {
	// Rates are observations per second per environment, by monitor or check name (a check's
	// rate wins over its monitor's). A monitor's own schedule otherwise; a check that reads a
	// source (Prometheus, traces …) is simulated only with a rate given.
	Rates map[string]float64
	// Median and Sigma shape the service's latency: lognormal (defaults 100ms, 0.5).
	Median time.Duration
	Sigma  float64
	// ErrorRate is both environments' error rate when healthy (default 0).
	ErrorRate float64
	// Slower multiplies the candidate's latencies in the latency regression (default 2);
	// MoreErrors adds to its error rate in the error regression (default 0.05: 5 points). A
	// check that allows more is given twice what it allows.
	Slower, MoreErrors float64
	// Runs is the number of simulated analyses per scenario (default 200).
	Runs int
	// Seed makes a plan reproducible.
	Seed uint64
}

func (o ForecastOptions) withDefaults() ForecastOptions {
	if o.Median <= 0 {
		o.Median = 100 * time.Millisecond
	}
	if o.Sigma <= 0 {
		o.Sigma = 0.5
	}
	o.ErrorRate = math.Min(math.Max(o.ErrorRate, 0), 1)
	if o.Slower <= 0 {
		o.Slower = 2
	}
	if o.MoreErrors <= 0 {
		o.MoreErrors = 0.05
	}
	if o.Runs <= 0 {
		o.Runs = 200
	}
	return o
}

// Forecast is what simulating an analysis with its own judge found: for each check, how a healthy
// candidate and a regression fare by maxDuration; then the same for the whole analysis (its
// critical checks together, minDuration included).
type Forecast struct {
	MinDuration, MaxDuration time.Duration
	Checks                   []CheckForecast
	// Analysis: a healthy candidate, then each simulated critical check's regression alone.
	Analysis []Outcomes
	// NotSimulated names the critical checks the plan could not simulate; then the analysis
	// figures leave them out.
	NotSimulated []string
}

// CheckForecast is one check's plan.
type CheckForecast struct {
	Check    string   `json:"check"`
	Kind     string   `json:"kind"` // latency, error-rate, shift
	Critical bool     `json:"critical"`
	Rate     float64  `json:"rate"`           // observations per second per environment; 0 when not simulated
	Note     string   `json:"note,omitempty"` // why it was not simulated
	Alpha    float64  `json:"alpha"`          // its share of the false-rollback budget
	Healthy  Outcomes `json:"healthy"`
	Regress  Outcomes `json:"regression"`
}

// Outcomes are how simulated analyses of one scenario ended by maxDuration.
type Outcomes struct {
	Scenario                        string
	Runs                            int
	Promote, Rollback, Inconclusive float64 // shares
	// PromoteHalf and RollbackHalf are the times by which half of all runs had promoted (rolled
	// back); -1 when fewer than half did.
	PromoteHalf, RollbackHalf time.Duration
}

// scenario is the truth a simulation draws from.
type scenario struct {
	name   string
	slower float64 // candidate latencies × this
	pb, pc float64 // error rates
}

// simCheck is one check being simulated: the compare check as an analysis builds it, and how
// it is fed.
type simCheck struct {
	spec   *specs.Check
	rate   float64
	carry  float64
	build  func() (simJudge, error)
	judge  simJudge
	counts bool // fed counts (a metrics source), not probes
}

// simJudge is what every compare check the plan simulates offers.
type simJudge interface {
	Decide() compare.State
}

// planChecks builds the simulated checks: every monitor-fed check, and source checks with a rate.
func planChecks(a *specs.Analysis, o ForecastOptions) (sims []*simCheck, plans []CheckForecast) {
	cfgs := checkConfigs(a, [2]string{"baseline", "candidate"})
	for i := range a.Checks {
		sc := &a.Checks[i]
		cp := CheckForecast{Check: sc.Name, Kind: sc.Kind(), Critical: sc.IsCritical(), Alpha: cfgs[i].Alpha}
		rate, ok := o.Rates[sc.Name]
		if !ok && !sc.UsesSource() {
			rate = monitorRate(a, sc.Source().From, o.Rates)
		}
		var build func() (simJudge, error)
		k, err := kindOf(sc)
		switch {
		case err != nil || k.simulate == nil:
			cp.Note = "not simulated: " + sc.Kind() + " checks compare series, not observations"
		default:
			build, cp.Note = k.simulate(sc, cfgs[i], sc.UsesSource())
		}
		switch {
		case cp.Note != "":
			build = nil
		case rate <= 0 && sc.UsesSource():
			build, cp.Note = nil, "not simulated: it reads "+sc.SourceKind()+"; give its traffic with --rate "+sc.Name+"=N"
		case rate <= 0:
			build, cp.Note = nil, "not simulated: its monitor has no rate"
		}
		if build != nil {
			cp.Rate = rate
			sims = append(sims, &simCheck{spec: sc, rate: rate, build: build, counts: sc.UsesSource()})
		}
		plans = append(plans, cp)
	}
	return sims, plans
}

// monitorRate is a monitor's runs per second, which is also its observations per second in each
// environment; 0 when unknown.
func monitorRate(a *specs.Analysis, name string, rates map[string]float64) float64 {
	if r, ok := rates[name]; ok {
		return r
	}
	for i := range a.Monitors {
		m := &a.Monitors[i]
		if m.Name != name {
			continue
		}
		if d := m.Every.D(); d > 0 {
			return 1 / d.Seconds()
		}
		if s, err := specs.ParseCron(m.Cron); err == nil {
			t0 := s.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			if d := s.Next(t0).Sub(t0); d > 0 {
				return 1 / d.Seconds()
			}
		}
	}
	return 0
}

// regression is the scenario in which a check's candidate has regressed as the options say —
// or by twice what the check allows, if that is more.
func regression(sc *specs.Check, o ForecastOptions) scenario {
	s := scenario{slower: 1, pb: o.ErrorRate, pc: o.ErrorRate}
	switch {
	case sc.ErrorRate != nil:
		inc := o.MoreErrors
		if m := sc.ErrorRate.MaxIncrease; m != nil {
			inc = math.Max(inc, 2*m.F())
		}
		s.pc = math.Min(1, o.ErrorRate+inc)
		s.name = fmt.Sprintf("errors %s → %s", pctString(s.pb), pctString(s.pc))
	default:
		s.slower = o.Slower
		if l := sc.Latency; l != nil && l.MaxRatio != nil {
			s.slower = math.Max(s.slower, 1+2*(*l.MaxRatio-1))
		}
		if (sc.Latency != nil && sc.Latency.Direction == "decrease") || (sc.Shift != nil && sc.Shift.Direction == "decrease") {
			s.slower = 1 / o.Slower
		}
		s.name = fmt.Sprintf("latency ×%g", s.slower)
	}
	return s
}

// feed gives a simulated check one second of observations.
func (s *simCheck) feed(sec int, sn scenario, o ForecastOptions, rng *rand.Rand) {
	if a, ok := s.judge.(interface{ Advance(time.Duration) }); ok {
		a.Advance(time.Duration(sec-1) * time.Second)
	}
	s.carry += s.rate
	n := int(s.carry)
	s.carry -= float64(n)
	median := o.Median.Seconds()
	switch j := s.judge.(type) {
	case *compare.ErrorRate:
		if s.counts {
			var e [2]int64
			for range n {
				e[0] += b2i(rng.Float64() < sn.pb)
				e[1] += b2i(rng.Float64() < sn.pc)
			}
			_ = j.AddCounts(compare.Baseline, e[0], int64(n))
			_ = j.AddCounts(compare.Candidate, e[1], int64(n))
			return
		}
		for range n {
			j.Add(compare.Baseline, rng.Float64() < sn.pb)
			j.Add(compare.Candidate, rng.Float64() < sn.pc)
		}
	case interface {
		Add(compare.Side, float64) error
	}:
		for range n {
			_ = j.Add(compare.Baseline, median*math.Exp(o.Sigma*rng.NormFloat64()))
			_ = j.Add(compare.Candidate, sn.slower*median*math.Exp(o.Sigma*rng.NormFloat64()))
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// simulate runs o.Runs analyses of horizon with the checks given (all of them must pass for a
// promote, not before minDuration; any failing rolls back), the regression applying to
// regressed only (nil: every check healthy).
func simulate(sims []*simCheck, regressed *simCheck, o ForecastOptions, minDuration, horizon time.Duration, name string) (Outcomes, error) {
	out := Outcomes{Scenario: name, Runs: o.Runs}
	healthy := scenario{slower: 1, pb: o.ErrorRate, pc: o.ErrorRate}
	var promoted, rolled []float64
	H := int(math.Ceil(horizon.Seconds()))
	for run := range o.Runs {
		rng := rand.New(rand.NewPCG(o.Seed, uint64(run)))
		for _, s := range sims {
			j, err := s.build()
			if err != nil {
				return out, fmt.Errorf("check %q: %w", s.spec.Name, err)
			}
			s.judge, s.carry = j, 0
		}
	seconds:
		for sec := 1; sec <= H; sec++ {
			pass := true
			for _, s := range sims {
				sn := healthy
				if s == regressed {
					sn = regression(s.spec, o)
				}
				s.feed(sec, sn, o, rng)
				switch s.judge.Decide() {
				case compare.Fail:
					rolled = append(rolled, float64(sec))
					break seconds
				case compare.Inconclusive:
					pass = false
				}
			}
			if pass && time.Duration(sec)*time.Second >= minDuration {
				promoted = append(promoted, float64(sec))
				break
			}
		}
	}
	n := float64(o.Runs)
	out.Promote, out.Rollback = float64(len(promoted))/n, float64(len(rolled))/n
	out.Inconclusive = 1 - out.Promote - out.Rollback
	out.PromoteHalf, out.RollbackHalf = halfTime(promoted, o.Runs), halfTime(rolled, o.Runs)
	return out, nil
}

// halfTime is the time by which half of all runs had made a decision; -1 when fewer did.
func halfTime(times []float64, runs int) time.Duration {
	k := (runs + 1) / 2
	if len(times) < k {
		return -1
	}
	slices.Sort(times)
	return time.Duration(times[k-1]) * time.Second
}

// MakeForecast simulates the analysis with its own judge: every check fed by a monitor at the
// monitor's rate (or the rate given), a healthy candidate and a regressed one, until
// policy.maxDuration; then the critical checks together.
func MakeForecast(a *specs.Analysis, o ForecastOptions) (*Forecast, error) {
	o = o.withDefaults()
	p := &Forecast{MinDuration: a.Policy.MinDuration.D(), MaxDuration: a.Policy.MaxDuration.D()}
	sims, plans := planChecks(a, o)
	byName := map[string]*simCheck{}
	for _, s := range sims {
		byName[s.spec.Name] = s
	}
	for i := range plans {
		cp := &plans[i]
		s := byName[cp.Check]
		if s == nil {
			if cp.Critical {
				p.NotSimulated = append(p.NotSimulated, cp.Check)
			}
			continue
		}
		var err error
		if cp.Healthy, err = simulate([]*simCheck{s}, nil, o, 0, p.MaxDuration, "identical"); err != nil {
			return nil, err
		}
		if cp.Regress, err = simulate([]*simCheck{s}, s, o, 0, p.MaxDuration, regression(s.spec, o).name); err != nil {
			return nil, err
		}
	}
	p.Checks = plans
	var critical []*simCheck
	for _, s := range sims {
		if s.spec.IsCritical() {
			critical = append(critical, s)
		}
	}
	if len(critical) == 0 {
		return p, nil
	}
	h, err := simulate(critical, nil, o, p.MinDuration, p.MaxDuration, "identical")
	if err != nil {
		return nil, err
	}
	p.Analysis = append(p.Analysis, h)
	for _, s := range critical {
		r, err := simulate(critical, s, o, p.MinDuration, p.MaxDuration, s.spec.Name+": "+regression(s.spec, o).name)
		if err != nil {
			return nil, err
		}
		p.Analysis = append(p.Analysis, r)
	}
	return p, nil
}

// Warnings are what to fix before trusting an analysis's verdict: histogram checks whose buckets
// cannot decide their limits, and rates too low to decide within maxDuration.
func Warnings(a *specs.Analysis) []string {
	return append(HistogramWarnings(a), Feasibility(a)...)
}

// classicBuckets matches a query of classic histogram buckets (the _bucket series with an le
// label), as opposed to a native histogram.
var classicBuckets = regexp.MustCompile(`_bucket\b`)

// HistogramWarnings warns, from the spec alone, about latency checks that read classic
// Prometheus buckets with a limit finer than such buckets usually resolve: a percentile is
// bounded by the edges of the bucket that holds it, and the customary buckets (5, 10, 25, 50,
// 100, 250 ms …) are 2 to 2.5 times apart, so a ratio is known at best within [0.4, 2.5]. The
// first poll checks the real buckets (a source warning on the outcome).
func HistogramWarnings(a *specs.Analysis) []string {
	var out []string
	for i := range a.Checks {
		sc := &a.Checks[i]
		l := sc.Latency
		if l == nil || l.Prometheus == nil || !classicBuckets.MatchString(l.Prometheus.Buckets) {
			continue
		}
		if (l.MaxRatio == nil || *l.MaxRatio >= 2.5) && l.MaxIncrease == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s: check %q bounds its p%g by the edges of classic le buckets: to decide %s the buckets around the p%g must be closer together than that "+
			"(the customary 5, 10, 25, 50, 100, 250 ms … buckets, 2 to 2.5 times apart, allow a ratio no finer than [0.4, 2.5], so the check would stay inconclusive); "+
			"query a native histogram, e.g. sum(increase(<metric>{…}[{{ .window }}])), or add finer buckets", sc.Pos, sc.Name, l.Percentile, limitsOf(l), l.Percentile))
	}
	return out
}

// Feasibility warns, before an analysis starts, when its critical checks cannot plausibly
// decide a healthy candidate within policy.maxDuration at the rates its monitors run at (with
// onInconclusive: rollback, such an analysis rolls back healthy releases), and says what would:
// a rate, a longer maxDuration, a looser limit. It simulates with the real judge, briefly: only
// analyses up to feasibilityHorizon long (greenlight plan simulates any).
func Feasibility(a *specs.Analysis) []string {
	o := ForecastOptions{Runs: 40, Seed: 1, ErrorRate: 0.001}.withDefaults()
	sims, _ := planChecks(a, o)
	var critical []*simCheck
	for _, s := range sims {
		if s.spec.IsCritical() && !s.counts {
			critical = append(critical, s)
		}
	}
	if len(critical) == 0 {
		return nil
	}
	maxD, minD := a.Policy.MaxDuration.D(), a.Policy.MinDuration.D()
	if maxD > feasibilityHorizon {
		// Simulating a long analysis at every start costs too much; greenlight plan does it.
		return nil
	}
	h, err := simulate(critical, nil, o, minD, maxD, "identical")
	if err != nil || h.Promote >= 0.5 {
		return nil
	}
	var slow []string
	for _, s := range critical {
		one, err := simulate([]*simCheck{s}, nil, o, 0, maxD, "identical")
		if err == nil && one.Promote < 0.5 {
			slow = append(slow, fmt.Sprintf("%s at %s per environment", s.spec.Name, rateString(s.rate)))
		}
	}
	msg := fmt.Sprintf("with these rates a healthy candidate is promoted within policy.maxDuration %s in only %s of simulated analyses (%s inconclusive)",
		maxD, pctString(h.Promote), strings.Join(slow, ", "))
	var fixes []string
	// A faster rate: the smallest of 2, 4, … 64 times the current ones that promotes half the
	// healthy analyses in time.
	for _, f := range []float64{2, 4, 8, 16, 32, 64} {
		for _, s := range critical {
			s.rate *= f
		}
		r, err := simulate(critical, nil, o, minD, maxD, "identical")
		for _, s := range critical {
			s.rate /= f
		}
		if err == nil && r.Promote >= 0.5 {
			fixes = append(fixes, fmt.Sprintf("probe %g times as often", f))
			break
		}
	}
	// A longer maxDuration: where half the healthy analyses promote at the current rates.
	if r, err := simulate(critical, nil, o, minD, 4*maxD, "identical"); err == nil && r.PromoteHalf > 0 {
		fixes = append(fixes, fmt.Sprintf("raise policy.maxDuration to about %s", roundUp(r.PromoteHalf*5/4)))
	}
	fixes = append(fixes, "or loosen the slow checks' limits (a larger maxRatio or maxIncrease decides sooner); greenlight plan shows the trade-offs")
	return []string{msg + ": " + strings.Join(fixes, ", ")}
}

// feasibilityHorizon is the longest policy.maxDuration the start-of-run check simulates.
const feasibilityHorizon = 20 * time.Minute

func roundUp(d time.Duration) time.Duration {
	if d > 10*time.Minute {
		return d.Round(time.Minute) + time.Minute
	}
	return d.Round(10*time.Second) + 10*time.Second
}

func rateString(r float64) string {
	if r >= 1 {
		return fmt.Sprintf("%g/s", math.Round(r*100)/100)
	}
	return fmt.Sprintf("one every %s", time.Duration(float64(time.Second)/r).Round(time.Millisecond))
}

func pctString(p float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", 100*p), "0"), ".") + "%"
}
