package specs

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"text/template"
)

// checkKind is one kind of check as the language knows it. checkKinds is the one place this
// package names a check kind: decoding's "exactly one kind" rule, validation, the JSON Schema
// (a check sets exactly one of these keys) and Kind all read it, and package analysis builds
// each kind from a map of its own whose keys a test holds equal to CheckKinds.
//
// Adding a check kind is its config type (checkConfig, beside the others in checks.go), the
// field of Check that holds it under the same YAML key, one entry here, and one entry in
// analysis's map.
type checkKind struct {
	// config returns the check's configuration of this kind, nil when it is of another.
	config func(*Check) checkConfig
	// monitor is whether the kind can read a monitor's probes (from, step).
	monitor bool
	// reads is the source a kind always reads without naming it (traceShape: traces); "" when
	// it names its source with a key (prometheus: …) or reads a monitor.
	reads string
}

// checkConfig is what each check kind's configuration type offers.
type checkConfig interface {
	// checkSource is the monitor the check reads, if it does.
	checkSource() CheckSource
	// seesSuccess is whether its data tells the candidate's successes from its failures.
	seesSuccess() bool
	// validate reports what is wrong with the kind's own fields.
	validate(d *decoder, c *Check)
}

var checkKinds = map[string]checkKind{
	"errorRate":  {config: kindOf(func(c *Check) *ErrorRateCheck { return c.ErrorRate }), monitor: true},
	"latency":    {config: kindOf(func(c *Check) *LatencyCheck { return c.Latency }), monitor: true},
	"shift":      {config: kindOf(func(c *Check) *ShiftCheck { return c.Shift }), monitor: true},
	"values":     {config: kindOf(func(c *Check) *ValuesCheck { return c.Values })},
	"traceShape": {config: kindOf(func(c *Check) *TraceShapeCheck { return c.TraceShape }), reads: "traces"},
}

// kindOf turns a check's field of one kind into a checkConfig that is nil when the field is.
func kindOf[T any, P interface {
	*T
	checkConfig
}](field func(*Check) P) func(*Check) checkConfig {
	return func(c *Check) checkConfig {
		if p := field(c); p != nil {
			return p
		}
		return nil
	}
}

// CheckKinds are the keys of the check kinds the language knows, sorted.
func CheckKinds() []string {
	out := make([]string, 0, len(checkKinds))
	for k := range checkKinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// kinds returns the kind keys the check sets, sorted.
func (c *Check) kinds() []string {
	var out []string
	for _, k := range CheckKinds() {
		if checkKinds[k].config(c) != nil {
			out = append(out, k)
		}
	}
	return out
}

// Kind returns the check's kind key (one of CheckKinds), or "" when it sets none or several.
func (c *Check) Kind() string {
	if ks := c.kinds(); len(ks) == 1 {
		return ks[0]
	}
	return ""
}

// config returns the check's configuration and its kind, or nil when it has no single kind.
func (c *Check) config() (checkConfig, checkKind) {
	k := c.Kind()
	if k == "" {
		return nil, checkKind{}
	}
	return checkKinds[k].config(c), checkKinds[k]
}

// Source returns the monitor the check reads: zero when it reads a metric or trace source.
func (c *Check) Source() CheckSource {
	if cfg, _ := c.config(); cfg != nil {
		return cfg.checkSource()
	}
	return CheckSource{}
}

// SeesSuccess reports whether the check's data tells the candidate's successes from its
// failures: probes of a monitor, error counts, spans (which carry an error status). Latency
// histograms, value series and trace shapes only show that there was traffic.
func (c *Check) SeesSuccess() bool {
	if cfg, _ := c.config(); cfg != nil {
		return cfg.seesSuccess()
	}
	return true
}

// sourcesNamed lists the metric and trace sources the check reads: the keys of its kind's
// fields that are source kinds (prometheus, datadog …) and are set, or the source its kind
// always reads. A check kind names a source by having a field under the source's key, so
// adding a source to a kind needs no list here.
func (c *Check) sourcesNamed() []string {
	cfg, kind := c.config()
	if cfg == nil {
		return nil
	}
	if kind.reads != "" {
		return []string{kind.reads}
	}
	v := reflect.ValueOf(cfg).Elem()
	fields := fieldsOf(v.Type())
	var out []string
	for _, name := range fields.names {
		if !isSourceKind(name) {
			continue
		}
		f := v.FieldByIndex(fields.byName[name].index)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			out = append(out, name)
		}
	}
	return out
}

