package specs

import (
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Built-in analysis defaults, applied in one place (Analysis.applyDefaults).
const (
	DefaultMinDuration       = 30 * time.Second
	DefaultMaxDuration       = 10 * time.Minute
	DefaultFalseRollbackRate = 0.01
	DefaultRateLimit         = 20 // requests per second per environment
	DefaultOnInconclusive    = "rollback"
	// DefaultMinSuccesses and DefaultMaxErrorRate are the evidence floor: what each critical
	// check must have seen of the candidate working before a promote (policy.evidence).
	DefaultMinSuccesses = 10
	DefaultMaxErrorRate = 0.5
)

// Analysis decides one release: it smoke-tests the candidate, monitors both environments, and
// compares them check by check until every required check is decided or time runs out.
type Analysis struct {
	APIVersion   string                 `yaml:"apiVersion" doc:"Always greenlight/v1."`
	Kind         string                 `yaml:"kind" doc:"Analysis."`
	Metadata     Metadata               `yaml:"metadata"`
	Environments map[string]Environment `yaml:"environments" doc:"The deployments by name (blue, green); --env NAME=URL overrides a URL."`
	Baseline     string                 `yaml:"baseline" doc:"The environment serving users now (--baseline overrides). Colours swap every release, so roles are set per analysis."`
	Candidate    string                 `yaml:"candidate" doc:"The environment being judged (--candidate overrides)."`
	Smoke        []SuiteRef             `yaml:"smoke,omitempty" doc:"Suites (by metadata.name, or a path relative to this file) run once on the candidate before monitoring; a failure is a rollback."`
	Monitors     []Monitor              `yaml:"monitors,omitempty" doc:"Synthetic monitors, run against baseline and candidate at the same moments."`
	Sources      Sources                `yaml:"sources,omitempty" doc:"Metric systems checks can read instead of monitors."`
	Checks       []Check                `yaml:"checks" doc:"What to compare, each with its threshold."`
	Policy       Policy                 `yaml:"policy,omitempty" doc:"Durations, the false-rollback level and what an inconclusive analysis means."`
	Notify       []string               `yaml:"notify,omitempty" doc:"greenlight serve: the endpoints of the Notifications document this analysis's events go to (beside those with allAnalyses)."`

	File string   `yaml:"-"`
	Pos  Position `yaml:"-"`

	// SmokeSuites and each monitor's Suite are resolved when the documents are linked.
	SmokeSuites []*Suite `yaml:"-"`

	notifyPos []Position // where each notify name was written
	ctx       *loadContext
}

// SuiteRef names a suite: its metadata.name, or the path of a file holding one suite.
type SuiteRef struct {
	Ref string
	Pos Position
}

func (r *SuiteRef) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a suite name or path")
	if !ok || isNull(n) {
		return
	}
	r.Ref, r.Pos = s, d.pos(n)
}

func (r SuiteRef) MarshalYAML() (any, error) { return r.Ref, nil }

