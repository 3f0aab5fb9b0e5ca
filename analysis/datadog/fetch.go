package datadog

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"text/template"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"

	"github.com/greenlight/greenlight/analysis/source"
)

var _ source.Source = (*Source)(nil)

// Fetch runs q (a *MetricQuery, *CountsQuery or *FormulaQuery) for env over w. Every failure is
// a *source.Error; one that holds nothing usable wraps source.ErrNoData.
func (s *Source) Fetch(ctx context.Context, q source.Query, env source.Env, w source.Window) (source.Result, error) {
	fail := func(fe *fetchError) (source.Result, error) {
		return source.Result{}, &source.Error{Source: "datadog", URL: source.PublicURL(s.baseURL), Env: env.Name, Reason: s.redact.Redact(fe.reason), Retryable: fe.retryable, Err: fe.err}
	}
	if err := checkWindow(w); err != nil {
		return fail(&fetchError{reason: err.Error()})
	}
	data := templateData(env, w)
	switch q := q.(type) {
	case *MetricQuery:
		vals, fe := s.series(ctx, q.tmpl, data, env, w)
		if fe != nil {
			return fail(fe)
		}
		return source.Result{Values: vals}, nil
	case *CountsQuery:
		errs, fe := s.sum(ctx, q.errors, data, env, w)
		if fe != nil {
			if fe.noSeries {
				fe.reason += " (if no errors is normal, wrap the query in default_zero(…))"
			}
			fe.reason = "errors " + fe.reason
			return fail(fe)
		}
		total, fe := s.sum(ctx, q.total, data, env, w)
		if fe != nil {
			fe.reason = "total " + fe.reason
			return fail(fe)
		}
		if errs < 0 || errs > total {
			return fail(&fetchError{reason: fmt.Sprintf("errors (%g) not between 0 and total (%g): do both queries count the same requests?", errs, total)})
		}
		return source.Result{Counts: &source.Counts{Errors: errs, Total: total}}, nil
	case *FormulaQuery:
		vals, warnings, fe := s.formula(ctx, q, data, env, w)
		if fe != nil {
			return fail(fe)
		}
		return source.Result{Values: vals, Warnings: warnings}, nil
	}
	return fail(&fetchError{reason: fmt.Sprintf("unsupported query %T", q)})
}

// grace is how long into an analysis a query with no series is still no data rather than a
// source error: the candidate's metrics may only appear with the analysis's own traffic. After
// it, no series means a typo in the metric or a tag (or no traffic at all), which will not fix
// itself: it counts toward policy.consecutiveErrors.
const grace = time.Minute

// noSeries is the error for a query that returned no series over w.
func noSeries(what string, w source.Window) *fetchError {
	fe := &fetchError{reason: what + ": no series in the window (a typo in the metric or a tag?)", noSeries: true}
	if w.Duration() < grace {
		fe.err = source.ErrNoData
	}
	return fe
}

// series runs a v1 query that must return one series and returns its non-null points.
func (s *Source) series(ctx context.Context, t *template.Template, data map[string]any, env source.Env, w source.Window) ([]float64, *fetchError) {
	query, err := render(t, data)
	if err != nil {
		return nil, &fetchError{reason: fmt.Sprintf("query template: %v", err)}
	}
	from, to := w.Start.Unix(), w.End.Unix()
	s.log.Debug("datadog query", "env", env.Name, "query", query, "from", from, "to", to)
	var resp datadogV1.MetricsQueryResponse
	if fe := s.call(ctx, env, func(ctx context.Context) (*http.Response, error) {
		var hr *http.Response
		var err error
		resp, hr, err = s.v1.QueryMetrics(ctx, from, to, query)
		return hr, err
	}); fe != nil {
		fe.reason = fmt.Sprintf("query %q: %s", query, fe.reason)
		return nil, fe
	}
	fail := func(format string, args ...any) ([]float64, *fetchError) {
		return nil, &fetchError{reason: fmt.Sprintf("query %q: ", query) + fmt.Sprintf(format, args...)}
	}
	switch {
	case resp.UnparsedObject != nil:
		return fail("cannot decode Datadog's response")
	case resp.Status != nil && *resp.Status != "ok":
		return fail("Datadog says %s: %s", *resp.Status, truncate(resp.GetError(), 300))
	case len(resp.Series) == 0:
		return nil, noSeries(fmt.Sprintf("query %q", query), w)
	case len(resp.Series) > 1:
		names := make([]string, len(resp.Series))
		for i, ser := range resp.Series {
			names[i] = seriesName(ser)
		}
		return fail("%d series, want one: aggregate them (sum:…, avg:…) rather than group by tags (got %s)", len(names), list(names))
	case resp.Series[0].UnparsedObject != nil:
		return fail("cannot decode Datadog's series")
	}
	ts := make([]int64, len(resp.Series[0].Pointlist))
	vs := make([]*float64, len(resp.Series[0].Pointlist))
	for i, p := range resp.Series[0].Pointlist {
		if len(p) != 2 || p[0] == nil {
			return fail("point %d is not [timestamp, value]", i)
		}
		ts[i], vs[i] = int64(*p[0]), p[1]
	}
	vals, fe := points(ts, vs)
	if fe != nil {
		fe.reason = fmt.Sprintf("query %q: %s", query, fe.reason)
	}
	return vals, fe
}

