// Package synthetic runs monitors: a suite on a schedule, against the baseline and the
// candidate at the same moments, so that whatever drifts while an analysis runs (load, a noisy
// neighbour, the network) hits both environments alike and a comparison of the two stays fair.
//
// Each scheduled run of a monitor probes both environments concurrently, after one random jitter
// delay shared by the two, and yields a Pair of Probes (one smoke pass each, reduced to what an
// analysis compares: ok, latency, status, reason). Run sends every completed pair to a channel.
// Neither role may gain from the pairing: which side's goroutine is launched first is drawn at
// random in blocks of two runs (each side goes first in half of them), both wait at one barrier
// and are released together, and smoke gives each environment its own connection pool and times
// a request from written to read.
//
// Scheduling rules, which keep greenlight from ever becoming a load test:
//
//   - A monitor has at most one run in flight. A run due while the previous one is still going
//     (slow environment, slow reader of the pairs) is skipped and counted, never queued.
//   - Each monitor has a token bucket per environment refilled at RateLimit requests per second
//     (default 20), holding at most two runs' worth of requests. A run costs one token per step
//     on the environment the step is sent to; when either environment lacks the tokens, the run
//     is skipped and counted, never delayed. The two environments are always probed together or
//     not at all. Retries are charged after the run, so they slow the next runs down.
//   - A HostLimits shared by several Runs (Options.HostLimits; in greenlight, every analysis of
//     one Engine) caps the requests per second to each host over all of them, the same way: a
//     run takes its requests from every host it reaches or from none, and is skipped otherwise.
//   - A panic inside a run is recovered, logged at Warn and counted; the run's pair is dropped
//     (a bug in greenlight is no evidence about an environment) and the monitor keeps running.
//   - When ctx ends, scheduling stops and runs in flight finish quickly (their probes see the
//     same ctx); a pair cut short that way is dropped, not sent, for the same reason.
//
// Every schedules are greenlight's own (they may be as short as 10ms, which robfig/cron's
// @every cannot express): the first run is at once, then on a fixed grid that does not drift.
// Cron schedules use robfig/cron's parser through specs.ParseCron, in the process's time zone
// unless the spec starts with CRON_TZ=; their first run is at the first matching time.
//
// The package measures and reports; it must not know about checks, statistics or verdicts,
// which belong to compare and analysis. Metrics exposes the probes in Prometheus form and Window
// keeps recent probes for dashboards.
package synthetic
