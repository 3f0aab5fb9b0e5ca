package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
)

// boardSpecs are the analyses the dashboard's tests run against loopback apps; each decides
// the same way on any machine, however loaded. "checkout" passes a smoke gate, then probes
// /slow every 50ms: a green whose /slow always fails is rolled back by its errors check once
// both sides have their samples (its interval lies far above the 10% allowed); identical
// environments are promoted (its latency check is advisory, so machine noise cannot hold the
// promote). "hold" probes once a second for two seconds: never enough samples to decide, so
// it ends inconclusive and waits on a person (onInconclusive: hold). "long" cannot decide
// before ten minutes: it runs while a test watches it live.
const boardSpecs = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: health}
steps:
  - {name: health, http: {url: /health}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: checkout}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [health]
monitors:
  - name: journey
    every: 50ms
    step: {http: {url: "/slow?ms=1"}, expect: [status == 200]}
checks:
  - {name: errors, errorRate: {from: journey, maxIncrease: 10%}}
  - {name: p95, critical: false, latency: {from: journey, percentile: 95, maxRatio: 1.5}}
policy: {minDuration: 1s, maxDuration: 60s}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: hold}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: journey, every: 1s, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: journey, maxIncrease: 5%}}
policy: {minDuration: 1s, maxDuration: 2s, onInconclusive: hold}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: long}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - name: journey
    every: 100ms
    step: {http: {url: /health}, expect: [status == 200]}
checks:
  - {name: errors, errorRate: {from: journey, maxIncrease: 5%}}
  - {name: p95, critical: false, latency: {from: journey, percentile: 95, maxRatio: 1.5}}
policy: {minDuration: 10m, maxDuration: 20m}
`

// brokenSlow is a green whose /slow always fails.
var brokenSlow = app.Config{Color: "green", Version: "v2", Faults: app.Faults{ErrorRate: map[string]float64{"/slow": 1}}}

// boardDaemon serves boardSpecs with its own registry, which it returns.
func boardDaemon(t *testing.T, cfg daemonConfig) (*daemon, *prometheus.Registry) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "board.yaml"), []byte(boardSpecs), 0o600))
	docs, err := specsLoad(dir)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	opts := cfg.opts
	cfg.opts = func(o *Options) {
		o.Specs, o.Registry = docs, reg
		if opts != nil {
			opts(o)
		}
	}
	return startDaemon(t, cfg), reg
}

// on is a start request for one of boardSpecs.
func on(spec, blue, green string) startRequest {
	return startRequest{Spec: spec, Environments: map[string]string{"blue": blue, "green": green}, Labels: map[string]string{"team": "shop"}}
}
