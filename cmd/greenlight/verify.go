package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/greenlight/greenlight/verdict"
)

func newVerifyCmd() *cobra.Command {
	var (
		rf    runFlags
		watch time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify ANALYSIS.yaml [SUITES...]",
		Short: "Decide promote or rollback: smoke-test, monitor both environments, compare",
		Long: `Verify runs an analysis: the smoke suites on the candidate (a failure is an immediate
rollback), then synthetic monitors against baseline and candidate at the same moments, comparing
them check by check every second until every critical check is decided or policy.maxDuration is
reached. Give the analysis file and the files or folders holding the suites it names.

  greenlight verify analysis.yaml suites/ --env blue=https://blue.internal --env green=https://green.internal

Exit codes: 0 promote, 1 rollback, 2 inconclusive, 3 invalid input, 4 internal error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("watch") && watch == 0 {
				watch = -1 // --watch 0 turns a policy's watch off
			}
			return rf.run(cmd, args, func(o *analysis.Options) { o.Watch = watch })
		},
	}
	f := cmd.Flags()
	rf.register(f, "the environment serving users now (overrides the spec)", "the environment to judge (overrides the spec)", "analysis")
	f.DurationVar(&watch, "watch", 0, "after promote, keep monitoring this long and roll back on a late regression (overrides policy.watch; 0 turns it off)")
	return cmd
}

// runFlags are the flags verify and watch share, and what they do with them.
type runFlags struct {
	envs, vars, reports                        []string
	output, name, baseline, candidate, metrics string
}

// register declares the shared flags, with the wording of the roles and of what runs.
func (rf *runFlags) register(f *pflag.FlagSet, baselineHelp, candidateHelp, what string) {
	f.StringArrayVar(&rf.envs, "env", nil, "set an environment's URL: NAME=URL (repeatable)")
	f.StringVar(&rf.baseline, "baseline", "", baselineHelp)
	f.StringVar(&rf.candidate, "candidate", "", candidateHelp)
	f.StringVar(&rf.name, "analysis", "", "which analysis to run when the files hold several")
	f.StringArrayVar(&rf.vars, "var", nil, "override a suite variable: NAME=VALUE (repeatable)")
	f.StringArrayVar(&rf.reports, "report", nil, "write a report: junit=FILE, json=FILE, markdown=FILE or github=FILE (GitHub Actions annotations) (repeatable)")
	f.StringVarP(&rf.output, "output", "o", "text", "standard output: text (live) or json (the verdict at the end)")
	f.StringVar(&rf.metrics, "metrics-addr", "", "serve the probes' Prometheus metrics on this address while the "+what+" runs (e.g. :9464)")
}

// run reads the flags and the specs and runs the analysis, set up further by set. Invalid input
// still writes the reports asked for (exit 3); only the suites the analysis runs need their
// secrets (a folder may hold others').
func (rf *runFlags) run(cmd *cobra.Command, args []string, set func(*analysis.Options)) (err error) {
	if rf.output != "text" && rf.output != "json" {
		return invalid("--output %q: want text or json", rf.output)
	}
	overrides, err := parseVars(rf.vars)
	if err != nil {
		return err
	}
	envURLs, err := parseEnvFlags(rf.envs)
	if err != nil {
		return err
	}
	files, err := parseReports(rf.reports)
	if err != nil {
		return err
	}
	if err := checkDestinations(files); err != nil {
		return err
	}
	analysisName := rf.name
	defer func() { err = reportInvalid(err, files, analysisName) }()
	docs, err := loadSpecsWith(cmd.Context(), args, specs.LoadOptions{Vars: overrides, SecretsWhenUsed: true})
	if err != nil {
		return err
	}
	a, err := pickAnalysis(docs, rf.name)
	if err != nil {
		return err
	}
	analysisName = a.Metadata.Name
	if err := a.RequireSecrets(); err != nil {
		return invalid("invalid spec:\n%s", err)
	}
	v := &verifyRun{
		opts:   analysis.Options{Analysis: a, Envs: envURLs, Baseline: rf.baseline, Candidate: rf.candidate},
		output: rf.output, reports: files, stdout: cmd.OutOrStdout(), metricsAddr: rf.metrics,
	}
	set(&v.opts)
	return v.execute(cmd.Context())
}

// parseEnvFlags reads --env NAME=URL into a map (URLs are checked by the analysis).
func parseEnvFlags(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range flags {
		name, u, ok := strings.Cut(e, "=")
		if !ok || name == "" || u == "" {
			return nil, invalid("--env %q: want NAME=URL", redactURL(e))
		}
		out[name] = u
	}
	return out, nil
}

func pickAnalysis(docs *specs.Documents, name string) (*specs.Analysis, error) {
	switch {
	case name != "":
		if a := docs.Analysis(name); a != nil {
			return a, nil
		}
		return nil, invalid("no analysis named %q in the files given", name)
	case len(docs.Analyses) == 1:
		return docs.Analyses[0], nil
	case len(docs.Analyses) == 0:
		return nil, invalid("no kind: Analysis document in the files given (greenlight smoke runs suites alone)")
	}
	var names []string
	for _, a := range docs.Analyses {
		names = append(names, a.Metadata.Name)
	}
	return nil, invalid("the files hold %d analyses (%s): choose one with --analysis", len(names), strings.Join(names, ", "))
}

// networkKey carries, in a command's context, a network that replaces the host's for everything
// a verify run connects to or listens on. Only tests set it: they run environments on an
// in-memory network under a fake clock (testing/synctest), where decisions do not depend on the
// machine's speed.
type networkKey struct{}

type network interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	Listen(network, addr string) (net.Listener, error)
}

// verifyRun is one `greenlight verify` (or demo) invocation.
type verifyRun struct {
	opts    analysis.Options
	output  string
	reports map[string]string
	stdout  io.Writer
	logger  *slog.Logger
	// metricsAddr, when set, serves /metrics during the run.
	metricsAddr string
}

func (o *verifyRun) execute(ctx context.Context) error {
	redact := o.opts.Redactor()
	stdout := newRedactingWriter(o.stdout, redact)
	defer stdout.Flush()
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o.opts.Logger = logger
	if nw, ok := ctx.Value(networkKey{}).(network); ok {
		o.opts.DialContext, o.opts.Listen = nw.DialContext, nw.Listen
	}
	o.opts.Runner = smoke.NewRunner("greenlight/"+appVersion(), logger)
	o.opts.Runner.DialContext = o.opts.DialContext
	defer o.opts.Runner.CloseIdle()

	if o.metricsAddr != "" {
		stop, err := serveMetrics(ctx, o.metricsAddr, &o.opts)
		if err != nil {
			return invalid("--metrics-addr %s: %v", o.metricsAddr, err)
		}
		defer stop()
	}
	var live *liveView
	if o.output == "text" {
		live = newLiveView(stdout, useColor(o.stdout))
		o.opts.OnTraces = func(addr string) {
			fmt.Fprintf(stdout, "[traces] receiving OTLP/HTTP spans at http://%s/v1/traces\n", addr)
		}
	}
	phases := newPhaseReports(o, redact)
	v, err := o.run(ctx, live, phases)
	switch {
	case errors.Is(err, analysis.ErrInvalid):
		return invalid("%s", redact.Redact(err.Error()))
	case err != nil:
		return &exitError{code: verdict.ExitInternal, err: errors.New(redact.Redact(err.Error()))}
	}
	// analysis.Run has redacted the verdict; doing it again before rendering costs little and
	// keeps this file's promise whatever produced the verdict.
	v.Redact(redact.Redact)
	if v.Smoke != nil {
		v.Smoke.Version = appVersion()
	}
	switch o.output {
	case "json":
		if err := verdict.WriteVerdictJSON(stdout, v); err != nil {
			return &exitError{code: verdict.ExitInternal, err: err}
		}
	default:
		live.text.Verdict(v)
	}
	if err := phases.final(v); err != nil {
		return &exitError{code: verdict.ExitInternal, err: err}
	}
	return exitWith(v.ExitCode())
}

// run drives the analysis through the same Engine the daemon uses: compile, start, follow its
// events on the live view, wait for the verdict. A signal interrupts it (the verdict then says
// "interrupted by SIGINT").
func (o *verifyRun) run(ctx context.Context, live *liveView, phases *phaseReports) (*verdict.Verdict, error) {
	p, err := analysis.Compile(o.opts)
	if err != nil {
		return nil, err
	}
	e := analysis.NewEngine(analysis.EngineOptions{Runner: o.opts.Runner, Metrics: o.opts.Metrics,
		Logger: o.opts.Logger, LookupEnv: o.opts.LookupEnv})
	defer e.Shutdown(context.WithoutCancel(ctx))
	id, _, err := e.Start(p, analysis.StartOptions{})
	if err != nil {
		return nil, err
	}
	shown := make(chan struct{})
	if live != nil || phases.active() {
		sub, err := e.Subscribe(id, 0)
		if err != nil {
			return nil, err
		}
		go func() {
			defer close(shown)
			defer sub.Close()
			for {
				ev, _, err := sub.Next(context.Background())
				if err != nil {
					return
				}
				if live != nil {
					live.event(ev)
				}
				phases.event(ev)
			}
		}()
	} else {
		close(shown)
	}
	stop := context.AfterFunc(ctx, func() { _ = e.Interrupt(id, context.Cause(ctx)) })
	defer stop()
	v, err := e.Wait(context.WithoutCancel(ctx), id)
	<-shown
	switch {
	case live != nil && ctx.Err() != nil:
		live.leave() // interrupted: the last state stays on screen
	case live != nil:
		live.close()
	}
	return v, err
}

// serveMetrics registers the probe metrics and serves them in Prometheus format until stop.
func serveMetrics(ctx context.Context, addr string, opts *analysis.Options) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	opts.Metrics = synthetic.NewMetrics(reg)
	listen := opts.Listen
	if listen == nil {
		listen = net.Listen
	}
	ln, err := listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
