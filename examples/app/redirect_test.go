package app_test

import (
	"net/http"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

func TestRedirect(t *testing.T) {
	s := newTestServer(t, app.Config{})
	tests := []struct {
		name         string
		query        string
		wantStatus   int
		wantLocation string
	}{
		{name: "to health", query: "?to=/health", wantStatus: http.StatusFound, wantLocation: "/health"},
		{name: "keeps the query", query: "?to=%2Fslow%3Fms%3D1", wantStatus: http.StatusFound, wantLocation: "/slow?ms=1"},
		{name: "missing", query: "", wantStatus: http.StatusBadRequest},
		{name: "absolute URL", query: "?to=https://example.com/", wantStatus: http.StatusBadRequest},
		{name: "protocol-relative", query: "?to=//example.com/", wantStatus: http.StatusBadRequest},
		{name: "backslash host", query: "?to=/%5Cexample.com", wantStatus: http.StatusBadRequest},
		{name: "path without slash", query: "?to=health", wantStatus: http.StatusBadRequest},
		{name: "header injection", query: "?to=/health%0d%0aSet-Cookie:x=1", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do("GET", "/redirect"+tt.query, "")

			r.wantStatus(t, tt.wantStatus)
			if got := r.header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}
