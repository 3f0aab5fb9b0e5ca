package specs

import (
	"path/filepath"
	"strings"
)

// Link resolves what documents refer to across files: an analysis's smoke suites and monitor
// suites (by name among the loaded suites, or by path relative to the analysis's file), and the
// steps its checks name. Load calls it; callers that Parse files themselves call it once after.
func (ds *Documents) Link(opts LoadOptions) error {
	var errs Errors
	for _, a := range ds.Analyses {
		a.SmokeSuites = nil
		for _, ref := range a.Smoke {
			if s := ds.resolve(ref, a, opts, &errs); s != nil {
				a.SmokeSuites = append(a.SmokeSuites, s)
			}
		}
		for i := range a.Monitors {
			m := &a.Monitors[i]
			if m.Step != nil {
				m.Resolved = inlineSuite(a, m)
			} else if m.Suite.Ref != "" {
				m.Resolved = ds.resolve(m.Suite, a, opts, &errs)
			}
		}
		for i := range a.Checks {
			c := &a.Checks[i]
			src := c.Source()
			m := a.Monitor(src.From)
			if src.Step == "" || m == nil || m.Resolved == nil {
				continue
			}
			if m.Resolved.Step(src.Step) == nil {
				errs.add(c.Pos, "check %q: monitor %q has no step %q (steps: %s)", c.Name, src.From, src.Step, strings.Join(m.Resolved.StepNames(), ", "))
			}
		}
	}
	return errs.err()
}

func (ds *Documents) resolve(ref SuiteRef, a *Analysis, opts LoadOptions, errs *Errors) *Suite {
	if !ref.isPath() {
		if s := ds.Suite(ref.Ref); s != nil {
			return s
		}
		var names []string
		for _, s := range ds.Suites {
			names = append(names, s.Metadata.Name)
		}
		have := "none loaded"
		if len(names) > 0 {
			have = "have: " + strings.Join(names, ", ")
		}
		errs.add(ref.Pos, "no suite named %q among the loaded files (%s); give its file too, or a path", ref.Ref, have)
		return nil
	}
	path := resolvePath(filepath.Dir(a.File), ref.Ref)
	for _, s := range ds.Suites {
		if filepath.Clean(s.File) == filepath.Clean(path) {
			return s
		}
	}
	more, err := Load([]string{path}, opts)
	if err != nil {
		errs.add(ref.Pos, "suite file %q: %s", ref.Ref, strings.ReplaceAll(err.Error(), "\n", "; "))
		return nil
	}
	if len(more.Suites) != 1 {
		errs.add(ref.Pos, "suite file %q holds %d suites; name one instead", ref.Ref, len(more.Suites))
		return nil
	}
	ds.Suites = append(ds.Suites, more.Suites[0])
	return more.Suites[0]
}

// inlineSuite wraps a monitor's single step into a one-step suite with the built-in defaults.
func inlineSuite(a *Analysis, m *Monitor) *Suite {
	s := &Suite{
		APIVersion: APIVersion,
		Kind:       "Suite",
		Metadata:   Metadata{Name: m.Name},
		Steps:      []Step{*m.Step},
		File:       a.File,
		Pos:        m.Pos,
		Vars:       map[string]string{},
		ctx:        a.ctx,
	}
	s.applyDefaults()
	return s
}

// Monitor returns the monitor with the given name, or nil.
func (a *Analysis) Monitor(name string) *Monitor {
	for i := range a.Monitors {
		if a.Monitors[i].Name == name {
			return &a.Monitors[i]
		}
	}
	return nil
}

// Step returns the step with the given name, or nil.
func (s *Suite) Step(name string) *Step {
	for i := range s.Steps {
		if s.Steps[i].Name == name {
			return &s.Steps[i]
		}
	}
	return nil
}

// StepNames lists the suite's step names in order.
func (s *Suite) StepNames() []string {
	out := make([]string, len(s.Steps))
	for i := range s.Steps {
		out[i] = s.Steps[i].Name
	}
	return out
}

// Redactor returns a redactor for every secret the analysis's suites can reveal.
func (a *Analysis) Redactor() *Redactor {
	rd := NewRedactor()
	if a.ctx != nil {
		rd.Add(a.ctx.redactor().Secrets()...)
	}
	add := func(s *Suite) {
		if s != nil {
			rd.Add(s.Redactor().Secrets()...)
		}
	}
	for _, s := range a.SmokeSuites {
		add(s)
	}
	for i := range a.Monitors {
		add(a.Monitors[i].Resolved)
	}
	if p := a.Sources.Prometheus; p != nil {
		rd.Add(p.token, p.password)
		if p.password != "" {
			// What an echoed Authorization: Basic header carries, base64-encoded.
			rd.Add(Secret(p.Username + ":" + p.password.Reveal()))
		}
	}
	if d := a.Sources.Datadog; d != nil {
		rd.Add(d.apiKey, d.appKey)
	}
	if t := a.Sources.Traces; t != nil {
		rd.Add(t.token)
	}
	return rd
}
