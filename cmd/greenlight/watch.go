package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/specs"
)

// newWatchCmd is `greenlight watch`: the post-cutover watch as a step of its own, run after the
// pipeline switched the traffic on verify's promote.
func newWatchCmd() *cobra.Command {
	var (
		envs      []string
		vars      []string
		reports   []string
		output    string
		name      string
		baseline  string
		candidate string
		watchFor  time.Duration
		metrics   string
	)
	cmd := &cobra.Command{
		Use:   "watch ANALYSIS.yaml [SUITES...] --for 30m",
		Short: "After the traffic switch, watch the promoted candidate and say whether to switch back",
		Long: `Watch follows a candidate that verify promoted and that now serves users: it runs the
analysis's monitors and checks on both environments — the candidate, and the baseline still
running beside it — for --for (or policy.watch), with fresh checks that judge only what
happens from now on. There is no smoke gate and no comparison before it.

  greenlight verify analysis.yaml suites/ --env blue=… --env green=…   # exit 0: promote
  ./switch-traffic-to green
  greenlight watch analysis.yaml suites/ --env blue=… --env green=… --for 30m || ./switch-traffic-to blue

Exit codes: 0 the watch ended with no regression, 1 a regression: switch back (at the first
one), 2 inconclusive: the watch could not confirm the promote (its sources failed, or the
candidate showed no evidence of working) and policy.onInconclusive is not rollback, 3 invalid input, 4 internal error, 5 interrupted (SIGINT/SIGTERM): nothing was decided
about the watch; the promote stands and the reports say so. See docs/pipelines.md.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if output != "text" && output != "json" {
				return invalid("--output %q: want text or json", output)
			}
			if cmd.Flags().Changed("for") && watchFor <= 0 {
				return invalid("--for %s: want a duration above zero (e.g. 30m)", watchFor)
			}
			overrides, err := parseVars(vars)
			if err != nil {
				return err
			}
			envURLs, err := parseEnvFlags(envs)
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
			analysisName := name
			defer func() { err = reportInvalid(err, files, analysisName) }()
			// Only the suites this analysis runs need their secrets (a folder may hold others').
			docs, err := loadSpecsWith(cmd.Context(), args, specs.LoadOptions{Vars: overrides, SecretsWhenUsed: true})
			if err != nil {
				return err
			}
			a, err := pickAnalysis(docs, name)
			if err != nil {
				return err
			}
			analysisName = a.Metadata.Name
			if err := a.RequireSecrets(); err != nil {
				return invalid("invalid spec:\n%s", err)
			}
			v := &verifyRun{
				opts: analysis.Options{Analysis: a, Envs: envURLs, Baseline: baseline, Candidate: candidate,
					Watch: watchFor, WatchOnly: true},
				output: output, reports: files, stdout: cmd.OutOrStdout(), metricsAddr: metrics,
			}
			return v.execute(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&watchFor, "for", 0, "how long to watch (default: the analysis's policy.watch; one of the two is required)")
	f.StringArrayVar(&envs, "env", nil, "set an environment's URL: NAME=URL (repeatable)")
	f.StringVar(&baseline, "baseline", "", "the environment that served users before the switch (overrides the spec)")
	f.StringVar(&candidate, "candidate", "", "the promoted environment, serving users now (overrides the spec)")
	f.StringVar(&name, "analysis", "", "which analysis to run when the files hold several")
	f.StringArrayVar(&vars, "var", nil, "override a suite variable: NAME=VALUE (repeatable)")
	f.StringArrayVar(&reports, "report", nil, "write a report: junit=FILE, json=FILE, markdown=FILE or github=FILE (GitHub Actions annotations) (repeatable)")
	f.StringVarP(&output, "output", "o", "text", "standard output: text (live) or json (the verdict at the end)")
	f.StringVar(&metrics, "metrics-addr", "", "serve the probes' Prometheus metrics on this address while the watch runs (e.g. :9464)")
	return cmd
}
