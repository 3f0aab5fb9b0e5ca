package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// phaseReports writes a run's reports at each of its turns — once the smoke gate passed, at
// promote (before the watch), at the end — each write replacing the last. The report files and
// the step summary always hold the run's latest state: a CI job killed during the watch (its
// timeout, a runner lost) still has the promote decision and its reasons to act on.
type phaseReports struct {
	files   map[string]string
	summary string
	// summaryBase is the step summary's size before the run: each write replaces what the run
	// wrote there before, never what the job's earlier steps wrote.
	summaryBase int64
	redact      *secret.Redactor
	// a is the analysis and started when the run began, for the report written before a verdict.
	a       *specs.Analysis
	envs    map[string]string
	started time.Time
}

func newPhaseReports(o *verifyRun, redact *secret.Redactor) *phaseReports {
	p := &phaseReports{files: o.reports, summary: summaryFile(), redact: redact, a: o.opts.Analysis, envs: o.opts.Envs, started: time.Now()}
	if p.summary != "" {
		if fi, err := os.Stat(p.summary); err == nil && fi.Mode().IsRegular() {
			p.summaryBase = fi.Size()
		}
	}
	return p
}

// active says whether there is anything to write.
func (p *phaseReports) active() bool { return len(p.files) > 0 || p.summary != "" }

// event writes the reports at the turns of the run. A failure here is not reported: the
// final write meets the same file and says so.
func (p *phaseReports) event(ev analysis.Event) {
	switch {
	case ev.Kind == analysis.EventSmokeDone && ev.Smoke != nil && ev.Smoke.Passed():
		_ = p.write(p.smokePassed(ev), true)
	case ev.Kind == analysis.EventPhase && ev.Phase == verdict.PhaseWatch && ev.Verdict != nil:
		_ = p.write(ev.Verdict, true)
	}
}

// smokePassed is the state of a run whose smoke gate passed: not decided yet.
func (p *phaseReports) smokePassed(ev analysis.Event) *verdict.Verdict {
	smoke := *ev.Smoke
	smoke.Version = appVersion()
	return &verdict.Verdict{
		Analysis: p.a.Metadata.Name, Decision: verdict.Running, Phase: verdict.PhaseAnalysis,
		Reason: fmt.Sprintf("the smoke gate passed; comparing %s (candidate) with %s (baseline): not decided when this was written",
			ev.Candidate, ev.Baseline),
		Baseline: p.env(ev.Baseline), Candidate: p.env(ev.Candidate),
		StartedAt: p.started, Duration: time.Since(p.started), Checks: []verdict.CheckResult{}, Smoke: &smoke,
	}
}

func (p *phaseReports) env(name string) verdict.Environment {
	u := p.envs[name]
	if u == "" {
		u = p.a.Environments[name].URL
	}
	return verdict.Environment{Name: name, URL: p.redact.Redact(u)}
}

// final writes the verdict.
func (p *phaseReports) final(v *verdict.Verdict) error { return p.write(v, false) }

// write renders v into every report and the step summary. Before the end, a destination that
// is not a regular file (a pipe, /dev/stdout) is left alone: it would get every turn in a row.
func (p *phaseReports) write(v *verdict.Verdict, interim bool) error {
	files := p.files
	if interim {
		files = map[string]string{}
		for format, f := range p.files {
			if regular(f) {
				files[format] = f
			}
		}
	}
	if err := verdict.WriteVerdictFiles(v, files, "", p.redact.Redact); err != nil {
		return err
	}
	if p.summary == "" || interim && !regular(p.summary) {
		return nil
	}
	var buf bytes.Buffer
	if err := verdict.WriteVerdictMarkdown(&buf, v); err != nil {
		return fmt.Errorf("render the step summary: %w", err)
	}
	return p.replaceSummary(p.redact.Redact(buf.String()))
}

// replaceSummary writes text after what the step summary held before the run, in place of
// what the run wrote there at its earlier turns.
func (p *phaseReports) replaceSummary(text string) error {
	f, err := os.OpenFile(p.summary, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("write the step summary: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		if err = f.Truncate(p.summaryBase); err == nil {
			_, err = f.WriteAt([]byte(text), p.summaryBase)
		}
	} else {
		_, err = f.WriteString(text)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the step summary: %w", err)
	}
	return nil
}

// regular is true for a file that is, or will be, a regular file.
func regular(file string) bool {
	fi, err := os.Stat(file)
	return err != nil || fi.Mode().IsRegular()
}
