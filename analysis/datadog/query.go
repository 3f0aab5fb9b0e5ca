package datadog

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/greenlight/greenlight/analysis/source"
)

// MetricQuery is one v1 metrics query whose points, null ones skipped, are the values of a value
// check. It must return a single series: aggregate with `sum:`, `avg:`, `max:`… rather than
// grouping `by {…}`.
type MetricQuery struct {
	Query string // the template text, for reports
	tmpl  *template.Template
}

// CountsQuery is two v1 metrics queries, each summed over its points: the errors and the total
// of an error-rate check. Count metrics want `.as_count()`; a count that can have no points at
// all (no errors in the window) wants `default_zero(…)`, since no data is an error here.
type CountsQuery struct {
	Errors, Total string // the template texts, for reports
	errors, total *template.Template
}

// FormulaQuery is a v2 timeseries query: named metrics queries combined by one formula, e.g.
// queries {"errors": "sum:trace.http.request.errors{…}.as_count()", "hits": "…"} and formula
// "100 * errors / hits". The formula's points are the values of a value check.
type FormulaQuery struct {
	Queries map[string]string // name → template text
	Formula string
	names   []string // sorted, for a stable request body
	tmpls   map[string]*template.Template
}

func (*MetricQuery) Shape() source.Shape  { return source.ShapeValues }
func (*CountsQuery) Shape() source.Shape  { return source.ShapeCounts }
func (*FormulaQuery) Shape() source.Shape { return source.ShapeValues }

// NewMetricQuery compiles a v1 query template.
func NewMetricQuery(query string) (*MetricQuery, error) {
	t, err := parse("query", query)
	if err != nil {
		return nil, err
	}
	return &MetricQuery{Query: query, tmpl: t}, nil
}

// NewCountsQuery compiles the errors and total query templates of an error-rate check.
func NewCountsQuery(errorsQuery, totalQuery string) (*CountsQuery, error) {
	e, err := parse("errors", errorsQuery)
	if err != nil {
		return nil, err
	}
	t, err := parse("total", totalQuery)
	if err != nil {
		return nil, err
	}
	return &CountsQuery{Errors: errorsQuery, Total: totalQuery, errors: e, total: t}, nil
}

// queryName is what Datadog accepts as a query's name in a formula.
var queryName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// NewFormulaQuery compiles the named query templates of a v2 formula query.
func NewFormulaQuery(queries map[string]string, formula string) (*FormulaQuery, error) {
	if len(queries) == 0 {
		return nil, errors.New("a formula query needs at least one named query")
	}
	if strings.TrimSpace(formula) == "" {
		return nil, errors.New("a formula query needs a formula, e.g. \"100 * errors / hits\"")
	}
	q := &FormulaQuery{Queries: queries, Formula: formula, tmpls: make(map[string]*template.Template, len(queries))}
	for name, text := range queries {
		if !queryName.MatchString(name) {
			return nil, fmt.Errorf("query name %q: want a letter then letters, digits or _", name)
		}
		t, err := parse(name, text)
		if err != nil {
			return nil, err
		}
		q.names = append(q.names, name)
		q.tmpls[name] = t
	}
	sort.Strings(q.names)
	return q, nil
}

// parse compiles a query template. A missing label is an error rather than "<no value>", which
// would silently query something else.
func parse(name, text string) (*template.Template, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%s query is empty", name)
	}
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s query template: %w", name, err)
	}
	return t, nil
}

// templateData is what a query template sees:
//
//	.env.name  .env.role  .env.labels.KEY   the environment queried
//	.window         the window as a duration, e.g. 5m or 1h2m3s
//	.windowSeconds  the window in whole seconds (at least 1), e.g. for .rollup(sum, N)
func templateData(env source.Env, w source.Window) map[string]any {
	labels := env.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	secs := windowSeconds(w)
	return map[string]any{
		"env":           map[string]any{"name": env.Name, "role": env.Role, "labels": labels},
		"window":        formatDuration(secs),
		"windowSeconds": secs,
	}
}

func render(t *template.Template, data map[string]any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// windowSeconds rounds the window up: a rollup shorter than the window would drop points.
func windowSeconds(w source.Window) int64 {
	return max(int64(math.Ceil(w.Duration().Seconds())), 1)
}

// formatDuration writes whole seconds the short way: 5m, 1h30m, 25h (no days: a day is not a
// unit every consumer of the text agrees on).
func formatDuration(secs int64) string {
	var b strings.Builder
	for _, u := range []struct {
		s    int64
		unit string
	}{{3600, "h"}, {60, "m"}, {1, "s"}} {
		if n := secs / u.s; n > 0 {
			b.WriteString(strconv.FormatInt(n, 10) + u.unit)
			secs -= n * u.s
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

// checkWindow refuses an empty or reversed window rather than ask Datadog a question with no
// answer.
func checkWindow(w source.Window) error {
	if w.Start.IsZero() || w.End.IsZero() || !w.End.After(w.Start) {
		return fmt.Errorf("window %s–%s is empty", w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
	}
	return nil
}
