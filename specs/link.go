package specs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Link resolves what documents refer to across files: an analysis's smoke suites and monitor
// suites (by name among the loaded suites, or by path relative to the analysis's file), and the
// steps its checks name. Load calls it; callers that Parse files themselves call it once after.
func (ds *Documents) Link(opts LoadOptions) error {
	return ds.link(opts, nil)
}

// link is Link knowing which files could not be read whole (unreadable), so that a name not
// found there is left to their syntax errors instead of reading as a second problem.
func (ds *Documents) link(opts LoadOptions, unreadable []string) error {
	l := &linker{ds: ds, opts: opts, unreadable: unreadable, files: map[string]*loaded{}}
	var errs Errors
	for _, a := range ds.Analyses {
		a.SmokeSuites = nil
		for _, ref := range a.Smoke {
			if s := l.resolve(ref, a, &errs); s != nil {
				a.SmokeSuites = append(a.SmokeSuites, s)
			}
		}
		for i := range a.Monitors {
			m := &a.Monitors[i]
			if m.Step != nil {
				m.Resolved = inlineSuite(a, m)
			} else if m.Suite.Ref != "" {
				m.Resolved = l.resolve(m.Suite, a, &errs)
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
	if ds.Notifications != nil {
		var es Errors
		if errors.As(ds.NotifyErrors(), &es) {
			errs = append(errs, es...)
		}
	}
	return errs.err()
}

// linker resolves references; suite files named by path are read once each.
type linker struct {
	ds         *Documents
	opts       LoadOptions
	unreadable []string
	files      map[string]*loaded
}

// loaded is a suite file read for a reference: what it held and what was wrong with it.
type loaded struct {
	docs *Documents
	errs Errors
}

func (l *linker) resolve(ref SuiteRef, a *Analysis, errs *Errors) *Suite {
	ds := l.ds
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
		if len(l.unreadable) > 0 {
			// A file could not be read whole (its syntax error is reported): it may define the
			// suite, so a missing name is not a second problem to report yet.
			return nil
		}
		errs.add(ref.Pos, "no suite named %q among the loaded files (%s); give its file too, or a path", ref.Ref, have)
		return nil
	}
	path := filepath.Clean(resolvePath(filepath.Dir(a.File), ref.Ref))
	for _, s := range ds.Suites {
		if filepath.Clean(s.File) == path {
			return s
		}
	}
	if path == filepath.Clean(a.File) {
		errs.add(ref.Pos, "suite file %q is this analysis's own file, which holds no suite", ref.Ref)
		return nil
	}
	// The file is read for its suites only, never linked: an analysis in it is not run, and
	// linking it could follow its references back here, forever.
	f, ok := l.files[path]
	if !ok {
		docs, errs, _ := load([]string{path}, l.opts)
		f = &loaded{docs: docs, errs: errs}
		l.files[path] = f
		ds.Warnings = append(ds.Warnings, docs.Warnings...)
	}
	switch {
	case len(f.errs) > 0:
		f.errs.sort()
		errs.add(ref.Pos, "suite file %q: %s", ref.Ref, strings.ReplaceAll(f.errs.Error(), "\n", "; "))
		return nil
	case len(f.docs.Suites) != 1:
		what := ""
		if n := len(f.docs.Analyses); n > 0 && len(f.docs.Suites) == 0 {
			what = fmt.Sprintf(" (only %s: an analysis runs suites, not analyses)", plural(n, "analysis", "analyses"))
		}
		errs.add(ref.Pos, "suite file %q holds %d suites%s; name one instead", ref.Ref, len(f.docs.Suites), what)
		return nil
	}
	s := f.docs.Suites[0]
	ds.Suites = append(ds.Suites, s)
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
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
