package analysis

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
)

// The binds below give a check that reads a source its compare check and its poll: each poll
// fetches both environments over the phase so far and replaces the check's data with what the
// source now says. They read the answers by the query's shape, never by the source's name, so
// a new source needs nothing here.

// fetchBoth fetches q for both environments and keeps the source's warnings for the outcome.
func (c *check) fetchBoth(ctx context.Context, src source.Source, q source.Query, envs [2]source.Env, w source.Window) ([2]source.Result, error) {
	var out [2]source.Result
	c.warnings = c.warnings[:0]
	for i, env := range envs {
		res, err := src.Fetch(ctx, q, env, w)
		if err != nil {
			return out, err
		}
		for _, warn := range res.Warnings {
			c.warnings = append(c.warnings, env.Name+": "+warn)
		}
		out[i] = res
	}
	return out, nil
}

// wrongShape is the error of a query whose answers a check kind cannot read.
func wrongShape(sc *specs.Check, q source.Query) error {
	return fmt.Errorf("a %s check cannot read %s", sc.Kind(), q.Shape())
}

func bindErrorRate(c *check, sc *specs.Check, cfg compare.Config, src source.Source, q source.Query) error {
	if q.Shape() != source.ShapeCounts {
		return wrongShape(sc, q)
	}
	er, err := newErrorRate(sc, cfg, false)
	if err != nil {
		return err
	}
	c.eval = er
	c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
		got, err := c.fetchBoth(ctx, src, q, envs, w)
		if err != nil {
			return err
		}
		for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
			n := got[i].Counts
			if err := er.SetCounts(side, int64(math.Round(n.Errors)), int64(math.Round(n.Total))); err != nil {
				return err
			}
		}
		c.setCandidateEvidence(got[1].Counts.Total, got[1].Counts.Total-got[1].Counts.Errors)
		return nil
	}
	return nil
}

func bindLatency(c *check, sc *specs.Check, cfg compare.Config, src source.Source, q source.Query) error {
	switch q.Shape() {
	case source.ShapeHistogram:
		return bindHistogram(c, sc, cfg, src, q)
	case source.ShapeLatencies:
	default:
		return wrongShape(sc, q)
	}
	// Raw durations (spans): the source holds the window's spans, so each poll rebuilds the
	// check from all of them.
	lc, err := newLatency(sc, cfg, false)
	if err != nil {
		return err
	}
	c.eval = lc
	c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
		got, err := c.fetchBoth(ctx, src, q, envs, w)
		if err != nil {
			return err
		}
		next, err := newLatency(sc, cfg, false)
		if err != nil {
			return err
		}
		for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
			for _, v := range got[i].Latencies {
				if err := next.Add(side, v); err != nil {
					return err
				}
			}
		}
		c.eval = next
		ok := -1.0
		if got[1].OK != nil {
			ok = *got[1].OK
		}
		c.setCandidateEvidence(float64(len(got[1].Latencies)), ok)
		return nil
	}
	return nil
}

// bindHistogram binds a latency check to cumulative bucket counts.
func bindHistogram(c *check, sc *specs.Check, cfg compare.Config, src source.Source, q source.Query) error {
	l := sc.Latency
	cfg.MinSamples = l.MinSamples
	hl, err := compare.NewHistogramLatency(cfg, l.Percentile, latencyThreshold(l))
	if err != nil {
		return err
	}
	c.eval = hl
	c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
		got, err := c.fetchBoth(ctx, src, q, envs, w)
		if err != nil {
			return err
		}
		for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
			if err := hl.SetBuckets(side, got[i].Histogram.LE, got[i].Histogram.Cumulative); err != nil {
				return err
			}
			if lo, hi, ok := hl.Resolution(side); ok && !hl.Resolvable(lo, hi) {
				c.warnings = append(c.warnings, bucketWarning(sc, envs[i].Name, lo, hi))
			}
		}
		var total float64
		if cum := got[1].Histogram.Cumulative; len(cum) > 0 {
			total = cum[len(cum)-1]
		}
		c.setCandidateEvidence(total, -1)
		return nil
	}
	return nil
}

// bucketWarning says that the buckets around a side's percentile are too coarse for the check's
// limits ever to be decided, and what would do.
func bucketWarning(sc *specs.Check, env string, lo, hi float64) string {
	l := sc.Latency
	allow := ""
	if lo > 0 {
		allow = fmt.Sprintf(": a ratio no finer than [%.2f, %.2f]", lo/hi, hi/lo)
	}
	return fmt.Sprintf("%s's p%g is in the bucket (%s, %s]%s, so %s can never be decided; query a native histogram or add buckets closer together around it",
		env, l.Percentile, seconds(lo), seconds(hi), allow, limitsOf(l))
}

func limitsOf(l *specs.LatencyCheck) string {
	var out []string
	if l.MaxRatio != nil {
		out = append(out, fmt.Sprintf("maxRatio %g", *l.MaxRatio))
	}
	if l.MaxIncrease != nil {
		out = append(out, "maxIncrease "+l.MaxIncrease.D().String())
	}
	return strings.Join(out, " and ")
}

func seconds(v float64) string { return time.Duration(v * float64(time.Second)).String() }

func bindValues(c *check, sc *specs.Check, cfg compare.Config, src source.Source, q source.Query) error {
	if q.Shape() != source.ShapeValues {
		return wrongShape(sc, q)
	}
	v := sc.Values
	cfg.MinSamples = v.MinSamples
	t, err := compare.ParseCriterion(v.Criterion)
	if err != nil {
		return err
	}
	fresh := func() (*compare.Values, error) { return compare.NewValues(cfg, t) }
	vc, err := fresh()
	if err != nil {
		return err
	}
	c.eval = vc
	c.poll = func(ctx context.Context, envs [2]source.Env, w source.Window) error {
		got, err := c.fetchBoth(ctx, src, q, envs, w)
		if err != nil {
			return err
		}
		// The series cover the whole window again: rebuild from the aligned intervals.
		next, err := fresh()
		if err != nil {
			return err
		}
		for i := 0; i < min(len(got[0].Values), len(got[1].Values)); i++ {
			if err := next.AddPair(got[0].Values[i], got[1].Values[i]); err != nil {
				return err
			}
		}
		c.eval = next
		c.setCandidateEvidence(float64(len(got[1].Values)), -1)
		return nil
	}
	return nil
}
