package server

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/verdict"
)

// grafanaDashboard is the part of deploy/grafana/greenlight.json the test reads.
type grafanaDashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Inputs []struct {
		Name string `json:"name"`
	} `json:"__inputs"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promMatchers  = regexp.MustCompile(`\{[^{}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\[\]]*\]`)
	promLabelList = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promToken     = regexp.MustCompile(`[0-9][0-9A-Za-z_.]*|[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	labelValues   = regexp.MustCompile(`^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$`)
	promKeywords  = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true}
)

// metricNames extracts the metric names a PromQL expression reads: what is left once strings,
// label matchers, ranges, label lists, functions, keywords and numbers are taken out.
// (github.com/prometheus/prometheus's parser is not a dependency of this module.)
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promLabelList.ReplaceAllString(s, " ")
	seen := map[string]bool{}
	var out []string
	for _, m := range promToken.FindAllStringSubmatch(s, -1) {
		tok := m[0]
		if m[1] != "" || tok[0] >= '0' && tok[0] <= '9' || promKeywords[strings.ToLower(tok)] || seen[tok] {
			continue // a function call, a number, a keyword
		}
		seen[tok] = true
		out = append(out, tok)
	}
	sort.Strings(out)
	return out
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`greenlight_analyses`, []string{"greenlight_analyses"}},
		{`sum by (state) (greenlight_analyses{state="running"})`, []string{"greenlight_analyses"}},
		{`histogram_quantile(0.95, sum by (le) (rate(greenlight_decision_seconds_bucket{spec=~"$spec"}[$__rate_interval])))`, []string{"greenlight_decision_seconds_bucket"}},
		{`a_total{x="y"} / on (analysis, check) group_left b_total{side="max"} > bool 1e3`, []string{"a_total", "b_total"}},
		{`sum(increase(x_total{phase=~"smoke|analysis"}[$__range])) / clamp_min(sum(y_total) + 1, 1)`, []string{"x_total", "y_total"}},
		{`c == 1 and d offset 5m`, []string{"c", "d"}},
	} {
		assert.Equal(t, tc.want, metricNames(tc.expr), tc.expr)
	}
}

// exportedNames runs analyses that reach every state the metrics show (rolled back, waiting on
// a person and overridden, running) and returns the names of the series /metrics exports.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	blue, green := serveApps(t, app.Config{}, app.Config{})
	_, failing := serveApps(t, app.Config{}, failingGreen)
	d, reg := boardDaemon(t, daemonConfig{})
	rolled := d.start("", on("checkout", blue, failing))
	held := d.start("", on("hold", blue, green))
	long := d.start("", on("long", blue, green))
	require.Equal(t, "rollback", d.waitVerdict("", rolled.ID).Verdict)
	require.Equal(t, "inconclusive", d.waitVerdict("", held.ID).Verdict)
	d.callJSON("POST", "/api/v1/analyses/"+held.ID+"/override", "", overrideRequest{Decision: verdict.Promote, Why: "checked by hand"}, http.StatusOK, nil)
	events := d.events("/api/v1/analyses/"+long.ID+"/events", "", "")
	for e := events.next(t); e.Event != "tick"; e = events.next(t) {
	}
	// No endpoint is configured here: count one attempt as the dispatcher does, so that the
	// family is exported.
	d.srv.metrics.attempt("deploys", "delivered")

	fams, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+suffix] = true
			}
		case dto.MetricType_SUMMARY:
			names[f.GetName()+"_sum"], names[f.GetName()+"_count"] = true, true
		}
	}
	return names
}

// TestGrafanaDashboard: deploy/grafana/greenlight.json parses as a dashboard to import (its
// data source an input, every panel placed and queried), and every metric its queries and
// variables read is one the daemon exports, collected from a daemon that ran analyses.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile("../deploy/grafana/greenlight.json")
	require.NoError(t, err)
	var dash grafanaDashboard
	require.NoError(t, json.Unmarshal(data, &dash))
	assert.NotEmpty(t, dash.Title)
	assert.NotEmpty(t, dash.UID)
	require.Len(t, dash.Inputs, 1)
	assert.Equal(t, "DS_PROMETHEUS", dash.Inputs[0].Name, "the data source is chosen at import")

	exported := exportedNames(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Title)
		assert.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "%s fits the grid", p.Title)
		assert.Positive(t, p.GridPos.W, p.Title)
		if p.Type == "row" {
			continue
		}
		require.NotNil(t, p.Datasource, p.Title)
		assert.Equal(t, "${DS_PROMETHEUS}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, target := range p.Targets {
			names := metricNames(target.Expr)
			assert.NotEmpty(t, names, "%s: %s reads no metric", p.Title, target.Expr)
			for _, n := range names {
				used[n] = true
				assert.True(t, exported[n], "%s: %s reads %s, which greenlight does not export", p.Title, target.Expr, n)
			}
		}
	}
	for _, v := range dash.Templating.List {
		m := labelValues.FindStringSubmatch(v.Definition)
		require.NotNil(t, m, "variable %s: %s", v.Name, v.Definition)
		used[m[1]] = true
		assert.True(t, exported[m[1]], "variable %s reads %s", v.Name, m[1])
	}
	// What the board is for: change-failure rate, regressions stopped, time to decision,
	// analyses by state, checks and deliveries.
	for _, n := range []string{"greenlight_rollbacks_total", "greenlight_verdicts_total", "greenlight_decision_seconds_bucket",
		"greenlight_analyses", "greenlight_check_state", "greenlight_check_effect", "greenlight_check_limit", "greenlight_delivery_attempts_total"} {
		assert.True(t, used[n], "the dashboard shows %s", n)
	}
}
