package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
)

// liveChecks: an undecided critical error-rate check whose interval straddles its +10pp limit,
// and a failed advisory latency check.
func liveChecks() []verdict.CheckResult {
	return []verdict.CheckResult{
		{Name: "errors", Critical: true, Outcome: compare.Outcome{Kind: "error-rate", Metric: "error rate", State: compare.Inconclusive,
			Baseline: compare.Estimate{N: 40, Value: 0.01}, Candidate: compare.Estimate{N: 40, Value: 0.05},
			Diff:      compare.Effect{Value: 0.04, Lower: -0.03, Upper: 0.14},
			Threshold: compare.Threshold{MaxIncrease: compare.F(0.1), Direction: compare.Increase},
			Reason:    "error rate green 5.00% vs blue 1.00%: +4pp [-3pp, +14pp] inconclusive against ≤ +10pp"}},
		{Name: "p95", Critical: false, Outcome: compare.Outcome{Kind: "latency", Metric: "p95", State: compare.Fail,
			Baseline: compare.Estimate{N: 40, Value: 0.1}, Candidate: compare.Estimate{N: 40, Value: 0.3},
			Ratio:     compare.Effect{Value: 3, Lower: 2.5, Upper: 3.5},
			Threshold: compare.Threshold{MaxRatio: compare.F(1.2), Direction: compare.Increase},
			Reason:    "p95 green 300ms vs blue 100ms: ratio 3.00 [2.50, 3.50] > 1.20 allowed"}},
	}
}

func tick(elapsed time.Duration) analysis.Event {
	return analysis.Event{Kind: analysis.EventTick, Phase: verdict.PhaseAnalysis, Elapsed: elapsed, Limit: time.Minute,
		Baseline: "blue", Candidate: "green", Checks: liveChecks()}
}

// TestLiveViewShowsLimits: on a terminal, the status block says each check's reason, its limit,
// and how far its interval is from deciding either way; advisory checks are marked.
func TestLiveViewShowsLimits(t *testing.T) {
	var out bytes.Buffer
	l := newLiveView(&out, true)
	l.event(tick(5 * time.Second))
	got := out.String()
	assert.Contains(t, got, "errors: error rate green 5.00% vs blue 1.00%")
	assert.Contains(t, got, "difference [-3.00pp, +14.00pp], limit ≤ +10.00pp — inconclusive: to pass the upper end must come 4.00pp lower, to fail the lower end 13.00pp higher")
	assert.Contains(t, got, "p95 (advisory): p95 green 300ms")
	assert.Contains(t, got, "ratio [×2.50, ×3.50], limit ≤ ×1.20 — beyond the limit: fails")
}

// TestLiveViewMarksAdvisoryInLogLines: in a log (no terminal), state changes name advisory
// checks as such.
func TestLiveViewMarksAdvisoryInLogLines(t *testing.T) {
	var out bytes.Buffer
	l := newLiveView(&out, false)
	l.event(tick(11 * time.Second))
	lines := out.String()
	assert.Contains(t, lines, "p95 (advisory): fail — p95 green 300ms")
	assert.Contains(t, lines, "errors inconclusive (40/40), p95 (advisory) fail (40/40)")
	assert.NotContains(t, lines, "errors (advisory)")
}

// TestLiveViewLeavesLastStateOnInterrupt: an interrupted run leaves the last status block on
// screen, where a finished one erases it before the verdict.
func TestLiveViewLeavesLastStateOnInterrupt(t *testing.T) {
	const erase = "\x1b[J"
	for _, tc := range []struct {
		name  string
		end   func(*liveView)
		erase bool
	}{{"finished", (*liveView).close, true}, {"interrupted", (*liveView).leave, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			l := newLiveView(&out, true)
			l.event(tick(time.Second))
			require.NotContains(t, out.String(), erase, "nothing drawn before to erase")
			tc.end(l)
			l.event(analysis.Event{Kind: analysis.EventWarning, Message: "after"})
			assert.Equal(t, tc.erase, strings.Contains(out.String(), erase))
			assert.Contains(t, out.String(), "[warning] after")
		})
	}
}

// A failed check whose interval ends just beyond its limit shows the digits that make the
// comparison visibly true, not an interval that starts at the limit.
func TestLiveViewBoundBesideTheLimit(t *testing.T) {
	checks := liveChecks()
	checks[1].Ratio = compare.Effect{Value: 1.76, Lower: 1.20031, Upper: 2.17}
	var out bytes.Buffer
	l := newLiveView(&out, true)
	e := tick(5 * time.Second)
	e.Checks = checks
	l.event(e)
	assert.Contains(t, out.String(), "ratio [×1.2003, ×2.17], limit ≤ ×1.20 — beyond the limit: fails")
}
