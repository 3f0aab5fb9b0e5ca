package app_test

import (
	"net/http"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

func TestHealth(t *testing.T) {
	s := newTestServer(t, app.Config{Color: "green", Version: "v2.1"})

	r := s.do("GET", "/health", "")

	r.wantStatus(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	r.wantJSON(t, `{"status":"ok","color":"green","version":"v2.1"}`)
}

func TestRouting(t *testing.T) {
	s := newTestServer(t, app.Config{})
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{name: "unknown path", method: "GET", path: "/nope", wantStatus: http.StatusNotFound},
		{name: "order path without id", method: "GET", path: "/api/orders/", wantStatus: http.StatusNotFound},
		{name: "wrong method on GET route", method: "DELETE", path: "/health", wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "wrong method on POST route", method: "GET", path: "/auth/login", wantStatus: http.StatusMethodNotAllowed, wantAllow: "POST"},
		{name: "wrong method on admin", method: "POST", path: "/admin/faults", wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD, PUT"},
		{name: "wrong method on path with wildcard", method: "DELETE", path: "/api/orders/ord-1", wantStatus: http.StatusMethodNotAllowed, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(tt.method, tt.path, "")

			r.wantStatus(t, tt.wantStatus)
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if _, ok := r.object(t)["error"]; !ok {
				t.Errorf("body %s has no error field", r.body)
			}
			if got := r.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}
