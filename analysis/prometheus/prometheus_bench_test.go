package prometheus

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"text/template"

	"github.com/greenlight/greenlight/analysis/source"
)

// The Prometheus source's overhead per query over the raw HTTP call it makes: compare
// BenchmarkFetchHistogram (template, request, decode, validation, bucket parsing) with
// BenchmarkRawQuery (the same GET, body read, nothing else) against the same loopback server.
var bucketsBody = []byte(vector(
	sample(`"le":"0.005"`, "10"), sample(`"le":"0.01"`, "30"), sample(`"le":"0.025"`, "70"), sample(`"le":"0.05"`, "90"),
	sample(`"le":"0.1"`, "97"), sample(`"le":"0.25"`, "99"), sample(`"le":"0.5"`, "100"), sample(`"le":"+Inf"`, "100")))

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bucketsBody)
	}))
	b.Cleanup(srv.Close)
	return srv
}

const benchQuery = `sum by (le) (increase(http_request_duration_seconds_bucket{color="{{ .env.name }}"}[{{ .window }}]))`

func BenchmarkRawQuery(b *testing.B) {
	srv := benchServer(b)
	client := &http.Client{}
	q := url.Values{"query": {`sum by (le) (increase(http_request_duration_seconds_bucket{color="green"}[300s]))`}, "time": {"1700000000"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.PostForm(srv.URL+"/api/v1/query", q)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkFetchHistogram(b *testing.B) {
	srv := benchServer(b)
	s, err := New(Config{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	t := template.Must(Parse("q", benchQuery))
	q := HistogramQuery{Buckets: t}
	env := source.Env{Name: "green"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Fetch(context.Background(), q, env, window); err != nil {
			b.Fatal(err)
		}
	}
}
