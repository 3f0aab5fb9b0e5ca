package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

func newSmokeCmd() *cobra.Command {
	var (
		target   string
		envs     []string
		vars     []string
		reports  []string
		output   string
		parallel int
		verbose  bool
	)
	cmd := &cobra.Command{
		Use:   "smoke SUITE...",
		Short: "Run smoke suites against one or more environments",
		Long: `Smoke runs each suite once against each environment and reports every step.

  greenlight smoke suites/ --target https://green.internal
  greenlight smoke checkout.yaml --env blue=https://blue.internal --env green=https://green.internal

With several environments the suite runs against each at the same time and the results are shown
side by side. Exit 0 when every step passed, 1 when one failed, 3 on invalid input.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if output != "text" && output != "json" {
				return invalid("--output %q: want text or json", output)
			}
			if parallel < 1 {
				return invalid("--parallel must be at least 1")
			}
			overrides, err := parseVars(vars)
			if err != nil {
				return err
			}
			targets, err := parseTargets(target, envs)
			if err != nil {
				return err
			}
			files, err := parseReports(reports)
			if err != nil {
				return err
			}
			if err := checkDestinations(files); err != nil {
				return err
			}
			defer func() { err = reportInvalidSmoke(err, files) }()
			docs, err := loadSpecsCtx(cmd.Context(), args, overrides)
			if err != nil {
				return err
			}
			run := &smokeRun{docs: docs, targets: targets, parallel: parallel, output: output, reports: files,
				verbose: verbose, stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}
			return run.execute(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "", "base URL of the one environment to test")
	f.StringArrayVar(&envs, "env", nil, "an environment as NAME=URL (repeatable: --env blue=URL --env green=URL)")
	f.StringArrayVar(&vars, "var", nil, "override a suite variable: NAME=VALUE (repeatable)")
	f.StringArrayVar(&reports, "report", nil, "write a report: junit=FILE, json=FILE, markdown=FILE or github=FILE (GitHub Actions annotations) (repeatable)")
	f.StringVarP(&output, "output", "o", "text", "standard output format: text or json")
	f.BoolVarP(&verbose, "verbose", "v", false, "show every condition, the request line, trace id and captured names under each step")
	f.IntVar(&parallel, "parallel", 1, "suites run at the same time (each suite runs on its environments concurrently)")
	return cmd
}

// smokeRun is one `greenlight smoke` (or demo) invocation.
type smokeRun struct {
	docs     *specs.Documents
	targets  []smoke.Target
	parallel int
	output   string
	verbose  bool
	reports  map[string]string
	stdout   io.Writer
	stderr   io.Writer
	logger   *slog.Logger
}

type smokeJob struct {
	suite *specs.Suite
	env   string
}

func (o *smokeRun) execute(ctx context.Context) error {
	byName := map[string]smoke.Target{}
	for _, t := range o.targets {
		byName[t.Name] = t
	}
	redact := specs.NewRedactor()
	for _, t := range o.targets {
		redact.Add(specs.URLSecrets(t.URL)...)
	}
	var jobs []smokeJob
	for _, s := range o.docs.Suites {
		redact.Add(s.Redactor().Secrets()...)
		if err := smoke.CheckTargets(s, byName); err != nil {
			return invalid("%s", err)
		}
		if s.Env != "" {
			jobs = append(jobs, smokeJob{s, s.Env})
			continue
		}
		for _, t := range o.targets {
			jobs = append(jobs, smokeJob{s, t.Name})
		}
	}
	stdout := newRedactingWriter(o.stdout, redact)
	defer stdout.Flush()

	text := verdict.NewTextWriter(stdout, verdict.TextOptions{Color: useColor(o.stdout), Verbose: o.verbose, Prefix: len(jobs) > 1})
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	runner := smoke.NewRunner("greenlight/"+appVersion(), logger)
	defer runner.CloseIdle()
	if o.output == "text" {
		runner.OnStep = func(s *specs.Suite, env string, st smoke.StepResult) {
			text.Step(s.Metadata.Name, env, stepReport(env, st))
		}
		fmt.Fprintf(stdout, "greenlight smoke: %d suite(s) on %s\n", len(o.docs.Suites), redact.Redact(describeTargets(o.targets)))
	}

	started := time.Now()
	results := o.runJobs(ctx, runner, jobs, byName)
	rep := newReport(started, results)
	// Steps cut short by a signal failed because of us, not the environment.
	rep.Interrupted = ctx.Err() != nil
	// Results are redacted where they are made; this catches anything added since, before a
	// renderer escapes it beyond recognition.
	rep.Redact(redact.Redact)

	switch o.output {
	case "json":
		if err := verdict.WriteJSON(stdout, rep); err != nil {
			return &exitError{code: verdict.ExitInternal, err: err}
		}
	default:
		text.Summary(rep)
	}
	if err := writeReports(rep, o.reports, redact); err != nil {
		return &exitError{code: verdict.ExitInternal, err: err}
	}
	if rep.Interrupted {
		return &exitError{code: verdict.ExitInterrupted, err: fmt.Errorf("%v before every step ran: nothing decided (the reports hold what ran)", context.Cause(ctx))}
	}
	return exitWith(rep.ExitCode())
}

// runJobs runs suites up to o.parallel at a time, each suite on all its environments at once so
// that blue and green see the same moment. Results keep the jobs' order.
func (o *smokeRun) runJobs(ctx context.Context, runner *smoke.Runner, jobs []smokeJob, targets map[string]smoke.Target) []*smoke.SuiteResult {
	results := make([]*smoke.SuiteResult, len(jobs))
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	var crash panicked
	for i := 0; i < len(jobs); {
		// A suite's jobs are adjacent; run them together under one slot.
		j := i
		for j < len(jobs) && jobs[j].suite == jobs[i].suite {
			j++
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			defer func() { <-sem }()
			var inner sync.WaitGroup
			for k := lo; k < hi; k++ {
				inner.Add(1)
				go func(k int) {
					defer inner.Done()
					defer crash.catch()
					results[k] = runner.Run(ctx, jobs[k].suite, jobs[k].env, targets)
				}(k)
			}
			inner.Wait()
		}(i, j)
		i = j
	}
	wg.Wait()
	crash.rethrow()
	return results
}

func describeTargets(ts []smoke.Target) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s (%s)", t.Name, t.URL)
	}
	return strings.Join(parts, ", ")
}
