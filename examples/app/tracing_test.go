package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestSpansAreExported(t *testing.T) {
	var posts, bytesIn atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("unexpected export %s %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		posts.Add(1)
		bytesIn.Add(int64(len(b)))
	}))
	defer collector.Close()
	srv, err := Start(context.Background(), Config{Color: "green", Version: "v2", OTLPEndpoint: collector.URL + "/v1/traces"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest("GET", srv.URL+"/health", nil)
		req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Close flushes the spans and returns once the collector has answered the export, which it
	// does after counting it.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 || bytesIn.Load() == 0 {
		t.Fatalf("no spans exported (%d posts, %d bytes)", posts.Load(), bytesIn.Load())
	}
}
