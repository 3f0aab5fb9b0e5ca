package analysis

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/specs"
)

func histogramAnalysis(t *testing.T, url, query, limit string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: hist}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "` + url + `", interval: 50ms, timeout: 1s}
checks:
  - name: server-p95
    latency:
      percentile: 95
      prometheus: {buckets: '` + query + `'}
      ` + limit + `
policy: {minDuration: 100ms, maxDuration: 1s, onInconclusive: hold, evidence: {minSuccesses: 0}}
`
	docs, err := specs.Parse("h.yaml", []byte(src), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return docs.Analyses[0]
}

const (
	classicQuery = `sum by (le) (increase(http_request_duration_seconds_bucket{color="{{ .env.name }}"}[{{ .window }}]))`
	nativeQuery  = `sum(increase(http_request_duration_seconds{color="{{ .env.name }}"}[{{ .window }}]))`
)

// Classic buckets with a limit finer than they usually resolve are flagged from the spec alone,
// with the check's position; a native histogram or a coarse enough limit is not.
func TestHistogramWarnings(t *testing.T) {
	w := HistogramWarnings(histogramAnalysis(t, "http://127.0.0.1:1", classicQuery, "maxRatio: 1.2"))
	require.Len(t, w, 1)
	assert.True(t, strings.HasPrefix(w[0], `h.yaml:10:5: check "server-p95" bounds its p95 by the edges of classic le buckets: to decide maxRatio 1.2`), w[0])
	assert.Contains(t, w[0], "allow a ratio no finer than [0.4, 2.5]")
	assert.Contains(t, w[0], "query a native histogram")
	assert.Len(t, HistogramWarnings(histogramAnalysis(t, "http://127.0.0.1:1", classicQuery, "maxIncrease: 20ms")), 1)
	assert.Empty(t, HistogramWarnings(histogramAnalysis(t, "http://127.0.0.1:1", nativeQuery, "maxRatio: 1.2")))
	assert.Empty(t, HistogramWarnings(histogramAnalysis(t, "http://127.0.0.1:1", classicQuery, "maxRatio: 3")))
}

// With the customary buckets, each poll says on the outcome which bucket holds each side's
// p95 and what ratio it allows, and the run warns before it starts.
func TestBucketWarningOnOutcome(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var samples []string
		for _, b := range [][2]string{{"0.05", "100"}, {"0.1", "500"}, {"0.25", "960"}, {"0.5", "995"}, {"+Inf", "1000"}} {
			samples = append(samples, `{"metric":{"le":"`+b[0]+`"},"value":[1700000000,"`+b[1]+`"]}`)
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`))
	}))
	defer srv.Close()
	var warned []string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := Run(ctx, Options{Analysis: histogramAnalysis(t, srv.URL, classicQuery, "maxRatio: 1.2"), Tick: 50 * time.Millisecond,
		OnEvent: func(e Event) {
			if e.Kind == EventWarning {
				warned = append(warned, e.Message)
			}
		}})
	require.NoError(t, err)
	require.Len(t, warned, 1)
	assert.Contains(t, warned[0], "classic le buckets")
	require.Len(t, v.Checks, 1)
	assert.Contains(t, v.Checks[0].Warnings, "blue's p95 is in the bucket (100ms, 250ms]: a ratio no finer than [0.40, 2.50], so maxRatio 1.2 can never be decided; query a native histogram or add buckets closer together around it")
}
