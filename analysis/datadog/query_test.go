package datadog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis/source"
)

func TestTemplates(t *testing.T) {
	blue := source.Env{Name: "blue", Role: "baseline", Labels: map[string]string{"service": "checkout", "kube_deployment": "checkout-blue"}}
	tests := []struct {
		name, text string
		env        source.Env
		w          source.Window
		want       string
		err        string
	}{
		{name: "env name", text: "sum:hits{color:{{ .env.name }}}", env: green, w: window, want: "sum:hits{color:green}"},
		{name: "env role", text: "sum:hits{role:{{ .env.role }}}", env: blue, w: window, want: "sum:hits{role:baseline}"},
		{name: "env labels", text: "sum:hits{service:{{ .env.labels.service }},kube_deployment:{{ .env.labels.kube_deployment }}}", env: blue, w: window, want: "sum:hits{service:checkout,kube_deployment:checkout-blue}"},
		{name: "window", text: "{{ .window }}", env: green, w: window, want: "5m"},
		{name: "window seconds as rollup", text: "sum:hits{*}.rollup(sum, {{ .windowSeconds }})", env: green, w: window, want: "sum:hits{*}.rollup(sum, 300)"},
		{name: "window of hours", text: "{{ .window }} {{ .windowSeconds }}", env: green, w: source.Window{Start: t0, End: t0.Add(90*time.Minute + 7*time.Second)}, want: "1h30m7s 5407"},
		{name: "sub-second window rounds up", text: "{{ .window }} {{ .windowSeconds }}", env: green, w: source.Window{Start: t0, End: t0.Add(300 * time.Millisecond)}, want: "1s 1"},
		{name: "no labels", text: "{{ .env.labels.service }}", env: source.Env{Name: "green"}, w: window, err: `map has no entry for key "service"`},
		{name: "unknown field", text: "{{ .environment }}", env: green, w: window, err: `map has no entry for key "environment"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := NewMetricQuery(tt.text)
			require.NoError(t, err)
			got, err := render(q.tmpl, templateData(tt.env, tt.w))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFormatDuration(t *testing.T) {
	for secs, want := range map[int64]string{0: "0s", 1: "1s", 59: "59s", 60: "1m", 317: "5m17s", 3600: "1h", 3660: "1h1m", 90000: "25h"} {
		assert.Equal(t, want, formatDuration(secs), "%d s", secs)
	}
}

func TestNewQueryRefused(t *testing.T) {
	tests := []struct {
		name string
		new  func() error
		want string
	}{
		{name: "empty metric query", new: func() error { _, err := NewMetricQuery(" "); return err }, want: "query query is empty"},
		{name: "unclosed action", new: func() error { _, err := NewMetricQuery("sum:m{color:{{ .env.name }"); return err }, want: "query query template: template: query:1: unexpected \"}\" in operand"},
		{name: "bad errors template", new: func() error { _, err := NewCountsQuery("sum:e{ {{ end }} }", "sum:t{*}"); return err }, want: "errors query template: template: errors:1: unexpected {{end}}"},
		{name: "empty total", new: func() error { _, err := NewCountsQuery("sum:e{*}", ""); return err }, want: "total query is empty"},
		{name: "no named queries", new: func() error { _, err := NewFormulaQuery(nil, "a"); return err }, want: "a formula query needs at least one named query"},
		{name: "no formula", new: func() error { _, err := NewFormulaQuery(map[string]string{"a": "sum:m{*}"}, ""); return err }, want: `a formula query needs a formula, e.g. "100 * errors / hits"`},
		{name: "bad query name", new: func() error { _, err := NewFormulaQuery(map[string]string{"error-rate": "sum:m{*}"}, "a"); return err }, want: `query name "error-rate": want a letter then letters, digits or _`},
		{name: "bad formula query template", new: func() error { _, err := NewFormulaQuery(map[string]string{"a": "{{ .env.name "}, "a"); return err }, want: "a query template: template: a:1: unclosed action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.EqualError(t, tt.new(), tt.want)
		})
	}
}

func TestShapes(t *testing.T) {
	m, _ := NewMetricQuery("sum:m{*}")
	c, _ := NewCountsQuery("sum:e{*}", "sum:t{*}")
	f, _ := NewFormulaQuery(map[string]string{"a": "sum:m{*}"}, "a")
	assert.Equal(t, source.ShapeValues, m.Shape())
	assert.Equal(t, source.ShapeCounts, c.Shape())
	assert.Equal(t, source.ShapeValues, f.Shape())
}
