package analysis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/greenlight/greenlight/verdict"
)

// ErrInvalid marks problems with the analysis's input (an environment without a URL, an
// unknown role) — exit code 3, not an internal error.
var ErrInvalid = errors.New("invalid analysis input")

// Options configure one run.
type Options struct {
	Analysis *specs.Analysis
	// Envs override environment URLs (--env NAME=URL); a name not in the spec adds it.
	Envs map[string]string
	// Baseline and Candidate override the spec's roles (--baseline, --candidate).
	Baseline, Candidate string
	// Watch overrides policy.watch when set (--watch); use a negative value for "no watch".
	Watch time.Duration
	// Tick is how often checks are evaluated (default 1s).
	Tick    time.Duration
	Runner  *smoke.Runner
	Metrics *synthetic.Metrics
	Logger  *slog.Logger
	// OnEvent, when set, receives progress: smoke steps, every tick's check results, the verdict.
	OnEvent func(Event)
	// OnTraces, when set, is told where the OTLP trace receiver listens (sources.traces).
	OnTraces func(addr string)
	// TracesListen overrides sources.traces.listen.
	TracesListen string
	// LookupEnv reads DD_API_KEY, DD_APP_KEY and DD_SITE (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// DialContext and Listen, when set, replace the host's network: DialContext opens every
	// connection of the run (the probes of the Runner it builds when Runner is nil, the metric
	// and trace sources), Listen the trace receiver's listener. Tests run whole analyses on an
	// in-memory network with them.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	Listen      func(network, addr string) (net.Listener, error)

	traces     sharedTraces          // the Engine's trace receiver (EngineOptions.Traces), set by Engine.Start
	hosts      *synthetic.HostLimits // the Engine's per-host caps (EngineOptions.HostLimits), set by Engine.Start
	clients    sharedClients         // the Engine's source clients (EngineOptions.HTTPClient), set by Engine.Start
	httpClient *http.Client          // the sources' client on DialContext's network, set by Compile
	// stagger is the fraction of the tick by which evaluations and first probes are put off
	// (EngineOptions.Stagger), set by Engine.Start.
	stagger float64
}

// EventKind says what an Event reports.
type EventKind string

const (
	EventPhase     EventKind = "phase"      // a phase started
	EventSmokeStep EventKind = "smoke-step" // a smoke step finished
	EventTick      EventKind = "tick"       // checks were evaluated
	EventVerdict   EventKind = "verdict"    // the analysis is decided
	EventWarning   EventKind = "warning"    // something to fix before trusting the run (Message)
)

// Event is progress of a run.
type Event struct {
	// Analysis is the id of the analysis in an Engine; Seq numbers its events from 1, without
	// gaps; Time is when the event was published. All three are set by the Engine's stream.
	Analysis string
	Seq      uint64
	Time     time.Time

	Kind    EventKind
	Phase   verdict.Phase
	Elapsed time.Duration // since the phase started
	Lag     time.Duration // tick events: how late the evaluation ran after its tick was due
	Limit   time.Duration // the phase's limit (maxDuration, watch)
	Checks  []verdict.CheckResult
	// Baseline and Candidate name the environments.
	Baseline, Candidate string
	Suite               string
	Env                 string
	Step                *smoke.StepResult
	Verdict             *verdict.Verdict
	Message             string
	// Diagnosis names what keeps an environment from being measured (tick events): "blue
	// unreachable: connection refused, 40 of 40 probes".
	Diagnosis []string
}

// Run executes the analysis and returns its verdict. When ctx ends first (a signal, an abort)
// the verdict is verdict.Interrupted with what was known by then — never a rollback blamed on
// the candidate. An error means no verdict could be formed at all: invalid input (wrapping
// ErrInvalid) or a failure of greenlight itself.
func Run(ctx context.Context, o Options) (*verdict.Verdict, error) {
	p, err := Compile(o)
	if err != nil {
		return nil, err
	}
	return p.run(ctx, p.o)
}

