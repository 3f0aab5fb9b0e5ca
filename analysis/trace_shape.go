package analysis

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/analysis/traces"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
)

// traceShape judges the structure of the candidate's traces against the baseline's. Its findings
// are heuristics, not a sequential test, so a finding must persist over several evaluations to
// fail the check, and the check is advisory unless the spec makes it critical.
type traceShape struct {
	name    string
	persist int
	streak  int
	last    compare.Outcome
}

func (t *traceShape) Evaluate() compare.Outcome { return t.last }

// shaper is a source that can compare the structure of two environments' traces.
type shaper interface {
	Shape(baseline, candidate string, w source.Window) traces.ShapeReport
}

func bindTraceShape(c *check, sc *specs.Check, cfg compare.Config, src source.Source, _ source.Query) error {
	rcv, ok := src.(shaper)
	if !ok {
		return fmt.Errorf("a traceShape check reads received traces, not %T", src)
	}
	persist := sc.TraceShape.Persist
	if persist == 0 {
		persist = 3
	}
	ts := &traceShape{name: sc.Name, persist: persist}
	nan := math.NaN()
	ts.last = compare.Outcome{Check: sc.Name, Kind: "trace-shape", Metric: "trace shape", State: compare.Inconclusive,
		Baseline: compare.Estimate{Value: nan, Lower: nan, Upper: nan}, Candidate: compare.Estimate{Value: nan, Lower: nan, Upper: nan},
		Ratio: compare.Effect{Value: nan, Lower: nan, Upper: nan}, Diff: compare.Effect{Value: nan, Lower: nan, Upper: nan},
		Alpha: cfg.Alpha, Reason: "trace shape: waiting for traces"}
	factor := sc.TraceShape.MaxAmplification
	c.eval = ts
	c.poll = func(_ context.Context, envs [2]source.Env, w source.Window) error {
		rep := rcv.Shape(envs[0].Name, envs[1].Name, w)
		o := ts.last
		o.Baseline.N, o.Candidate.N = int64(rep.Baseline.Traces), int64(rep.Candidate.Traces)
		var findings []string
		for _, f := range rep.NewOperations {
			findings = append(findings, f.Reason)
		}
		for _, f := range rep.Amplified {
			if factor == 0 || f.Baseline == 0 || f.Candidate/f.Baseline > factor {
				findings = append(findings, f.Reason)
			}
		}
		for _, f := range rep.NewErrors {
			findings = append(findings, f.Reason)
		}
		switch {
		case rep.Insufficient != "":
			ts.streak = 0
			o.State, o.Reason = compare.Inconclusive, "trace shape: "+rep.Insufficient
		case len(findings) == 0:
			ts.streak = 0
			o.State = compare.Pass
			o.Reason = fmt.Sprintf("trace shape: %s looks like %s (%d vs %d traces)", envs[1].Name, envs[0].Name, rep.Candidate.Traces, rep.Baseline.Traces)
		default:
			ts.streak++
			o.State = compare.Inconclusive
			if ts.streak >= ts.persist {
				o.State = compare.Fail
			}
			o.Reason = fmt.Sprintf("trace shape (seen %d of %d times needed): %s", min(ts.streak, ts.persist), ts.persist, strings.Join(findings, "; "))
		}
		ts.last = o
		return nil
	}
	return nil
}
