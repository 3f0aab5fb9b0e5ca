package analysis

import (
	"context"
	"fmt"
	"math"
	"text/template"

	"github.com/greenlight/greenlight/analysis/prometheus"
	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/specs"
)

// sourceFactories builds each metric source an analysis can declare, keyed like specs.Sources'
// fields. Adding a source is one package and one line here.
var sourceFactories = map[string]func(a *specs.Analysis) (source.Source, error){
	"prometheus": newPrometheus,
}

func newPrometheus(a *specs.Analysis) (source.Source, error) {
	p := a.Sources.Prometheus
	if p == nil {
		return nil, nil
	}
	return prometheus.New(prometheus.Config{
		URL: p.URL, BearerToken: p.Token(), Username: p.Username, Password: p.PasswordSecret(),
		Headers: p.Headers, CAFile: p.CAPath(), Insecure: p.Insecure, Timeout: p.Timeout.D(),
	})
}

// buildMetricCheck binds a check that reads Prometheus: each poll fetches both environments over
// the analysis so far and replaces the check's data with what the source now says.
func buildMetricCheck(c *check, sc *specs.Check, cfg compare.Config) error {
	parse := func(key, text string) (*template.Template, error) {
		t, err := prometheus.Parse(sc.Name+"."+key, text)
		if err != nil {
			return nil, fmt.Errorf("prometheus.%s: %w", key, err)
		}
		return t, nil
	}
	switch {
	case sc.ErrorRate != nil:
		e := sc.ErrorRate
		cfg.MinSamples = e.MinSamples
		t := compare.Threshold{MaxRatio: e.MaxRatio}
		if e.MaxIncrease != nil {
			t.MaxIncrease = compare.F(e.MaxIncrease.F())
		}
		if e.Max != nil {
			t.Max = compare.F(e.Max.F())
		}
		er, err := compare.NewErrorRate(cfg, t)
		if err != nil {
			return err
		}
		errs, err := parse("errors", e.Prometheus.Errors)
		if err != nil {
			return err
		}
		total, err := parse("total", e.Prometheus.Total)
		if err != nil {
			return err
		}
		q := prometheus.CountsQuery{Errors: errs, Total: total}
		c.eval = er
		c.poll = func(ctx context.Context, src source.Source, envs [2]source.Env, w source.Window) error {
			var got [2]*source.Counts
			for i, env := range envs {
				res, err := src.Fetch(ctx, q, env, w)
				if err != nil {
					return err
				}
				got[i] = res.Counts
			}
			for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
				if err := er.SetCounts(side, int64(math.Round(got[i].Errors)), int64(math.Round(got[i].Total))); err != nil {
					return err
				}
			}
			return nil
		}
	case sc.Latency != nil:
		l := sc.Latency
		cfg.MinSamples = l.MinSamples
		t := compare.Threshold{MaxRatio: l.MaxRatio, Direction: compare.Direction(l.Direction)}
		if l.MaxIncrease != nil {
			t.MaxIncrease = compare.F(l.MaxIncrease.D().Seconds())
		}
		if l.Max != nil {
			t.Max = compare.F(l.Max.D().Seconds())
		}
		hl, err := compare.NewHistogramLatency(cfg, l.Percentile, t)
		if err != nil {
			return err
		}
		b, err := parse("buckets", l.Prometheus.Buckets)
		if err != nil {
			return err
		}
		q := prometheus.HistogramQuery{Buckets: b}
		c.eval = hl
		c.poll = func(ctx context.Context, src source.Source, envs [2]source.Env, w source.Window) error {
			var got [2]*source.Histogram
			for i, env := range envs {
				res, err := src.Fetch(ctx, q, env, w)
				if err != nil {
					return err
				}
				got[i] = res.Histogram
			}
			for i, side := range []compare.Side{compare.Baseline, compare.Candidate} {
				if err := hl.SetBuckets(side, got[i].LE, got[i].Cumulative); err != nil {
					return err
				}
			}
			return nil
		}
	case sc.Values != nil:
		v := sc.Values
		cfg.MinSamples = v.MinSamples
		t, err := compare.ParseCriterion(v.Criterion)
		if err != nil {
			return err
		}
		newValues := func() (*compare.Values, error) { return compare.NewValues(cfg, t) }
		vc, err := newValues()
		if err != nil {
			return err
		}
		qt, err := parse("query", v.Prometheus.Query)
		if err != nil {
			return err
		}
		q := prometheus.ValuesQuery{Query: qt, Step: v.Prometheus.Step.D()}
		c.eval = vc
		c.poll = func(ctx context.Context, src source.Source, envs [2]source.Env, w source.Window) error {
			var got [2][]float64
			for i, env := range envs {
				res, err := src.Fetch(ctx, q, env, w)
				if err != nil {
					return err
				}
				got[i] = res.Values
			}
			// The series cover the whole window again: rebuild from the aligned intervals.
			fresh, err := newValues()
			if err != nil {
				return err
			}
			for i := 0; i < min(len(got[0]), len(got[1])); i++ {
				if err := fresh.AddPair(got[0][i], got[1][i]); err != nil {
					return err
				}
			}
			c.eval = fresh
			return nil
		}
	default:
		return fmt.Errorf("check kind %q cannot read Prometheus", sc.Kind())
	}
	return nil
}
