package synthetic_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/synthetic"
	"github.com/stretchr/testify/require"
)

// suiteHeader starts every inline suite; tests append their steps.
const suiteHeader = "apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: test}\n"

// healthSuite is one GET /health that must answer 200.
const healthSuite = `
steps:
  - name: health
    http: {url: /health}
    expect: [status == 200]
`

func noEnv(string) (string, bool) { return "", false }

// parseSuite loads one suite from YAML text (suiteHeader is prepended).
func parseSuite(t testing.TB, body string) *specs.Suite {
	t.Helper()
	docs, err := specs.Parse("test.yaml", []byte(suiteHeader+body), specs.LoadOptions{LookupEnv: noEnv})
	require.NoError(t, err, body)
	require.Len(t, docs.Suites, 1)
	return docs.Suites[0]
}

// startApp serves the example app with the given faults until the test ends.
func startApp(t *testing.T, color string, faults app.Faults) *app.Server {
	t.Helper()
	srv, err := app.Start(t.Context(), app.Config{Color: color, Faults: faults, Seed: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// counted serves the example app behind a handler that counts requests and the most ever in
// flight at once.
type counted struct {
	*httptest.Server
	requests, inFlight, maxInFlight atomic.Int64
}

func startCounted(t *testing.T, faults app.Faults) *counted {
	t.Helper()
	c := &counted{}
	a := app.New(app.Config{Faults: faults, Seed: 1})
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		n := c.inFlight.Add(1)
		defer c.inFlight.Add(-1)
		for {
			m := c.maxInFlight.Load()
			if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		a.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

// options returns Options probing blue (baseline) and green (candidate) at the given URLs.
func options(blueURL, greenURL string) synthetic.Options {
	return synthetic.Options{
		Runner:    smoke.NewRunner("greenlight-test/1.0", nil),
		Baseline:  synthetic.Target{Target: smoke.Target{Name: "blue", URL: blueURL}, Role: synthetic.Baseline},
		Candidate: synthetic.Target{Target: smoke.Target{Name: "green", URL: greenURL}, Role: synthetic.Candidate},
	}
}

// runFor runs the monitors for d and returns every pair received, in order.
func runFor(t *testing.T, d time.Duration, monitors []synthetic.Monitor, opts synthetic.Options) []synthetic.Pair {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	out := make(chan synthetic.Pair)
	done := make(chan error, 1)
	go func() { done <- synthetic.Run(ctx, monitors, opts, out) }()
	var pairs []synthetic.Pair
	for {
		select {
		case p := <-out:
			pairs = append(pairs, p)
		case err := <-done:
			require.NoError(t, err)
			return pairs
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a slog handler.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
