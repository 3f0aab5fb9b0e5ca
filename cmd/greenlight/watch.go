package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/analysis"
)

// newWatchCmd is `greenlight watch`: the post-cutover watch as a step of its own, run after the
// pipeline switched the traffic on verify's promote.
func newWatchCmd() *cobra.Command {
	var (
		rf       runFlags
		watchFor time.Duration
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

Exit codes: 0 the watch ended with no regression; 1 a regression: switch back (at the first
one); 2 inconclusive: the watch could not confirm the promote (its sources failed, or the
candidate showed no evidence of working) and policy.onInconclusive is not rollback; 3 invalid
input; 4 internal error; 5 interrupted (SIGINT/SIGTERM): nothing was decided about the watch,
the promote stands and the reports say so. See docs/pipelines.md.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("for") && watchFor <= 0 {
				return invalid("--for %s: want a duration above zero (e.g. 30m)", watchFor)
			}
			return rf.run(cmd, args, func(o *analysis.Options) { o.Watch, o.WatchOnly = watchFor, true })
		},
	}
	f := cmd.Flags()
	f.DurationVar(&watchFor, "for", 0, "how long to watch (default: the analysis's policy.watch; one of the two is required)")
	rf.register(f, "the environment that served users before the switch (overrides the spec)", "the promoted environment, serving users now (overrides the spec)", "watch")
	return cmd
}
