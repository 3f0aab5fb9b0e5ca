package synthetic

// BenchmarkPairOneStep measures one paired run of a one-step GET suite against a trivial
// handler on loopback: both probes, the result reduction and the metrics, without the
// scheduler's waiting. BenchmarkRawPair is the floor: the same two GETs with a bare
// http.Client. Their difference is what greenlight adds per pair; halve it per probe.
//
//	go test -run '^$' -bench . -benchtime 2000x -count 3 ./synthetic/
//
// ns/op is wall time per pair (the two probes overlap). cpu-µs/pair is the whole process's CPU
// time per pair, the loopback servers' share included (see BenchmarkRawPair for that share).

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/prometheus/client_golang/prometheus"
)

func benchServers(b *testing.B) (blue, green *httptest.Server) {
	b.Helper()
	body := []byte(`{"status":"ok"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	blue, green = httptest.NewServer(h), httptest.NewServer(h)
	b.Cleanup(blue.Close)
	b.Cleanup(green.Close)
	return blue, green
}

func BenchmarkPairOneStep(b *testing.B) {
	blue, green := benchServers(b)
	docs, err := specs.Parse("bench.yaml", []byte(`apiVersion: greenlight/v1
kind: Suite
metadata: {name: bench}
steps:
  - name: health
    http: {url: /health}
    expect: [status == 200]
`), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		b.Fatal(err)
	}
	m := &Monitor{Name: "bench", Suite: docs.Suites[0], Every: time.Second}
	opts := Options{
		Runner:    smoke.NewRunner("greenlight-bench/1.0", nil),
		Baseline:  Target{Target: smoke.Target{Name: "blue", URL: blue.URL}},
		Candidate: Target{Target: smoke.Target{Name: "green", URL: green.URL}},
	}
	p, err := opts.prober(make(chan Pair))
	if err != nil {
		b.Fatal(err)
	}
	metrics := NewMetrics(prometheus.NewRegistry())
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	b.ReportAllocs()
	cpu := cpuTime()
	var seq int64
	for b.Loop() {
		seq++
		res := p.pair(ctx, m, seq, Baseline, log)
		if !res.pair.Baseline.OK || !res.pair.Candidate.OK {
			b.Fatalf("probe failed: %q %q", res.pair.Baseline.Err, res.pair.Candidate.Err)
		}
		metrics.observe(&res.pair, 1)
	}
	reportCPU(b, cpu)
}

func BenchmarkRawPair(b *testing.B) {
	blue, green := benchServers(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(client.CloseIdleConnections)
	get := func(url string) {
		resp, err := client.Get(url)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		var wg sync.WaitGroup
		wg.Go(func() { get(blue.URL + "/health") })
		wg.Go(func() { get(green.URL + "/health") })
		wg.Wait()
	}
	reportCPU(b, cpu)
}

// reportCPU reports the process's CPU time per iteration since start, where it is known.
func reportCPU(b *testing.B, start time.Duration) {
	if start < 0 {
		return
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/pair")
}
