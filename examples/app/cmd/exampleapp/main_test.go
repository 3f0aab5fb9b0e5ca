package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"
)

// lockedBuffer lets the test read log output while run writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listenAddr = regexp.MustCompile(`msg=listening addr=(\S+)`)

func TestRunServesUntilCancelled(t *testing.T) {
	o, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-color", "green"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, slog.New(slog.NewTextHandler(logs, nil))) }()

	var addr string
	for addr == "" {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v; logs:\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
		if m := listenAddr.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /health = %d, want 200", resp.StatusCode)
	}

	cancel()

	if err := <-done; err != nil {
		t.Errorf("run() = %v, want a clean shutdown", err)
	}
}
