package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
)

func TestSlow(t *testing.T) {
	s := newTestServer(t, app.Config{})
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantSleep  time.Duration
	}{
		{name: "sleeps the given time", query: "?ms=120", wantStatus: http.StatusOK, wantSleep: 120 * time.Millisecond},
		{name: "no parameter answers at once", query: "", wantStatus: http.StatusOK},
		{name: "zero", query: "?ms=0", wantStatus: http.StatusOK},
		{name: "negative", query: "?ms=-1", wantStatus: http.StatusBadRequest},
		{name: "not a number", query: "?ms=fast", wantStatus: http.StatusBadRequest},
		{name: "above the limit", query: "?ms=10001", wantStatus: http.StatusBadRequest},
		{name: "huge", query: "?ms=99999999999999999999", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := s.do("GET", "/slow"+tt.query, "")
			elapsed := time.Since(start)

			r.wantStatus(t, tt.wantStatus)
			got := r.object(t)
			if tt.wantStatus != http.StatusOK {
				if _, ok := got["error"]; !ok {
					t.Errorf("body %s has no error field", r.body)
				}
				return
			}
			if got["sleptMs"] != float64(tt.wantSleep.Milliseconds()) {
				t.Errorf("sleptMs = %v, want %d", got["sleptMs"], tt.wantSleep.Milliseconds())
			}
			if elapsed < tt.wantSleep {
				t.Errorf("took %v, want at least %v", elapsed, tt.wantSleep)
			}
		})
	}
}

// A handler that ignored its context would sleep the full 10 s and answer
// 200; one that honours it stops when the caller gives up and answers 503.
// ServeHTTP is called directly so the status survives the caller leaving.
func TestWaitsHonourCancellation(t *testing.T) {
	tests := []struct {
		name string
		cfg  app.Config
		path string
	}{
		{name: "slow endpoint", path: "/slow?ms=10000"},
		{name: "injected latency", path: "/health",
			cfg: app.Config{Faults: app.Faults{Latency: map[string]app.Duration{"*": app.Duration(time.Hour)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := app.New(tt.cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, "GET", tt.path, nil)
			rec := httptest.NewRecorder()

			a.ServeHTTP(rec, req)

			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503; body %s", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), "request cancelled") {
				t.Errorf("body = %s", rec.Body)
			}
		})
	}
}