// sum is the total of a v1 query's points.
func (s *Source) sum(ctx context.Context, t *template.Template, data map[string]any, env source.Env, w source.Window) (float64, *fetchError) {
	vals, fe := s.series(ctx, t, data, env, w)
	if fe != nil {
		return 0, fe
	}
	var total float64
	for _, v := range vals {
		total += v
	}
	return total, nil
}

// formula runs a v2 timeseries query with one formula, which must return one series.
func (s *Source) formula(ctx context.Context, q *FormulaQuery, data map[string]any, env source.Env, w source.Window) ([]float64, []string, *fetchError) {
	queries := make([]datadogV2.TimeseriesQuery, 0, len(q.names))
	rendered := make([]string, 0, len(q.names))
	for _, name := range q.names {
		text, err := render(q.tmpls[name], data)
		if err != nil {
			return nil, nil, &fetchError{reason: fmt.Sprintf("query template: %v", err)}
		}
		mq := datadogV2.NewMetricsTimeseriesQuery(datadogV2.METRICSDATASOURCE_METRICS, text)
		mq.SetName(name)
		queries = append(queries, datadogV2.MetricsTimeseriesQueryAsTimeseriesQuery(mq))
		rendered = append(rendered, name+"="+text)
	}
	attrs := datadogV2.NewTimeseriesFormulaRequestAttributes(w.Start.UnixMilli(), queries, w.End.UnixMilli())
	attrs.SetFormulas([]datadogV2.QueryFormula{*datadogV2.NewQueryFormula(q.Formula)})
	if w.Step > 0 {
		attrs.SetInterval(w.Step.Milliseconds())
	}
	body := datadogV2.NewTimeseriesFormulaQueryRequest(*datadogV2.NewTimeseriesFormulaRequest(*attrs, datadogV2.TIMESERIESFORMULAREQUESTTYPE_TIMESERIES_REQUEST))
	s.log.Debug("datadog formula query", "env", env.Name, "formula", q.Formula, "queries", rendered, "from", attrs.From, "to", attrs.To)

	what := fmt.Sprintf("formula %q", q.Formula)
	var resp datadogV2.TimeseriesFormulaQueryResponse
	if fe := s.call(ctx, env, func(ctx context.Context) (*http.Response, error) {
		var hr *http.Response
		var err error
		resp, hr, err = s.v2.QueryTimeseriesData(ctx, *body)
		return hr, err
	}); fe != nil {
		fe.reason = what + ": " + fe.reason
		return nil, nil, fe
	}
	fail := func(format string, args ...any) ([]float64, []string, *fetchError) {
		return nil, nil, &fetchError{reason: what + ": " + fmt.Sprintf(format, args...)}
	}
	var warnings []string
	if msg := truncate(s.redact.Redact(resp.GetErrors()), 300); msg != "" {
		warnings = append(warnings, "Datadog: "+msg)
	}
	attr := resp.GetData().Attributes
	switch {
	case resp.UnparsedObject != nil || (resp.Data != nil && resp.Data.UnparsedObject != nil) || (attr != nil && attr.UnparsedObject != nil):
		return fail("cannot decode Datadog's response")
	case attr == nil || len(attr.Values) == 0:
		if len(warnings) > 0 {
			return fail("Datadog says %s", strings.TrimPrefix(warnings[0], "Datadog: "))
		}
		return nil, nil, noSeries(what, w)
	case len(attr.Values) > 1:
		names := make([]string, len(attr.Values))
		for i := range names {
			names[i] = fmt.Sprintf("series %d", i)
			if i < len(attr.Series) && len(attr.Series[i].GroupTags) > 0 {
				names[i] = "{" + strings.Join(attr.Series[i].GroupTags, ",") + "}"
			}
		}
		return fail("%d series, want one: aggregate the queries rather than group by tags (got %s)", len(names), list(names))
	case len(attr.Values[0]) != len(attr.Times):
		return fail("%d values for %d times", len(attr.Values[0]), len(attr.Times))
	}
	vals, fe := points(attr.Times, attr.Values[0])
	if fe != nil {
		fe.reason = what + ": " + fe.reason
		return nil, nil, fe
	}
	return vals, warnings, nil
}

// points drops null points (Datadog's "no data in this interval", not zero) and refuses NaN
// and infinities, which no check can judge.
func points(times []int64, values []*float64) ([]float64, *fetchError) {
	out := make([]float64, 0, len(values))
	for i, v := range values {
		if v == nil {
			continue
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			return nil, &fetchError{reason: fmt.Sprintf("value at %s is %v", time.UnixMilli(times[i]).UTC().Format(time.RFC3339), *v)}
		}
		out = append(out, *v)
	}
	if len(out) == 0 {
		return nil, &fetchError{reason: fmt.Sprintf("all %d points are null", len(values)), err: source.ErrNoData}
	}
	return out, nil
}

func seriesName(s datadogV1.MetricsQueryMetadata) string {
	switch {
	case s.GetExpression() != "":
		return s.GetExpression()
	case s.GetScope() != "":
		return s.GetMetric() + "{" + s.GetScope() + "}"
	case len(s.TagSet) > 0:
		return s.GetMetric() + "{" + strings.Join(s.TagSet, ",") + "}"
	}
	return s.GetMetric()
}

// list joins names, keeping a reason readable when a query fans out to hundreds of series.
func list(names []string) string {
	const show = 5
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:show], ", ") + fmt.Sprintf(" and %d more", len(names)-show)
}
