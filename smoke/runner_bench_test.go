package smoke_test

// These benchmarks measure what the runner adds to an HTTP round trip on loopback: template
// rendering, labelling, condition evaluation, captures and result bookkeeping.
//
//	go test -run '^$' -bench . -benchtime 2000x -count 3 ./smoke/
//
// Per-step overhead = BenchmarkStep ns/op − BenchmarkRawRoundTrip ns/op (both one GET of the
// same handler over a keep-alive connection). BenchmarkStep also carries the per-run cost (trace
// id, suite context, result); BenchmarkStep50 spreads that over 50 steps, so its ns/step minus
// BenchmarkRawRoundTrip is the steady per-step overhead inside a suite.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/greenlight/greenlight/smoke"
)

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	okBody := []byte(`{"ok":true,"n":1}`)
	mux := http.NewServeMux()
	mux.HandleFunc("/bench", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(okBody)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token":"tok-123"}`))
	})
	mux.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"orderId":"ord-1"}`))
	})
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv
}

func BenchmarkRawRoundTrip(b *testing.B) {
	srv := benchServer(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	url := srv.URL + "/bench"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d, err %v", resp.StatusCode, err)
		}
	}
}

func BenchmarkStep(b *testing.B) {
	srv := benchServer(b)
	suite := parseSuite(b, `
vars: {token: tok-123}
steps:
  - name: get
    http:
      url: /bench
      headers: {Authorization: "Bearer {{ .vars.token }}"}
    expect: [status == 200, json.ok == true]
`)
	benchSuite(b, suite.Steps, func(runner *smoke.Runner) *smoke.SuiteResult {
		return runner.Run(b.Context(), suite, "green", green(srv.URL))
	})
}

func BenchmarkStep50(b *testing.B) {
	srv := benchServer(b)
	var y strings.Builder
	y.WriteString(`
steps:
  - name: login
    http: {method: POST, url: /login, json: {username: u, password: p}}
    expect: [status == 200]
    capture: {token: json.token}
`)
	for i := 1; i <= 48; i++ {
		fmt.Fprintf(&y, `  - name: get-%02d
    http: {url: /bench, headers: {Authorization: "Bearer {{ .token }}"}}
    expect: [status == 200, json.ok == true]
`, i)
	}
	y.WriteString(`  - name: order
    http:
      method: POST
      url: /orders
      headers: {Authorization: "Bearer {{ .token }}"}
      json: {item: test, quantity: 1}
    expect: [status == 201, json.orderId startsWith "ord-"]
`)
	suite := parseSuite(b, y.String())
	if len(suite.Steps) != 50 {
		b.Fatalf("%d steps, want 50", len(suite.Steps))
	}
	benchSuite(b, suite.Steps, func(runner *smoke.Runner) *smoke.SuiteResult {
		return runner.Run(b.Context(), suite, "green", green(srv.URL))
	})
}

// benchSuite runs the suite b.N times on one runner and reports ns/step.
func benchSuite[S any](b *testing.B, steps []S, run func(*smoke.Runner) *smoke.SuiteResult) {
	runner := smoke.NewRunner(testUserAgent, nil)
	b.Cleanup(runner.CloseIdle)
	if res := run(runner); !res.Passed() { // warm the connection and check the suite
		b.Fatal(dump(res))
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if res := run(runner); res.Status != smoke.Passed {
			b.Fatal(dump(res))
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(steps)), "ns/step")
}
