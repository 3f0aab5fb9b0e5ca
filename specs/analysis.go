package specs

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Built-in analysis defaults, applied in one place (Analysis.applyDefaults).
const (
	DefaultMinDuration       = time.Minute
	DefaultMaxDuration       = 10 * time.Minute
	DefaultFalseRollbackRate = 0.01
	DefaultRateLimit         = 20 // requests per second per environment
	DefaultOnInconclusive    = "rollback"
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
	Checks       []Check                `yaml:"checks" doc:"What to compare, each with its threshold."`
	Policy       Policy                 `yaml:"policy,omitempty" doc:"Durations, the false-rollback level and what an undecided analysis means."`

	File string   `yaml:"-"`
	Pos  Position `yaml:"-"`

	// SmokeSuites and each monitor's Suite are resolved when the documents are linked.
	SmokeSuites []*Suite `yaml:"-"`

	ctx *loadContext
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

// Check compares one measure between baseline and candidate.
type Check struct {
	Name      string          `yaml:"name" doc:"Unique among checks."`
	Critical  *bool           `yaml:"critical,omitempty" doc:"A failed critical check means rollback (default true); a non-critical one is advisory: reported, never decisive."`
	ErrorRate *ErrorRateCheck `yaml:"errorRate,omitempty" doc:"Compare error proportions."`
	Latency   *LatencyCheck   `yaml:"latency,omitempty" doc:"Compare a latency percentile."`
	Shift     *ShiftCheck     `yaml:"shift,omitempty" doc:"Compare whole latency distributions: P(candidate slower than baseline)."`
	Pos       Position        `yaml:"-"`
}

// IsCritical reports whether a failure of the check means rollback.
func (c *Check) IsCritical() bool { return c.Critical == nil || *c.Critical }

// CheckSource names where a check's observations come from.
type CheckSource struct {
	From string `yaml:"from" doc:"The monitor whose probes feed the check."`
	Step string `yaml:"step,omitempty" doc:"Only this step of the monitor's suite (default: the whole run — failed if any step failed, latency summed over its steps)."`
}

// ErrorRateCheck compares error proportions: maxIncrease in percentage points (1% = one point),
// maxRatio as a factor, max as an absolute ceiling on the candidate.
type ErrorRateCheck struct {
	CheckSource `yaml:",inline"`
	MaxIncrease *Percent `yaml:"maxIncrease,omitempty" doc:"Candidate's rate at most this many percentage points above the baseline's: 1% or 0.5%."`
	MaxRatio    *float64 `yaml:"maxRatio,omitempty" doc:"Candidate's rate at most this multiple of the baseline's."`
	Max         *Percent `yaml:"max,omitempty" doc:"Absolute ceiling on the candidate's rate (an SLO): 2%."`
	MinSamples  int64    `yaml:"minSamples,omitempty" doc:"Probes per side before any decision (default 20)."`
}

// LatencyCheck compares a percentile of latency.
type LatencyCheck struct {
	CheckSource `yaml:",inline"`
	Percentile  float64   `yaml:"percentile" doc:"50, 95, 99, 99.9 …"`
	MaxRatio    *float64  `yaml:"maxRatio,omitempty" doc:"Candidate's percentile at most this multiple of the baseline's (1.2 = 20% slower)."`
	MaxIncrease *Duration `yaml:"maxIncrease,omitempty" doc:"Candidate's percentile at most this much slower: 50ms."`
	Max         *Duration `yaml:"max,omitempty" doc:"Absolute ceiling on the candidate's percentile (an SLO): 300ms."`
	Direction   string    `yaml:"direction,omitempty" doc:"increase (default: slower is worse), decrease or either."`
	MinSamples  int64     `yaml:"minSamples,omitempty" doc:"Probes per side before any decision (default 20)."`
}

// ShiftCheck compares whole distributions with a rank statistic.
type ShiftCheck struct {
	CheckSource    `yaml:",inline"`
	MaxProbability float64 `yaml:"maxProbability" doc:"Largest allowed P(candidate slower than baseline), in [0.5, 1): 0.6."`
	Direction      string  `yaml:"direction,omitempty" doc:"increase (default), decrease or either."`
	MinSamples     int64   `yaml:"minSamples,omitempty" doc:"Pairs before any decision (default 20)."`
}

// Policy governs the run.
type Policy struct {
	MinDuration       Duration `yaml:"minDuration,omitempty" doc:"Never promote before this much monitoring (default 1m)."`
	MaxDuration       Duration `yaml:"maxDuration,omitempty" doc:"Stop here; undecided checks make the analysis inconclusive (default 10m)."`
	FalseRollbackRate *Percent `yaml:"falseRollbackRate,omitempty" doc:"Probability of rolling back a healthy candidate over the whole analysis, however often checks are evaluated (default 1%)."`
	OnInconclusive    string   `yaml:"onInconclusive,omitempty" doc:"What an inconclusive analysis becomes: rollback (default), promote, or hold (stay inconclusive, exit 2)."`
	Watch             Duration `yaml:"watch,omitempty" doc:"After promote, keep monitoring this long and turn the verdict into rollback if a regression appears (--watch overrides)."`
}

// Percent is a proportion written as a percentage: "1%", "0.5%".
type Percent float64

func (p *Percent) decodeNode(d *decoder, n *yaml.Node) {
	s, ok := d.scalar(n, "a percentage")
	if !ok || isNull(n) {
		return
	}
	v, err := parsePercent(s)
	if err != nil {
		d.errorf(n, "%s", err)
		return
	}
	*p = Percent(v)
}

func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if !strings.HasSuffix(t, "%") {
		return 0, fmt.Errorf("%q: write a percentage such as 1%% or 0.5%%", s)
	}
	var v float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(t, "%"), "%g", &v); err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q: a percentage between 0%% and 100%%", s)
	}
	return v / 100, nil
}