// sourceKeys lists the source keys a check kind's configuration can name, sorted.
func sourceKeys(cfg checkConfig) []string {
	var out []string
	for _, name := range fieldsOf(reflect.TypeOf(cfg).Elem()).names {
		if isSourceKind(name) {
			out = append(out, name)
		}
	}
	return out
}

// SourceKind names the source a check reads: "" for a monitor, else one of SourceKinds.
func (c *Check) SourceKind() string {
	if s := c.sourcesNamed(); len(s) > 0 {
		return s[0]
	}
	return ""
}

// UsesSource reports whether the check reads a metric or trace source rather than a monitor.
func (c *Check) UsesSource() bool { return c.SourceKind() != "" }

// IsCritical reports whether a failure of the check means rollback. Trace-shape findings are
// heuristics, so that check is advisory unless it says critical: true.
func (c *Check) IsCritical() bool {
	if c.Critical == nil {
		return c.TraceShape == nil
	}
	return *c.Critical
}

func validateCheck(d *decoder, c *Check, monitors map[string]bool, declared map[string]bool) {
	if len(c.kinds()) != 1 {
		if len(c.kinds()) > 1 || !d.meant(c.Pos, CheckKinds()...) {
			d.errs.add(c.Pos, "check %q: give exactly one of %s", c.Name, strings.Join(CheckKinds(), ", "))
		}
		return
	}
	cfg, kind := c.config()
	src, named := cfg.checkSource(), c.sourcesNamed()
	if len(named) > 1 || len(named) == 1 && src.From != "" {
		d.errs.add(c.Pos, "check %q: read exactly one of %s", c.Name, readable(cfg, kind))
		return
	}
	switch {
	case len(named) == 1:
		if !declared[named[0]] {
			d.errs.add(c.Pos, "check %q reads %s: declare sources.%s", c.Name, named[0], named[0])
		}
	case !kind.monitor:
		if v, ok := cfg.(*ValuesCheck); ok && v.readsMonitor {
			break // the decoder said why from is refused: that is the one error
		}
		d.errs.add(c.Pos, "check %q: %s needs one of %s", c.Name, c.Kind(), readable(cfg, kind))
	case src.From == "":
		d.errs.add(c.Pos, "check %q: from is required (a monitor name), or read one of %s", c.Name, strings.Join(sourceKeys(cfg), ", "))
	case !monitors[src.From]:
		d.errs.add(c.Pos, "check %q: from %q is not a monitor (%s)", c.Name, src.From, strings.Join(sortedKeys(monitors), ", "))
	}
	cfg.validate(d, c)
}

// readable lists what a check of a kind can read, for messages.
func readable(cfg checkConfig, kind checkKind) string {
	keys := sourceKeys(cfg)
	if kind.monitor {
		keys = slices.Insert(keys, 0, "a monitor (from)")
	}
	return strings.Join(keys, ", ")
}

func (e *ErrorRateCheck) checkSource() CheckSource { return e.CheckSource }
func (e *ErrorRateCheck) seesSuccess() bool        { return true }

func (e *ErrorRateCheck) validate(d *decoder, c *Check) {
	if e.MaxIncrease == nil && e.MaxRatio == nil && e.Max == nil {
		d.errs.add(c.Pos, "check %q: errorRate needs maxIncrease, maxRatio or max", c.Name)
	}
	if e.MaxRatio != nil && *e.MaxRatio <= 0 {
		d.errs.add(c.Pos, "check %q: maxRatio must be positive", c.Name)
	}
	if p := e.Prometheus; p != nil {
		validateTemplates(d, c, "prometheus", "errors", p.Errors, "total", p.Total)
	}
	if dd := e.Datadog; dd != nil {
		for _, q := range []struct{ key, text string }{{"errors", dd.Errors}, {"total", dd.Total}} {
			if strings.TrimSpace(q.text) == "" {
				d.errs.add(c.Pos, "check %q: datadog.%s is required", c.Name, q.key)
			}
		}
	}
}

func (l *LatencyCheck) checkSource() CheckSource { return l.CheckSource }

