package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

// The handler is measured without a network so the numbers show what the
// app itself costs a probe at thousands of requests per second.

func BenchmarkHealth(b *testing.B) {
	a := app.New(app.Config{Color: "blue", Version: "v1"})
	benchParallel(b, a, func() *http.Request { return httptest.NewRequest("GET", "/health", nil) })
}

func BenchmarkHealthWithFaults(b *testing.B) {
	a := app.New(app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"*": 0.01}}})
	benchParallel(b, a, func() *http.Request { return httptest.NewRequest("GET", "/health", nil) })
}

func BenchmarkGetOrder(b *testing.B) {
	a := app.New(app.Config{})
	tok := benchLogin(b, a)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/orders", strings.NewReader(`{"item":"test","quantity":1}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	a.ServeHTTP(rec, req)
	id := rec.Body.String()[len(`{"orderId":"`):][:len("ord-0123456789abcdef")]
	benchParallel(b, a, func() *http.Request {
		r := httptest.NewRequest("GET", "/api/orders/"+id, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	})
}

func BenchmarkCreateOrder(b *testing.B) {
	a := app.New(app.Config{})
	tok := benchLogin(b, a)
	benchParallel(b, a, func() *http.Request {
		r := httptest.NewRequest("POST", "/api/orders", strings.NewReader(`{"item":"test","quantity":1}`))
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	})
}

func benchParallel(b *testing.B, h http.Handler, newReq func() *http.Request) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, newReq())
			if rec.Code >= 400 && rec.Code != http.StatusInternalServerError {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

func benchLogin(b *testing.B, h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"username":"testuser","password":"testpass"}`)))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		b.Fatalf("login: %d %s", rec.Code, body)
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(body), `{"token":"`), `"}`)
}