// Plan is an analysis ready to start: its spec validated, its environments and roles resolved
// and its monitors built, all without I/O. Compile makes one; Run and Engine.Start run it.
type Plan struct {
	o Options
	// warnings are what to fix before trusting the run (histogram buckets too coarse for a
	// limit, rates too slow to decide in time), found once here and emitted when it starts.
	warnings []string
}

// Compile checks what can be checked about an analysis before anything runs — roles,
// environment URLs, monitors — so that a daemon can refuse a bad request with its reasons
// (errors wrap ErrInvalid). The caller's spec is never written to.
func Compile(o Options) (*Plan, error) {
	if o.Analysis == nil {
		return nil, fmt.Errorf("%w: no analysis", ErrInvalid)
	}
	a := o.Analysis
	if o.TracesListen != "" && a.Sources.Traces != nil {
		// A copy carries the override.
		cp, tr := *a, *a.Sources.Traces
		tr.Listen = o.TracesListen
		cp.Sources.Traces = &tr
		o.Analysis = &cp
	}
	if _, _, _, err := resolveTargets(o.Analysis, o, o.Redactor()); err != nil {
		return nil, err
	}
	for i := range o.Analysis.Monitors {
		if _, err := synthetic.MonitorFromSpec(&o.Analysis.Monitors[i]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	// Every check is built once here, against its source's client: a query template that
	// cannot compile, a source that is not declared, a Datadog key that is not set — refused
	// before the smoke gate has touched the candidate.
	o.httpClient = dialClient(o.DialContext)
	srcs, err := buildSources(o.Analysis, o.sourceEnv(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer srcs.close()
	if _, err := newChecks(o.Analysis, [2]string{"baseline", "candidate"}, srcs); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &Plan{o: o, warnings: Warnings(o.Analysis)}, nil
}

// Warnings are what Compile found to fix before trusting the run.
func (p *Plan) Warnings() []string { return append([]string(nil), p.warnings...) }

// Name is the analysis's name.
func (p *Plan) Name() string { return p.o.Analysis.Metadata.Name }

// run executes the plan with o: the plan's own options, with the shared parts (runner, logger,
// metrics, event sink) the caller's.
func (p *Plan) run(ctx context.Context, o Options) (*verdict.Verdict, error) {
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Runner == nil {
		o.Runner = smoke.NewRunner("greenlight", o.Logger)
		o.Runner.DialContext = o.DialContext
	}
	if o.hosts == nil { // Run, without an Engine: the analysis is the only one sharing them
		o.hosts = synthetic.NewHostLimits(synthetic.DefaultHostRateLimit)
	}
	a := o.Analysis
	redact := o.Redactor()
	base, cand, targets, err := resolveTargets(a, o, redact)
	if err != nil {
		return nil, err
	}
	srcs, err := newSources(a, o.sourceEnv(o.Logger))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer srcs.close()
	if srcs.addr != "" && o.OnTraces != nil {
		o.OnTraces(srcs.addr)
	}
	r := &run{o: o, a: a, base: base, cand: cand, targets: targets, started: time.Now(), srcs: srcs, redact: redact}
	r.v = &verdict.Verdict{
		Analysis:  a.Metadata.Name,
		Baseline:  verdict.Environment{Name: base.Name, URL: redact.Redact(base.URL)},
		Candidate: verdict.Environment{Name: cand.Name, URL: redact.Redact(cand.URL)},
		StartedAt: r.started,
	}

	for _, w := range p.warnings {
		o.Logger.Warn(w, "analysis", a.Metadata.Name)
		r.emit(Event{Kind: EventWarning, Message: w})
	}
	if len(a.SmokeSuites) > 0 {
		done := r.smokeGate(ctx)
		if ctx.Err() != nil {
			// A smoke step cut short by the interrupt failed because of us, not the candidate.
			return r.interrupted(ctx, verdict.PhaseSmoke, 0), nil
		}
		if done {
			return r.finish(), nil
		}
	}
	if ctx.Err() != nil {
		return r.interrupted(ctx, verdict.PhaseSmoke, 0), nil
	}
	if err := r.monitor(ctx, verdict.PhaseAnalysis, a.Policy.MaxDuration.D()); err != nil {
		if ctx.Err() != nil {
			return r.interrupted(ctx, verdict.PhaseAnalysis, r.elapsed), nil
		}
		return nil, err
	}
	if r.v.Decision == verdict.Promote {
		if w := r.watchDuration(); w > 0 {
			if err := r.monitor(ctx, verdict.PhaseWatch, w); err != nil {
				if ctx.Err() != nil {
					return r.interrupted(ctx, verdict.PhaseWatch, r.elapsed), nil
				}
				return nil, err
			}
		}
	}
	return r.finish(), nil
}

// interrupted ends a run that was stopped from outside (SIGINT, SIGTERM, an abort) before a
// verdict: it decides nothing about the candidate — neither promote nor rollback — and keeps
// what was known (the smoke steps that ran, the checks' last outcomes) for the reports.
func (r *run) interrupted(ctx context.Context, phase verdict.Phase, elapsed time.Duration) *verdict.Verdict {
	why := "interrupted"
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		why = cause.Error() // "interrupted by SIGTERM"
	}
	if phase != verdict.PhaseSmoke && r.checks != nil {
		// The checks' outcomes as they stand now, not as of the last tick.
		r.v.Checks = make([]verdict.CheckResult, len(r.checks))
		for i, c := range r.checks {
			r.v.Checks[i] = c.result()
		}
	}
	was := ""
	switch {
	case phase == verdict.PhaseWatch:
		was = " (it had been promoted: " + r.v.Reason + ")"
		r.v.Watch = elapsed
	case phase == verdict.PhaseAnalysis && len(r.v.Checks) > 0:
		d, reason := verdict.Aggregate(r.v.Checks)
		if d == verdict.Rollback {
			reason = "failing so far: " + reason
		}
		was = " (" + reason + ")"
	}
	r.v.Phase, r.v.Decision, r.v.Undecided = phase, verdict.Interrupted, false
	r.v.Reason = fmt.Sprintf("%s during the %s phase after %s, before a verdict: nothing was decided about %s%s",
		why, phase, elapsed.Round(time.Millisecond), r.cand.Name, was)
	return r.finish()
}

type run struct {
	o          Options
	a          *specs.Analysis
	base, cand synthetic.Target
	targets    map[string]smoke.Target
	started    time.Time
	v          *verdict.Verdict
	srcs       *sources
	redact     *specs.Redactor
	// checks are the current phase's checks; elapsed is how long the phase has run.
	checks  []*check
	elapsed time.Duration
	// reach counts, per side (baseline, candidate), the probes of this phase that could not
	// reach the environment at all.
	reach [2]reachCount
}

// Redactor returns a redactor for every secret the run can reveal: the analysis's own and the
// passwords in the URLs given as overrides (--env NAME=URL).
func (o Options) Redactor() *specs.Redactor {
	rd := o.Analysis.Redactor()
	for _, u := range o.Envs {
		rd.Add(specs.URLSecrets(u)...)
	}
	return rd
}

// emit hands progress to the caller, its texts redacted: a source's error may quote a URL
// with its password.
func (r *run) emit(e Event) {
	e.Baseline, e.Candidate = r.base.Name, r.cand.Name
	// The event gets checks of its own: the verdict's are redacted in place when the run
	// finishes, while subscribers may still be reading the event.
	e.Checks = slices.Clone(e.Checks)
	for i := range e.Checks {
		e.Checks[i].Warnings = slices.Clone(e.Checks[i].Warnings)
	}
	verdict.RedactChecks(e.Checks, r.redact.Redact)
	e.Message = r.redact.Redact(e.Message)
	for i := range e.Diagnosis {
		e.Diagnosis[i] = r.redact.Redact(e.Diagnosis[i])
	}
	if r.o.OnEvent != nil {
		r.o.OnEvent(e)
	}
}

func (r *run) finish() *verdict.Verdict {
	r.v.Duration = time.Since(r.started)
	r.v.Diagnosis = r.diagnosis()
	r.v.Redact(r.redact.Redact)
	r.emit(Event{Kind: EventVerdict, Phase: r.v.Phase, Verdict: r.v})
	return r.v
}

func (r *run) watchDuration() time.Duration {
	if r.o.Watch != 0 {
		return max(r.o.Watch, 0)
	}
	return r.a.Policy.Watch.D()
}

// resolveTargets applies overrides and checks that both roles have a usable URL.
func resolveTargets(a *specs.Analysis, o Options, redact *specs.Redactor) (base, cand synthetic.Target, targets map[string]smoke.Target, err error) {
	envs := map[string]specs.Environment{}
	for k, v := range a.Environments {
		envs[k] = v
	}
	for name, u := range o.Envs {
		e := envs[name]
		e.URL = u
		envs[name] = e
	}
	bName, cName := pick(o.Baseline, a.Baseline), pick(o.Candidate, a.Candidate)
	if bName == cName {
		return base, cand, nil, fmt.Errorf("%w: baseline and candidate are both %q", ErrInvalid, bName)
	}
	targets = map[string]smoke.Target{}
	for name, e := range envs {
		// Every secret of the analysis goes with each target, so that smoke results redact an
		// environment's ${ENV} header values too.
		targets[name] = smoke.Target{Name: name, URL: e.URL, Headers: e.Headers, Labels: e.Labels, Secrets: redact.Secrets()}
	}
	for _, role := range []struct {
		name string
		role string
	}{{bName, "baseline"}, {cName, "candidate"}} {
		e, ok := envs[role.name]
		switch {
		case !ok:
			return base, cand, nil, fmt.Errorf("%w: %s %q is not an environment (have %s)", ErrInvalid, role.role, role.name, strings.Join(sortedEnvNames(envs), ", "))
		case e.URL == "":
			return base, cand, nil, fmt.Errorf("%w: environment %q (%s) has no URL: set it in the spec or give --env %s=URL", ErrInvalid, role.name, role.role, role.name)
		}
		if u, perr := url.Parse(e.URL); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return base, cand, nil, fmt.Errorf("%w: environment %q: %q is not an http(s) URL", ErrInvalid, role.name, redact.Redact(e.URL))
		}
	}
	base = synthetic.Target{Target: targets[bName], Role: synthetic.Baseline}
	cand = synthetic.Target{Target: targets[cName], Role: synthetic.Candidate}
	return base, cand, targets, nil
}

func pick(override, spec string) string {
	if override != "" {
		return override
	}
	return spec
}

func sortedEnvNames(m map[string]specs.Environment) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// smokeGate runs the smoke suites on the candidate; a failure decides the analysis at once.
func (r *run) smokeGate(ctx context.Context) (decided bool) {
	r.emit(Event{Kind: EventPhase, Phase: verdict.PhaseSmoke, Message: fmt.Sprintf("smoke-testing %s", r.cand.Name)})
	runner := r.o.Runner
	var mu sync.Mutex
	ctx = smoke.WithStepObserver(ctx, func(s *specs.Suite, env string, st smoke.StepResult) {
		mu.Lock()
		defer mu.Unlock()
		r.emit(Event{Kind: EventSmokeStep, Phase: verdict.PhaseSmoke, Suite: s.Metadata.Name, Env: env, Step: &st})
	})

	var results []*smoke.SuiteResult
	for _, s := range r.a.SmokeSuites {
		res := runner.Run(ctx, s, r.cand.Name, r.targets)
		results = append(results, res)
		if !res.Passed() {
			break
		}
	}
	r.v.Smoke = SmokeReport(r.started, results)
	for _, res := range results {
		if res.Passed() {
			continue
		}
		r.v.Phase = verdict.PhaseSmoke
		r.v.Decision = verdict.Rollback
		r.v.Reason = "smoke failed on " + r.cand.Name + ": " + smokeFailure(res)
		return true
	}
	return false
}

// smokeFailure names the failing step and condition of a suite result.
func smokeFailure(res *smoke.SuiteResult) string {
	for _, st := range res.Steps {
		switch st.Status {
		case smoke.Failed:
			for _, c := range st.Conditions {
				if !c.Passed {
					return fmt.Sprintf("%s › %s: %s", res.Suite.Metadata.Name, st.Name, firstOf(c.Detail, c.Expression))
				}
			}
			return fmt.Sprintf("%s › %s: %s", res.Suite.Metadata.Name, st.Name, st.Err)
		case smoke.Errored:
			return fmt.Sprintf("%s › %s: %s", res.Suite.Metadata.Name, st.Name, st.Err)
		}
	}
	return fmt.Sprintf("%s: %s", res.Suite.Metadata.Name, res.Err)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// pairBuffer is how many probe pairs may wait for the run loop: ten seconds' worth, at least 16
// and at most 1,024. A pair is a few hundred bytes and an engine may run hundreds of analyses,
// so the buffer follows the monitors' rate rather than being sized for the fastest one.
func pairBuffer(monitors []synthetic.Monitor) int {
	perSec := 0.0
	for _, m := range monitors {
		if m.Every > 0 {
			perSec += float64(time.Second) / float64(m.Every)
		} else {
			perSec++ // a cron schedule: at most one a second
		}
	}
	return int(min(1024, max(16, math.Ceil(10*perSec))))
}

// monitor runs the monitors and evaluates the checks every tick for up to limit. In the analysis
// phase it ends at the first failed critical check, or when every critical check passed after
// minDuration; at the limit undecided checks make it inconclusive (mapped by the policy). In the
// watch phase, fresh checks (own budget α) judge only post-promotion data; a failure turns the
// verdict into rollback, and reaching the limit confirms the promote.
func (r *run) monitor(ctx context.Context, phase verdict.Phase, limit time.Duration) error {
	checks, err := newChecks(r.a, [2]string{r.base.Name, r.cand.Name}, r.srcs)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var monitors []synthetic.Monitor
	for i := range r.a.Monitors {
		m, err := synthetic.MonitorFromSpec(&r.a.Monitors[i])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		monitors = append(monitors, m)
	}
	byMonitor := map[string][]*check{}
	for _, c := range checks {
		from := c.spec.Source().From
		byMonitor[from] = append(byMonitor[from], c)
	}

	msg := fmt.Sprintf("comparing %s (candidate) with %s (baseline)", r.cand.Name, r.base.Name)
	if phase == verdict.PhaseWatch {
		msg = fmt.Sprintf("promoted: watching %s for %s", r.cand.Name, limit)
	}
	r.emit(Event{Kind: EventPhase, Phase: phase, Limit: limit, Message: msg})

	offset := time.Duration(r.o.stagger * float64(r.o.Tick))
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pairs := make(chan synthetic.Pair, pairBuffer(monitors))
	var done chan error // nil, and so never ready, when there are no monitors
	if len(monitors) > 0 {
		done = make(chan error, 1)
		go func() {
			done <- synthetic.Run(mctx, monitors, synthetic.Options{
				Runner: r.o.Runner, Baseline: r.base, Candidate: r.cand, Metrics: r.o.Metrics, Logger: r.o.Logger,
				Delay:      offset,
				HostLimits: r.o.hosts,
			}, pairs)
		}()
		defer func() {
			cancel()
			<-done
		}()
	}

	// Checks that read a source are polled at that source's interval.
	polled := map[string][]*check{}
	for _, c := range checks {
		if c.poll != nil {
			polled[c.kind] = append(polled[c.kind], c)
		}
	}
	type pollTick struct {
		kind string
		at   time.Time
	}
	pollC := make(chan pollTick)
	for kind := range polled {
		t := time.NewTicker(r.srcs.interval(kind))
		defer t.Stop()
		go func() {
			for {
				select {
				case <-mctx.Done():
					return
				case at := <-t.C:
					select {
					case pollC <- pollTick{kind, at}:
					case <-mctx.Done():
						return
					}
				}
			}
		}()
	}
	envs := [2]source.Env{
		{Name: r.base.Name, Role: string(synthetic.Baseline), Labels: r.base.Labels},
		{Name: r.cand.Name, Role: string(synthetic.Candidate), Labels: r.cand.Labels},
	}

	r.checks, r.elapsed, r.reach = checks, 0, [2]reachCount{}
	start := time.Now()
	// The first tick comes one Tick and the stagger offset after the start; then one every Tick.
	ticker := time.NewTicker(r.o.Tick)
	defer ticker.Stop()
	tickC := ticker.C
	if offset > 0 {
		ticker.Stop()
		first := time.NewTimer(r.o.Tick + offset)
		defer first.Stop()
		tickC = first.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			// The monitors stopped by themselves: only invalid monitors do that. Put the result
			// back for the deferred wait.
			done <- err
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			return errors.New("monitors stopped unexpectedly")
		case p := <-pairs:
			r.reach[0].add(p.Baseline)
			r.reach[1].add(p.Candidate)
			for _, c := range byMonitor[p.Monitor] {
				c.advance(time.Since(start))
				c.observeCandidate(p.Candidate)
				if err := c.feed(compare.Baseline, p.Baseline); err != nil {
					r.o.Logger.Warn("observation rejected", "check", c.spec.Name, "env", r.base.Name, "err", err)
				}
				if err := c.feed(compare.Candidate, p.Candidate); err != nil {
					r.o.Logger.Warn("observation rejected", "check", c.spec.Name, "env", r.cand.Name, "err", err)
				}
			}
		case tick := <-pollC:
			w := source.Window{Start: start, End: tick.at}
			for _, c := range polled[tick.kind] {
				if err := c.poll(ctx, envs, w); err != nil {
					// No data yet (a window shorter than two scrapes, no traffic) keeps the check
					// undecided; only failures of the source itself count toward the limit.
					// A source's error may quote its URL or the credential it was sent.
					c.srcErr = r.redact.Redact(err.Error())
					if !errors.Is(err, source.ErrNoData) {
						c.consecutive++
					}
					r.o.Logger.Warn("source failed", "check", c.spec.Name, "err", c.srcErr, "consecutive", c.consecutive)
					continue
				}
				c.srcErr, c.consecutive = "", 0
			}
		case at := <-tickC:
			if tickC != ticker.C {
				ticker.Reset(r.o.Tick)
				tickC = ticker.C
			}
			// How late this evaluation runs after its tick was due: a busy process or a slow
			// source delays it; the Engine's bench reports its p99.
			lag := time.Since(at)
			elapsed := time.Since(start)
			r.elapsed = elapsed
			results := make([]verdict.CheckResult, len(checks))
			for i, c := range checks {
				results[i] = c.result()
			}
			r.v.Checks = results
			r.emit(Event{Kind: EventTick, Phase: phase, Elapsed: elapsed, Limit: limit, Checks: results, Diagnosis: r.diagnosis(), Lag: lag})
			if failing := r.failingSource(checks); failing != nil {
				r.sourceFailed(failing, elapsed)
				return nil
			}
			if r.decide(phase, results, elapsed, limit) {
				return nil
			}
		}
	}
}

// failingSource returns a critical check whose source has failed policy.consecutiveErrors
// times in a row, or nil.
func (r *run) failingSource(checks []*check) *check {
	for _, c := range checks {
		if c.spec.IsCritical() && c.consecutive >= r.a.Policy.ConsecutiveErrors {
			return c
		}
	}
	return nil
}

// sourceFailed ends the analysis undecided, never promoted: a check without data is no evidence.
// In the watch phase the promote stands, with the failure noted.
func (r *run) sourceFailed(c *check, elapsed time.Duration) {
	reason := fmt.Sprintf("%s: its source failed %d times in a row (%s) — never promote without evidence", c.spec.Name, c.consecutive, c.srcErr)
	if r.v.Phase == verdict.PhaseWatch || r.v.Decision == verdict.Promote {
		r.v.Watch = elapsed
		r.v.Reason += "; watch ended early: " + reason
		return
	}
	r.v.Undecided = true
	r.v.Decision = verdict.Inconclusive
	r.v.Reason = "inconclusive: " + reason
	if r.a.Policy.OnInconclusive == "rollback" {
		r.v.Decision = verdict.Rollback
		r.v.Reason += " (policy onInconclusive: rollback)"
	}
}

// decide applies the policy to one tick's results; true when the phase is over.
func (r *run) decide(phase verdict.Phase, results []verdict.CheckResult, elapsed, limit time.Duration) bool {
	d, reason := verdict.Aggregate(results)
	r.v.Phase = phase
	switch {
	case d == verdict.Rollback:
		r.v.Decision, r.v.Reason, r.v.Undecided = verdict.Rollback, reason, false
		if phase == verdict.PhaseWatch {
			r.v.Reason = "regression after promotion: " + reason
			r.v.Watch = elapsed
		}
		return true
	case phase == verdict.PhaseWatch && elapsed >= limit:
		r.v.Watch = elapsed
		r.v.Reason += fmt.Sprintf("; no regression in %s of watching", limit)
		if short := r.shortfall(); short != "" {
			r.v.Reason += "; but the watch saw no evidence that " + r.cand.Name + " works: " + short
		}
		return true
	case phase == verdict.PhaseWatch:
		return false
	case d == verdict.Promote && elapsed >= r.a.Policy.MinDuration.D() && r.shortfall() == "":
		r.v.Decision, r.v.Reason = verdict.Promote, reason+"; "+r.evidenceSummary()
		return true
	case elapsed >= limit:
		r.inconclusive(results, limit)
		return true
	}
	return false
}

// shortfall says why the candidate has not yet shown, in the data of every critical check,
// that it works: the evidence floor (policy.evidence). Relative checks alone would pass a
// candidate that fails exactly as often as the baseline — both down, say — so a promote also
// needs the candidate's own successes. "" when the floor is met.
func (r *run) shortfall() string {
	ev := r.a.Policy.Evidence
	minOK, maxErr := ev.MinOK(), ev.MaxErrors()
	var out []string
	critical := 0
	for _, c := range r.checks {
		if c.spec.IsCritical() {
			critical++
		}
	}
	if critical == 0 {
		return "no critical check"
	}
	for _, c := range r.checks {
		if !c.spec.IsCritical() || c.spec.TraceShape != nil {
			continue
		}
		e, name := c.ev, c.spec.Name
		switch {
		case e.Observed == 0:
			out = append(out, fmt.Sprintf("%s: no %s traffic seen", name, r.cand.Name))
		case !c.sees:
			// histograms and series: traffic is all they can show
		case minOK > 0 && (e.Succeeded == nil || *e.Succeeded < minOK):
			out = append(out, fmt.Sprintf("%s: %s succeeded %d of %d times (policy.evidence.minSuccesses: %d)", name, r.cand.Name, succeeded(e), e.Observed, minOK))
		case maxErr < 1 && e.ErrorRate() > maxErr:
			out = append(out, fmt.Sprintf("%s: %s failed %s of %d (above policy.evidence.maxErrorRate %s)", name, r.cand.Name, pct(e.ErrorRate()), e.Observed, pct(maxErr)))
		}
	}
	return strings.Join(out, "; ")
}

// evidenceSummary states the floor a promote met, for its reason.
func (r *run) evidenceSummary() string {
	least, worst, seen := int64(-1), 0.0, false
	for _, c := range r.checks {
		if !c.spec.IsCritical() || !c.sees || c.ev.Succeeded == nil {
			continue
		}
		seen = true
		if least < 0 || *c.ev.Succeeded < least {
			least = *c.ev.Succeeded
		}
		worst = max(worst, c.ev.ErrorRate())
	}
	if !seen {
		return fmt.Sprintf("%s had traffic in every critical check (policy.evidence.minSuccesses: 0)", r.cand.Name)
	}
	ev := r.a.Policy.Evidence
	return fmt.Sprintf("%s shown working: at least %d successes and at most %s failed in every critical check (floor: %d, %s)",
		r.cand.Name, least, pct(worst), ev.MinOK(), pct(ev.MaxErrors()))
}

func succeeded(e verdict.Evidence) int64 {
	if e.Succeeded == nil {
		return 0
	}
	return *e.Succeeded
}

// pct formats a proportion as a percentage with up to one decimal.
func pct(p float64) string {
	s := strconv.FormatFloat(p*100, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + "%"
}

// inconclusive maps an undecided analysis by policy.onInconclusive. A promote on no evidence is
// refused: if a critical check has no data on a side, the verdict stays inconclusive.
func (r *run) inconclusive(results []verdict.CheckResult, limit time.Duration) {
	var undecided, empty []string
	for _, c := range results {
		if !c.Critical || c.State == compare.Pass {
			continue
		}
		undecided = append(undecided, c.Name)
		if samples(c) == 0 {
			empty = append(empty, c.Name)
		}
	}
	r.v.Undecided = true
	base := fmt.Sprintf("inconclusive after %s: %s undecided", limit, strings.Join(undecided, ", "))
	if d := r.diagnosis(); len(d) > 0 {
		base += " (" + strings.Join(d, "; ") + ")"
	}
	var noEvidence string
	if len(empty) > 0 {
		noEvidence = fmt.Sprintf("; no data for %s — never promote without evidence", strings.Join(empty, ", "))
	} else if short := r.shortfall(); short != "" {
		if len(undecided) == 0 {
			base = fmt.Sprintf("inconclusive after %s", limit)
		}
		noEvidence = fmt.Sprintf("; no evidence that %s works (%s) — never promote without evidence", r.cand.Name, short)
	}
	switch policy := r.a.Policy.OnInconclusive; {
	case noEvidence != "":
		r.v.Decision = verdict.Inconclusive
		r.v.Reason = base + noEvidence
		if policy == "rollback" {
			r.v.Decision = verdict.Rollback
			r.v.Reason += " (policy onInconclusive: rollback)"
		}
	case policy == "promote":
		r.v.Decision, r.v.Reason = verdict.Promote, base+" (policy onInconclusive: promote)"
	case policy == "hold":
		r.v.Decision, r.v.Reason = verdict.Inconclusive, base+" (policy onInconclusive: hold)"
	default:
		r.v.Decision, r.v.Reason = verdict.Rollback, base+" (policy onInconclusive: rollback)"
	}
}

// reachCount counts one side's probes that could not reach its environment, by reason.
type reachCount struct {
	probes, unreachable int64
	reasons             map[string]int64
}

func (c *reachCount) add(p synthetic.Probe) {
	c.probes++
	if p.Unreachable == "" {
		return
	}
	c.unreachable++
	if c.reasons == nil {
		c.reasons = map[string]int64{}
	}
	c.reasons[p.Unreachable]++
}

// diagnosis names each environment that probes could not reach in this phase, with the most
// common reason: an unreachable environment is said to be one, never left to show as missing
// data or an error rate.
func (r *run) diagnosis() []string {
	var out []string
	for i, env := range []string{r.base.Name, r.cand.Name} {
		c := r.reach[i]
		if c.unreachable == 0 {
			continue
		}
		reason, most := "", int64(0)
		for k, n := range c.reasons {
			if n > most || n == most && k < reason {
				reason, most = k, n
			}
		}
		out = append(out, fmt.Sprintf("%s unreachable: %s, %d of %d probes", env, reason, c.unreachable, c.probes))
	}
	return out
}
