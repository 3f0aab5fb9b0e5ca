package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetricsExposition(t *testing.T) {
	a := New(Config{Faults: Faults{ErrorRate: map[string]float64{"/health": 1}}, Seed: 1})
	srv := httptest.NewServer(a)
	defer srv.Close()
	for i := 0; i < 3; i++ {
		resp, err := http.Get(srv.URL + "/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{
		`http_requests_total{code="500",route="/health"} 3`,
		`http_request_duration_seconds_count{route="/health"} 3`,
		`http_request_duration_seconds_bucket{route="/health",le="+Inf"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `route="/metrics"`) {
		t.Error("scrapes are not counted as traffic")
	}
}