// seesSuccess: a histogram's buckets count requests, failed or not.
func (l *LatencyCheck) seesSuccess() bool { return l.Prometheus == nil }

func (l *LatencyCheck) validate(d *decoder, c *Check) {
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
	if p := l.Prometheus; p != nil {
		validateTemplates(d, c, "prometheus", "buckets", p.Buckets)
	}
}

func (s *ShiftCheck) checkSource() CheckSource { return s.CheckSource }
func (s *ShiftCheck) seesSuccess() bool        { return true }

func (s *ShiftCheck) validate(d *decoder, c *Check) {
	if !(s.MaxProbability >= 0.5 && s.MaxProbability < 1) {
		d.errs.add(c.Pos, "check %q: maxProbability must be in [0.5, 1), got %v", c.Name, s.MaxProbability)
	}
	if !directionValues[s.Direction] {
		d.errs.add(c.Pos, "check %q: direction must be increase, decrease or either", c.Name)
	}
}

func (v *ValuesCheck) checkSource() CheckSource { return CheckSource{} }

// seesSuccess: a series of CPU or queue depth says nothing of requests succeeding.
func (v *ValuesCheck) seesSuccess() bool { return false }

func (v *ValuesCheck) validate(d *decoder, c *Check) {
	if !criterionRe.MatchString(v.Criterion) {
		d.errs.add(c.Pos, "check %q: criterion %q: want an operator, an optional sign, a number and an optional %%, e.g. <=+10%%", c.Name, v.Criterion)
	}
	if p := v.Prometheus; p != nil {
		validateTemplates(d, c, "prometheus", "query", p.Query)
	}
	if dd := v.Datadog; dd != nil && ((dd.Query == "") == (dd.Formula == "") || (dd.Formula != "") != (len(dd.Queries) > 0)) {
		d.errs.add(c.Pos, "check %q: datadog takes a query, or queries with a formula", c.Name)
	}
}

func (t *TraceShapeCheck) checkSource() CheckSource { return CheckSource{} }

// seesSuccess: a trace's shape shows traffic, not whether it succeeded.
func (t *TraceShapeCheck) seesSuccess() bool { return false }

func (t *TraceShapeCheck) validate(d *decoder, c *Check) {
	if t.MaxAmplification != 0 && t.MaxAmplification <= 1 {
		d.errs.add(c.Pos, "check %q: maxAmplification must be above 1", c.Name)
	}
	if t.Persist < 0 {
		d.errs.add(c.Pos, "check %q: persist must be at least 1", c.Name)
	}
}

// validateTemplates parses a check's query templates for one source at load: key, text pairs.
func validateTemplates(d *decoder, c *Check, src string, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		key, text := pairs[i], pairs[i+1]
		if strings.TrimSpace(text) == "" {
			d.errs.add(c.Pos, "check %q: %s.%s is required", c.Name, src, key)
			continue
		}
		if _, err := template.New("t").Option("missingkey=error").Parse(text); err != nil {
			d.errs.add(c.Pos, "check %q: %s.%s: invalid template: %s", c.Name, src, key, cleanTemplateErr(err))
		}
	}
}

// checkKindFields checks that every check kind is held by the field of Check under its key,
// and that every field of Check but its name and criticality is a check kind: the schema
// builder refuses to run otherwise, so a new kind cannot miss the registry.
func checkKindFields(kinds map[string]checkKind) error {
	t := reflect.TypeFor[Check]()
	fields := fieldsOf(t)
	for _, name := range fields.names {
		if name == "name" || name == "critical" {
			continue
		}
		kind, ok := kinds[name]
		if !ok {
			return fmt.Errorf("check field %q is not a check kind (add it to checkKinds)", name)
		}
		var c Check
		f := reflect.ValueOf(&c).Elem().FieldByIndex(fields.byName[name].index)
		if f.Kind() != reflect.Pointer {
			return fmt.Errorf("check kind %q: its field is not a pointer", name)
		}
		f.Set(reflect.New(f.Type().Elem()))
		if kind.config(&c) == nil {
			return fmt.Errorf("check kind %q reads another field than %q", name, name)
		}
	}
	for name := range kinds {
		if _, ok := fields.byName[name]; !ok {
			return fmt.Errorf("check kind %q has no field of Check", name)
		}
	}
	return nil
}
