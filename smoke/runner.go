package smoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/greenlight/greenlight/specs"
)

// Target is an environment a suite runs against.
type Target struct {
	Name    string
	URL     string
	Headers map[string]string // added to every request (auth for a preview ingress, say)
	Labels  map[string]string
	// Secrets are the environment's credentials the suite does not declare, such as header values
	// that came from ${ENV}; results never show them. The password of URL and the values of
	// credential headers (Authorization, Cookie …) are secrets without being listed here.
	Secrets []specs.Secret
}

// Runner runs suites. One Runner is shared by every suite of a process so that connections are
// kept alive across steps and suites; it is safe for concurrent use.
type Runner struct {
	// UserAgent is sent with every request.
	UserAgent string
	// OnStep, when set, is called as each step finishes (live output). Calls may come from
	// several goroutines when suites run in parallel.
	OnStep func(suite *specs.Suite, env string, r StepResult)
	Logger *slog.Logger
	// DialContext, when set, opens the connections instead of a net.Dialer: tests run
	// environments on an in-memory network. Set it before the first run.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	mu         sync.Mutex
	transports map[transportKey]*http.Transport
	now        func() time.Time // times requests; tests replace it, nil is time.Now
	redactors  map[redactorKey]*specs.Redactor
}

func (r *Runner) clock() func() time.Time {
	if r.now == nil {
		return time.Now
	}
	return r.now
}

// NewRunner returns a Runner.
func NewRunner(userAgent string, logger *slog.Logger) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{UserAgent: userAgent, Logger: logger, transports: map[transportKey]*http.Transport{}}
}

// ErrUnknownEnvironment is returned by CheckTargets when a suite or step names an environment
// that was not given.
var ErrUnknownEnvironment = errors.New("unknown environment")

// CheckTargets verifies before anything runs that every environment the suite names is given.
func CheckTargets(s *specs.Suite, targets map[string]Target) error {
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	check := func(env string, pos specs.Position) error {
		if env == "" {
			return nil
		}
		if _, ok := targets[env]; !ok {
			return fmt.Errorf("%s: %w %q: give it with --env %s=URL (have: %s)", pos, ErrUnknownEnvironment, env, env, strings.Join(names, ", "))
		}
		return nil
	}
	if err := check(s.Env, s.Pos); err != nil {
		return err
	}
	for i := range s.Steps {
		if err := check(s.Steps[i].Env, s.Steps[i].Pos); err != nil {
			return err
		}
	}
	return nil
}

// Run executes suite against the environment env from targets. It never returns nothing: a
// problem that stops the suite is recorded in the result.
func (r *Runner) Run(ctx context.Context, suite *specs.Suite, env string, targets map[string]Target) *SuiteResult {
	redact := r.redactor(suite, targets)
	// A target's name is its key, whatever a library caller put in Name.
	named := make(map[string]Target, len(targets))
	for k, t := range targets {
		t.Name = k
		named[k] = t
	}
	targets = named
	base := targets[env]
	res := &SuiteResult{
		Suite:       suite,
		Environment: env,
		URL:         redact.Redact(base.URL),
		StartedAt:   time.Now(),
		TraceID:     newTraceID(),
		Status:      Passed,
	}
	suiteCtx, cancel := context.WithTimeout(ctx, suite.Timeout.D())
	defer cancel()

	captures := map[string]any{}
	failed := false
	for i := range suite.Steps {
		step := &suite.Steps[i]
		stepEnv := env
		if step.Env != "" {
			stepEnv = step.Env
		}
		sr := StepResult{Name: step.Name, Kind: step.Kind, Environment: stepEnv, Always: step.Always}
		switch {
		case failed && !step.Always:
			sr.Status = Skipped
		case suiteCtx.Err() != nil && !step.Always:
			sr.Status = Skipped
			if res.Err == "" {
				res.Err = suiteStopReason(ctx, suite)
				failed = true
			}
		default:
			stepCtx := suiteCtx
			if step.Always {
				// Cleanup must run even after the suite timed out or was interrupted; its own
				// step timeout still bounds it.
				stepCtx = context.WithoutCancel(ctx)
			}
			sr = r.runStep(stepCtx, suite, step, targets[stepEnv], res.TraceID, captures, redact)
			if sr.Status == Errored && !step.Always && suiteCtx.Err() != nil {
				// The step was cut short by the suite's limit or an interrupt, not by itself.
				sr.Err = suiteStopReason(ctx, suite)
			}
		}
		if sr.Status == Failed || sr.Status == Errored {
			failed = true
		}
		res.Steps = append(res.Steps, sr)
		if r.OnStep != nil {
			r.OnStep(suite, env, sr)
		}
		if f, ok := ctx.Value(onStepKey{}).(StepObserver); ok {
			f(suite, env, sr)
		}
	}
	if failed {
		res.Status = Failed
		if res.Err == "" && suiteCtx.Err() != nil {
			res.Err = suiteStopReason(ctx, suite)
		}
	}
	res.Duration = time.Since(res.StartedAt)
	return res
}

func suiteStopReason(parent context.Context, suite *specs.Suite) string {
	if parent.Err() != nil {
		return "interrupted: " + context.Cause(parent).Error()
	}
	return fmt.Sprintf("suite timeout %s exceeded", suite.Timeout)
}

