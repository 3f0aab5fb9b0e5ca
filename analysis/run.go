package analysis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

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
	// WatchOnly runs the watch alone, for a candidate already promoted and serving users
	// (greenlight watch, a daemon start with "mode": "watch"): no smoke gate, no comparison
	// before it; the watch lasts Watch (or policy.watch) and ends in promote or rollback.
	WatchOnly bool
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
	// snaps saves the run's state and resumes it (EngineOptions.Snapshots, Engine.Restore),
	// set by the Engine.
	snaps snapshotting
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
	if err := o.checkWatchOnly(); err != nil {
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
	from := o.snaps.from
	if from != nil {
		r.started = from.StartedAt
	}
	r.v = &verdict.Verdict{
		Analysis:  a.Metadata.Name,
		Baseline:  verdict.Environment{Name: base.Name, URL: redact.Redact(base.URL)},
		Candidate: verdict.Environment{Name: cand.Name, URL: redact.Redact(cand.URL)},
		StartedAt: r.started,
	}
	r.phase, r.phaseStart = verdict.PhaseSmoke, r.started

	if from == nil {
		for _, w := range p.warnings {
			o.Logger.Warn(w, "analysis", a.Metadata.Name)
			r.emit(Event{Kind: EventWarning, Message: w})
		}
	}
	// A resumed analysis past the smoke gate does not run it again, and goes on with the phase
	// it was in.
	phase := verdict.PhaseSmoke
	if from != nil {
		phase = from.Phase
		if phase != verdict.PhaseSmoke {
			r.v.Smoke = cloneReport(from.Smoke)
		}
		if phase == verdict.PhaseWatch {
			r.v = cloneVerdict(from.Promoted)
		}
	}
	if phase == verdict.PhaseSmoke && o.WatchOnly {
		r.promotedBefore()
		phase = verdict.PhaseWatch
	}
	if phase == verdict.PhaseSmoke {
		if len(a.SmokeSuites) > 0 {
			r.take()
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
		phase, from = verdict.PhaseAnalysis, nil
	}
	if phase == verdict.PhaseAnalysis {
		if err := r.monitor(ctx, verdict.PhaseAnalysis, a.Policy.MaxDuration.D(), from); err != nil {
			if ctx.Err() != nil {
				return r.interrupted(ctx, verdict.PhaseAnalysis, r.elapsed), nil
			}
			return nil, err
		}
		from = nil
	}
	if r.v.Decision == verdict.Promote {
		if r.v.PromotedAt.IsZero() {
			r.v.PromotedAt = time.Now()
		}
		if w := r.watchDuration(); w > 0 {
			if err := r.monitor(ctx, verdict.PhaseWatch, w, from); err != nil {
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
	if errors.Is(context.Cause(ctx), errShutdown) {
		// The process is going down, not the analysis: its state as of now is what a restart
		// resumes.
		r.take()
	}
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
	// phase is the phase running and phaseStart when it began; checks are its checks and
	// elapsed how long it had run at the last tick.
	phase      verdict.Phase
	phaseStart time.Time
	checks     []*check
	elapsed    time.Duration
	// savedAt is the phase's run time at the last periodic snapshot.
	savedAt time.Duration
	// reach counts, per side (baseline, candidate), the probes of this phase that could not
	// reach the environment at all.
	reach [2]reachCount
	// baseDown is set while every baseline probe since baseDownFrom (phase run time) could not
	// reach it: such pairs have no baseline to compare the candidate with.
	baseDown     bool
	baseDownFrom time.Duration
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
	e.Smoke.Redact(r.redact.Redact)
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
