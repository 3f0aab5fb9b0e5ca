package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/server"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/sqlite"
)

// hookSpecs: "checkout" promotes identical environments on their error rates alone (no
// latency check, so that the machine's load cannot sway the verdict) and rolls back a green
// whose health check fails at the smoke gate. Its maxDuration stays well inside CodeDeploy's
// hour, as a spec behind a CodeDeploy hook must.
const hookSpecs = `apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - {name: health, http: {url: /health}, expect: [status == 200]}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: checkout}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [smoke]
monitors:
  - name: probe
    every: 10ms
    rateLimit: 1000
    step: {http: {url: /health}, expect: [status == 200]}
checks:
  - {name: errors, errorRate: {from: probe, maxIncrease: 5%}}
policy: {minDuration: 1s, maxDuration: 10m}
`

const (
	writeToken = "hook-write-token-0123456789"
	adminToken = "oncall-admin-token-0123456789"
)

// daemon is a real greenlight daemon (server.New, the SQLite store) served on loopback, with
// notifications configured as greenlight serve configures them: its verdicts enqueue their
// deliveries in the store's outbox in the same transaction, and its dispatcher sends them.
type daemon struct {
	url   string
	store *sqlite.Store
}

func startDaemon(t *testing.T, n *server.Notifications) *daemon {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "specs.yaml"), []byte(hookSpecs), 0o600))
	docs, err := specs.Load([]string{dir}, specs.LoadOptions{})
	require.NoError(t, err)
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "greenlight.db"))
	require.NoError(t, err)
	tokens, err := server.ParseTokens(strings.NewReader("hook write "+writeToken+"\noncall admin "+adminToken+"\n"), "tokens")
	require.NoError(t, err)
	d := &daemon{store: st}
	runner := smoke.NewRunner("greenlight-test", slog.New(slog.DiscardHandler))
	srv, err := server.New(server.Options{Store: st, Specs: docs, Tokens: tokens, Engine: analysis.EngineOptions{Runner: runner},
		Notifications: n})
	require.NoError(t, err)
	require.NoError(t, srv.Resume(context.Background()))
	hs := httptest.NewServer(srv.Handler())
	d.url = hs.URL
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, srv.Shutdown(context.Background()))
		runner.CloseIdle()
		require.NoError(t, st.Close())
	})
	return d
}

// waitVerdict long-polls an analysis's verdict until it is decided (and so committed, with its
// deliveries).
func (d *daemon) waitVerdict(t *testing.T, id string) (verdictAnswer string, reason string) {
	t.Helper()
	for {
		req, err := http.NewRequestWithContext(t.Context(), "GET", d.url+"/api/v1/analyses/"+id+"/verdict?wait=60s", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+writeToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var v struct {
			Verdict string `json:"verdict"`
			Decided bool   `json:"decided"`
			Reason  string `json:"reason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		if v.Decided {
			return v.Verdict, v.Reason
		}
	}
}

// override decides an analysis by hand, as on-call would.
func (d *daemon) override(t *testing.T, id, decision string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", d.url+"/api/v1/analyses/"+id+"/override",
		strings.NewReader(`{"decision":"`+decision+`","by":"ana","why":"the smoke check was misconfigured"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// settled waits until an analysis has n deliveries and none is pending: each delivered, or
// dead. It asks the store every 20ms until the test's context ends.
func (d *daemon) settled(t *testing.T, id string, n int) []store.Delivery {
	t.Helper()
	for {
		ds, err := d.store.Deliveries(t.Context(), id)
		require.NoError(t, err)
		done := len(ds) >= n
		for _, dl := range ds {
			if dl.State == store.DeliveryPending {
				done = false
			}
		}
		if done {
			return ds
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("the deliveries of %s did not settle: %+v", id, ds)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// apps serves a healthy blue and a green that is healthy or whose health check fails.
func apps(t *testing.T, greenHealthy bool) (blue, green string) {
	t.Helper()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(ok.Close)
	if greenHealthy {
		g := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
		t.Cleanup(g.Close)
		return ok.URL, g.URL
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database unreachable", http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	return ok.URL, bad.URL
}