// runStep runs one step with its retries, then its conditions and captures.
func (r *Runner) runStep(ctx context.Context, suite *specs.Suite, step *specs.Step, target Target,
	traceID string, captures map[string]any, redact *specs.Redactor) StepResult {
	sr := StepResult{Name: step.Name, Kind: step.Kind, Environment: target.Name, Always: step.Always, StartedAt: time.Now(), TraceID: traceID}
	exec, ok := executors[step.Kind]
	if !ok {
		sr.Status = Errored
		sr.Err = fmt.Sprintf("step kind %q has no executor", step.Kind)
		return sr
	}
	data := &specs.TemplateData{
		Vars:     suite.Vars,
		Captures: captures,
		Env:      specs.EnvData{Name: target.Name, URL: target.URL, Labels: target.Labels},
	}
	label := specs.Synthetic{Header: specs.DefaultSyntheticHeader, Value: specs.DefaultSyntheticValue}
	if suite.Defaults.Synthetic != nil {
		label = *suite.Defaults.Synthetic
	}
	a := &attempt{step: step, target: target, data: data, traceID: traceID, header: label, redact: redact}
	status := func() int {
		if a.response == nil {
			return 0
		}
		return a.response.Status
	}
	err := r.withRetries(ctx, step, &sr, status, func(ctx context.Context) error {
		a.request, a.response, a.connect, a.tls = "", nil, 0, 0
		return exec(r, ctx, a)
	})
	sr.Duration = time.Since(sr.StartedAt)
	sr.Request = redact.Redact(a.request)
	sr.Connect, sr.TLS = a.connect, a.tls
	if err != nil {
		sr.Status = Errored
		sr.Err = redact.Redact(err.Error())
		sr.Unreachable = redact.Redact(unreachable(err))
		r.Logger.Debug("step error", "suite", suite.Metadata.Name, "step", step.Name, "env", target.Name, "err", sr.Err)
		return sr
	}
	resp := a.response
	resp.Vars, resp.Captures, resp.Env = data.Vars, captures, data.Env
	resp.Redact = redact.Redact
	sr.StatusCode = resp.Status
	sr.Latency = resp.Duration
	sr.Status = Passed
	for i := range step.Expect {
		c := &step.Expect[i]
		ok, detail := c.Eval(resp)
		sr.Conditions = append(sr.Conditions, ConditionResult{Expression: redact.Redact(c.Source), Passed: ok, Detail: redact.Redact(detail)})
		if !ok {
			sr.Status = Failed
		}
	}
	if len(step.Expect) == 0 && resp.Status >= 400 {
		// A step without expectations still must not pass on an error response.
		sr.Conditions = append(sr.Conditions, ConditionResult{Expression: "status < 400 (implicit: no expect given)", Detail: fmt.Sprintf("status (%d) < 400", resp.Status)})
		sr.Status = Failed
	}
	if sr.Status != Passed {
		return sr
	}
	for _, name := range sortedKeys(step.Capture) {
		c := step.Capture[name]
		v, err := c.Extract(resp)
		if err != nil {
			sr.Status = Failed
			sr.Err = redact.Redact(fmt.Sprintf("capture %s: %s", name, err))
			return sr
		}
		captures[name] = v
		sr.Captured = append(sr.Captured, name)
	}
	return sr
}

// redactorKey identifies a suite run with a set of environment secrets.
type redactorKey struct {
	suite   *specs.Suite
	secrets string
}

// maxRedactors bounds the cache of merged redactors; past it the cache starts over.
const maxRedactors = 256

// redactor returns the redactor for a suite run against targets: the suite's secrets and the
// environments' (their URL passwords, credential headers and Secrets). Monitors run the same
// suite against the same targets many times a second, so each combination is built once.
func (r *Runner) redactor(suite *specs.Suite, targets map[string]Target) *specs.Redactor {
	var extra []string
	for _, name := range sortedKeys(targets) {
		t := targets[name]
		for _, s := range specs.URLSecrets(t.URL) {
			extra = append(extra, s.Reveal())
		}
		for _, k := range sortedKeys(t.Headers) {
			for _, s := range specs.HeaderSecrets(k, t.Headers[k]) {
				extra = append(extra, s.Reveal())
			}
		}
		for _, s := range t.Secrets {
			extra = append(extra, s.Reveal())
		}
	}
	if len(extra) == 0 {
		return suite.Redactor()
	}
	key := redactorKey{suite: suite, secrets: strings.Join(extra, "\x00")}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rd, ok := r.redactors[key]; ok {
		return rd
	}
	if r.redactors == nil || len(r.redactors) >= maxRedactors {
		r.redactors = map[redactorKey]*specs.Redactor{}
	}
	rd := specs.NewRedactor(suite.Redactor().Secrets()...)
	for _, s := range extra {
		rd.Add(specs.Secret(s))
	}
	r.redactors[key] = rd
	return rd
}

// StepObserver is told of each step as it finishes.
type StepObserver func(suite *specs.Suite, env string, r StepResult)

type onStepKey struct{}

// WithStepObserver returns a context under which Run reports each finished step to f, besides
// the Runner's own OnStep: one Runner serves many concurrent callers (every analysis of a
// daemon), and each sees only its own steps.
func WithStepObserver(ctx context.Context, f StepObserver) context.Context {
	return context.WithValue(ctx, onStepKey{}, f)
}