func (r SuiteRef) isPath() bool {
	return strings.ContainsAny(r.Ref, `/\`) || strings.HasSuffix(r.Ref, ".yaml") || strings.HasSuffix(r.Ref, ".yml")
}

// Environment is one deployment.
type Environment struct {
	URL     string            `yaml:"url,omitempty" doc:"Base URL. May be left out and given with --env NAME=URL."`
	Headers map[string]string `yaml:"headers,omitempty" doc:"Headers sent with every request to this environment (a preview ingress's auth, a Host)."`
	Labels  map[string]string `yaml:"labels,omitempty" doc:"Labels for templates ({{ .env.labels.KEY }}) and later for metric queries."`
	Pos     Position          `yaml:"-"`
}

// Monitor runs a suite, or one step, against baseline and candidate at the same moments.
type Monitor struct {
	Name      string   `yaml:"name" doc:"Unique among monitors; checks name it in from."`
	Suite     SuiteRef `yaml:"suite,omitempty" doc:"A suite by metadata.name or path. Its steps' captures work as in smoke runs."`
	Step      *Step    `yaml:"step,omitempty" doc:"Or a single step written inline (its name defaults to the monitor's)."`
	Every     Duration `yaml:"every,omitempty" doc:"Run every this long (e.g. 1s). Exactly one of every and cron."`
	Cron      string   `yaml:"cron,omitempty" doc:"Or a cron schedule: five fields, six with seconds first, or @every 5s. A run still going when the next is due is skipped."`
	Jitter    Duration `yaml:"jitter,omitempty" doc:"Random delay added to each run, up to this much, the same for both environments."`
	RateLimit float64  `yaml:"rateLimit,omitempty" doc:"Most requests per second sent to one environment (default 20), so a monitor never becomes a load test."`

	// Resolved at link time: the suite the monitor runs (an inline step becomes a one-step suite).
	Resolved *Suite   `yaml:"-"`
	Pos      Position `yaml:"-"`
}

func (a *Analysis) decodeNode(d *decoder, n *yaml.Node) {
	d.structValue(n, reflectValue(a).Elem(), nil)
	a.Pos = d.pos(n)
}

// validate checks one analysis on its own; link checks references to suites.
func (a *Analysis) validate(d *decoder, n *yaml.Node) {
	at := func(key string) Position {
		if v := mappingValue(n, key); v != nil {
			return d.pos(v)
		}
		return a.Pos
	}
	if a.APIVersion != APIVersion {
		d.errs.add(at("apiVersion"), "apiVersion must be %q, got %q", APIVersion, a.APIVersion)
	}
	if a.Metadata.Name == "" {
		if !d.meant(at("metadata"), "name") {
			d.errs.add(at("metadata"), "metadata.name is required")
		}
	} else if !nameRe.MatchString(a.Metadata.Name) {
		d.errs.add(a.Metadata.Pos, "metadata.name %q may use letters, digits, '.', '_' and '-' only", a.Metadata.Name)
	}
	for name, e := range a.Environments {
		if e.URL != "" {
			if !isHTTPURL(e.URL) {
				d.errs.add(e.Pos, "environment %s: url %s is not an http(s) URL", name, quoteURL(e.URL))
			}
		}
		d.checkLiteralHeaders(e.Pos, "environment "+name, e.Headers)
	}
	for _, role := range []struct{ key, val string }{{"baseline", a.Baseline}, {"candidate", a.Candidate}} {
		switch _, ok := a.Environments[role.val]; {
		case role.val == "":
			d.errs.add(a.Pos, "%s is required: the name of an environment", role.key)
		case !ok:
			d.errs.add(at(role.key), "%s %q is not one of the environments (%s)", role.key, role.val, strings.Join(sortedNames(a.Environments), ", "))
		}
	}
	if a.Baseline != "" && a.Baseline == a.Candidate {
		d.errs.add(at("candidate"), "baseline and candidate are both %q: compare two environments", a.Baseline)
	}
	monitors := map[string]bool{}
	for i := range a.Monitors {
		m := &a.Monitors[i]
		a.validateMonitor(d, m, monitors)
	}
	if len(a.Checks) == 0 {
		d.errs.add(at("checks"), "analysis %q has no checks: nothing could justify a promote", a.Metadata.Name)
	}
	names := map[string]bool{}
	for i := range a.Checks {
		c := &a.Checks[i]
		if c.Name == "" {
			d.errs.add(c.Pos, "check %d has no name", i+1)
		} else if names[c.Name] {
			d.errs.add(c.Pos, "duplicate check name %q", c.Name)
		}
		names[c.Name] = true
		validateCheck(d, c, monitors, a.Sources.declared())
	}
	a.validateSources(d)
	a.Policy.validate(d, at("policy"))
	a.validateEvidence(d, at("checks"))
	a.validateNotify(d, n)
}

// resolveSecret reads a source's secret reference at load; nil gives no secret.
func (d *decoder) resolveSecret(pos Position, key string, ref *SecretRef) Secret {
	if ref == nil {
		return ""
	}
	v, problem, missing := secretRefValue(*ref, d.ctx.dir(), d.ctx.lookup)
	if problem != "" {
		d.secretProblem(pos, missing, "%s: %s", key, problem)
	}
	d.ctx.found = append(d.ctx.found, v)
	return v
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (a *Analysis) validateMonitor(d *decoder, m *Monitor, seen map[string]bool) {
	switch {
	case m.Name == "":
		d.errs.add(m.Pos, "monitor has no name")
	case seen[m.Name]:
		d.errs.add(m.Pos, "duplicate monitor name %q", m.Name)
	}
	seen[m.Name] = true
	if (m.Suite.Ref == "") == (m.Step == nil) && !(m.Suite.Ref == "" && d.meant(m.Pos, "suite", "step")) {
		d.errs.add(m.Pos, "monitor %q: give exactly one of suite and step", m.Name)
	}
	if (m.Every == 0) == (m.Cron == "") && !(m.Every == 0 && d.meant(m.Pos, "every", "cron")) {
		d.errs.add(m.Pos, "monitor %q: give exactly one of every and cron", m.Name)
	}
	if m.Every != 0 && m.Every.D() < 10*time.Millisecond {
		d.errs.add(m.Pos, "monitor %q: every %s is too often (at least 10ms)", m.Name, m.Every)
	}
	if m.Cron != "" {
		if _, err := ParseCron(m.Cron); err != nil {
			d.errs.add(m.Pos, "monitor %q: invalid cron %q: %s", m.Name, m.Cron, err)
		}
	}
	if m.RateLimit < 0 {
		d.errs.add(m.Pos, "monitor %q: rateLimit must be positive", m.Name)
	}
	if m.Step != nil {
		if m.Step.Name == "" {
			m.Step.Name = m.Name
		}
		if m.Step.Env != "" {
			d.errs.add(m.Step.Pos, "monitor %q: a monitor's step runs on both environments; it cannot name one", m.Name)
		}
		if m.Step.Config != nil {
			m.Step.Config.validate(d, m.Step)
		}
	}
}

// ParseCron parses a monitor's cron schedule: five fields, or six with seconds first, or a
// descriptor such as @every 5s.
func ParseCron(spec string) (cron.Schedule, error) {
	p := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	return p.Parse(spec)
}

func (a *Analysis) applyDefaults() {
	p := &a.Policy
	if p.MinDuration == 0 {
		p.MinDuration = Duration(DefaultMinDuration)
	}
	if p.MaxDuration == 0 {
		p.MaxDuration = Duration(DefaultMaxDuration)
		if p.MinDuration > p.MaxDuration {
			p.MaxDuration = p.MinDuration
		}
	}
	if p.FalseRollbackRate == nil {
		r := Percent(DefaultFalseRollbackRate)
		p.FalseRollbackRate = &r
	}
	if p.OnInconclusive == "" {
		p.OnInconclusive = DefaultOnInconclusive
	}
	if p.ConsecutiveErrors == 0 {
		p.ConsecutiveErrors = 3
	}
	if pr := a.Sources.Prometheus; pr != nil {
		if pr.Timeout == 0 {
			pr.Timeout = Duration(10 * time.Second)
		}
		if pr.Interval == 0 {
			pr.Interval = Duration(15 * time.Second)
		}
	}
	if dd := a.Sources.Datadog; dd != nil {
		if dd.Timeout == 0 {
			dd.Timeout = Duration(10 * time.Second)
		}
		if dd.Interval == 0 {
			dd.Interval = Duration(30 * time.Second)
		}
	}
	if j := a.Sources.Jaeger; j != nil {
		if j.Timeout == 0 {
			j.Timeout = Duration(10 * time.Second)
		}
		if j.Interval == 0 {
			j.Interval = Duration(15 * time.Second)
		}
	}
	if tr := a.Sources.Traces; tr != nil {
		if tr.Listen == "" {
			tr.Listen = DefaultTracesListen
		}
		if tr.Attribute == "" {
			tr.Attribute = "service.version"
		}
		if tr.Interval == 0 {
			tr.Interval = Duration(5 * time.Second)
		}
	}
	for i := range a.Monitors {
		if a.Monitors[i].RateLimit == 0 {
			a.Monitors[i].RateLimit = DefaultRateLimit
		}
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string { return sortedNames(m) }
