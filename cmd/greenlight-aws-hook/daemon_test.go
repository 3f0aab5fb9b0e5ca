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
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/server"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/sqlite"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
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

// daemon is a real greenlight daemon (server.New, the SQLite store) served on loopback, whose
// verdicts enqueue their deliveries in the store's outbox in the same transaction, as
// greenlight serve does once its notifications are configured.
type daemon struct {
	url   string
	store *sqlite.Store
	// deliveries builds an event's deliveries; set before analyses start.
	mu         sync.Mutex
	deliveries func(a store.Analysis, v *verdict.Verdict) []store.Delivery
}

func startDaemon(t *testing.T) *daemon {
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
		Deliveries: func(a store.Analysis, v *verdict.Verdict) []store.Delivery {
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.deliveries == nil {
				return nil
			}
			return d.deliveries(a, v)
		}})
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

// outbox is the store's outbox as verdict/emit's dispatcher reads it: the thin adapter the
// store was shaped for.
type outbox struct{ st store.Outbox }

var _ emit.Outbox = outbox{}

func (o outbox) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]emit.Record, error) {
	ds, err := o.st.ClaimDeliveries(ctx, now, limit, lease)
	if err != nil {
		return nil, err
	}
	out := make([]emit.Record, 0, len(ds))
	for _, d := range ds {
		out = append(out, emit.Record{
			Delivery: emit.Delivery{ID: d.EventID, Endpoint: d.Target, Type: emit.EventType(d.Type), Timestamp: d.Timestamp, Payload: d.Payload},
			State:    emit.State(d.State), Attempts: d.Attempts, Since: d.Since, NextAttempt: d.NextAttempt, LastError: d.LastError, DoneAt: d.DoneAt,
		})
	}
	return out, nil
}

func (o outbox) NextDue(ctx context.Context) (time.Time, bool, error) { return o.st.NextDue(ctx) }

func (o outbox) MarkDelivered(ctx context.Context, k emit.Key, attempts int, at time.Time) error {
	return o.st.MarkDelivered(ctx, store.DeliveryKey{EventID: k.ID, Target: k.Endpoint}, attempts, at)
}

func (o outbox) MarkFailed(ctx context.Context, k emit.Key, f emit.Failure) error {
	return o.st.MarkFailed(ctx, store.DeliveryKey{EventID: k.ID, Target: k.Endpoint},
		store.DeliveryFailure{Attempts: f.Attempts, At: f.At, Error: f.Error, Dead: f.Dead, Next: f.Next})
}

func (o outbox) DisableEndpoint(ctx context.Context, endpoint, reason string, at time.Time) error {
	return o.st.DisableEndpoint(ctx, endpoint, reason, at)
}

// eventOf names the event a recorded verdict announces.
func eventOf(v *verdict.Verdict) emit.EventType {
	switch {
	case v.Override != nil:
		return emit.Overridden
	case v.Decision == verdict.Interrupted:
		return emit.Aborted
	}
	return emit.Decided
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