// F returns the proportion (0.01 for 1%).
func (p Percent) F() float64 { return float64(p) }

func (p Percent) MarshalYAML() (any, error) {
	return fmt.Sprintf("%g%%", float64(p)*100), nil
}

var onInconclusiveValues = map[string]bool{"rollback": true, "promote": true, "hold": true}
var directionValues = map[string]bool{"": true, "increase": true, "decrease": true, "either": true}

// checkKinds are the keys of a check's kind, in the order reported.
var checkKinds = []string{"errorRate", "latency", "shift"}

// Kind returns the check's kind key, or "".
func (c *Check) Kind() string {
	switch {
	case c.ErrorRate != nil:
		return "errorRate"
	case c.Latency != nil:
		return "latency"
	case c.Shift != nil:
		return "shift"
	}
	return ""
}

// Source returns where the check's observations come from.
func (c *Check) Source() CheckSource {
	switch {
	case c.ErrorRate != nil:
		return c.ErrorRate.CheckSource
	case c.Latency != nil:
		return c.Latency.CheckSource
	case c.Shift != nil:
		return c.Shift.CheckSource
	}
	return CheckSource{}
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
		d.errs.add(at("metadata"), "metadata.name is required")
	} else if !nameRe.MatchString(a.Metadata.Name) {
		d.errs.add(a.Metadata.Pos, "metadata.name %q may use letters, digits, '.', '_' and '-' only", a.Metadata.Name)
	}
	for name, e := range a.Environments {
		if e.URL != "" {
			if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errs.add(e.Pos, "environment %s: url %q is not an http(s) URL", name, e.URL)
			}
		}
		for h := range e.Headers {
			if !validHeaderName(h) {
				d.errs.add(e.Pos, "environment %s: invalid header name %q", name, h)
			}
		}
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
		validateCheck(d, c, monitors)
	}
	a.Policy.validate(d, at("policy"))
}

func (a *Analysis) validateMonitor(d *decoder, m *Monitor, seen map[string]bool) {
	switch {
	case m.Name == "":
		d.errs.add(m.Pos, "monitor has no name")
	case seen[m.Name]:
		d.errs.add(m.Pos, "duplicate monitor name %q", m.Name)
	}
	seen[m.Name] = true
	if (m.Suite.Ref == "") == (m.Step == nil) {
		d.errs.add(m.Pos, "monitor %q: give exactly one of suite and step", m.Name)
	}
	if (m.Every == 0) == (m.Cron == "") {
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

func validateCheck(d *decoder, c *Check, monitors map[string]bool) {
	kinds := 0
	for _, set := range []bool{c.ErrorRate != nil, c.Latency != nil, c.Shift != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		d.errs.add(c.Pos, "check %q: give exactly one of %s", c.Name, strings.Join(checkKinds, ", "))
		return
	}
	src := c.Source()
	switch {
	case src.From == "":
		d.errs.add(c.Pos, "check %q: from is required (a monitor name)", c.Name)
	case !monitors[src.From]:
		d.errs.add(c.Pos, "check %q: from %q is not a monitor (%s)", c.Name, src.From, strings.Join(sortedKeys(monitors), ", "))
	}
	switch {
	case c.ErrorRate != nil:
		e := c.ErrorRate
		if e.MaxIncrease == nil && e.MaxRatio == nil && e.Max == nil {
			d.errs.add(c.Pos, "check %q: errorRate needs maxIncrease, maxRatio or max", c.Name)
		}
		if e.MaxRatio != nil && *e.MaxRatio <= 0 {
			d.errs.add(c.Pos, "check %q: maxRatio must be positive", c.Name)
		}
	case c.Latency != nil:
		l := c.Latency
		if !(l.Percentile > 0 && l.Percentile < 100) {
			d.errs.add(c.Pos, "check %q: percentile must be between 0 and 100 (e.g. 95 or 99.9), got %v", c.Name, l.Percentile)
		}
		if l.MaxRatio == nil && l.MaxIncrease == nil && l.Max == nil {
			d.errs.add(c.Pos, "check %q: latency needs maxRatio, maxIncrease or max", c.Name)
		}
		if l.MaxRatio != nil && *l.MaxRatio <= 0 {
			d.errs.add(c.Pos, "check %q: maxRatio must be positive", c.Name)
		}
		if !directionValues[l.Direction] {
			d.errs.add(c.Pos, "check %q: direction must be increase, decrease or either", c.Name)
		}
	case c.Shift != nil:
		if !(c.Shift.MaxProbability >= 0.5 && c.Shift.MaxProbability < 1) {
			d.errs.add(c.Pos, "check %q: maxProbability must be in [0.5, 1), got %v", c.Name, c.Shift.MaxProbability)
		}
		if !directionValues[c.Shift.Direction] {
			d.errs.add(c.Pos, "check %q: direction must be increase, decrease or either", c.Name)
		}
	}
}

func (p *Policy) validate(d *decoder, pos Position) {
	if p.MinDuration != 0 && p.MaxDuration != 0 && p.MinDuration > p.MaxDuration {
		d.errs.add(pos, "policy: minDuration (%s) is longer than maxDuration (%s)", p.MinDuration, p.MaxDuration)
	}
	if p.FalseRollbackRate != nil && !(p.FalseRollbackRate.F() > 0 && p.FalseRollbackRate.F() < 0.5) {
		d.errs.add(pos, "policy: falseRollbackRate must be above 0%% and below 50%%")
	}
	if p.OnInconclusive != "" && !onInconclusiveValues[p.OnInconclusive] {
		d.errs.add(pos, "policy: onInconclusive must be rollback, promote or hold, got %q", p.OnInconclusive)
	}
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
