package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"testing"

	"github.com/greenlight/greenlight/examples/app"
)

func get(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	// A fresh transport per call, so a kept-alive connection from an
	// earlier call cannot make a stopped server look alive.
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func TestStart(t *testing.T) {
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc, s *app.Server)
	}{
		{name: "stops when the context ends", stop: func(cancel context.CancelFunc, _ *app.Server) { cancel() }},
		{name: "stops on Close", stop: func(_ context.CancelFunc, s *app.Server) {
			if err := s.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, err := app.Start(ctx, app.Config{Color: "blue", Version: "v1"})
			if err != nil {
				t.Fatalf("Start() = %v", err)
			}
			t.Cleanup(func() { s.Close() })

			if code, err := get(t.Context(), s.URL+"/health"); err != nil || code != http.StatusOK {
				t.Fatalf("GET /health = %d, %v; want 200", code, err)
			}
			tt.stop(cancel, s)
			<-s.Done()

			if _, err := get(t.Context(), s.URL+"/health"); err == nil {
				t.Error("server still answers after stopping")
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close() = %v", err)
			}
		})
	}
}

// Requests run under the Start context, so ending it cuts a long request
// short instead of leaving it to finish after the test.
func TestStartContextCancelsRequestsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s, err := app.Start(ctx, app.Config{})
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	type outcome struct {
		code int
		err  error
	}
	result := make(chan outcome, 1)
	sent := make(chan struct{})
	go func() {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
		code, err := get(httptrace.WithClientTrace(t.Context(), trace), s.URL+"/slow?ms=10000")
		result <- outcome{code, err}
	}()
	<-sent // the request is on the wire: the server is reading it or already in the handler

	cancel()
	<-s.Done()

	// Either the handler saw the cancellation first and answered 503, or
	// the connection was closed under it; both mean it did not run on.
	switch got := <-result; {
	case got.err == nil && got.code != http.StatusServiceUnavailable:
		t.Errorf("slow request answered %d, want 503 or a dropped connection", got.code)
	case errors.Is(got.err, context.Canceled):
		t.Errorf("request failed on the client's context, not the server's: %v", got.err)
	}
}

func TestStartServesTheApp(t *testing.T) {
	s, err := app.Start(t.Context(), app.Config{})
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { s.Close() })

	s.App.SetFaults(app.Faults{ErrorRate: map[string]float64{"/health": 1}})

	if code, err := get(t.Context(), s.URL+"/health"); err != nil || code != http.StatusInternalServerError {
		t.Errorf("GET /health = %d, %v; want the 500 set through Server.App", code, err)
	}
}
