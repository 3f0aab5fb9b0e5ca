package synthetic_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
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

// inBubble runs f in a synctest bubble with a fresh in-memory network. Time is fake there and
// moves only when every goroutine waits: schedules fire at their exact times and a handler's
// sleep is exactly the latency measured, however busy the machine is.
func inBubble(t *testing.T, f func(t *testing.T, n *memnet.Network)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) { f(t, memnet.New()) })
}

// startApp serves the example app with the given faults as color.test on n until the test ends,
// and returns its URL.
func startApp(t *testing.T, n *memnet.Network, color string, faults app.Faults) string {
	t.Helper()
	return n.Serve(t, color+".test:80", app.New(app.Config{Color: color, Faults: faults, Seed: 1}))
}

// counted serves the example app behind a handler that counts requests and the most ever in
// flight at once.
type counted struct {
	URL                             string
	requests, inFlight, maxInFlight atomic.Int64
}

// startCounted serves a counted app as host on n, or on a real loopback port when n is nil.
func startCounted(t *testing.T, n *memnet.Network, host string, faults app.Faults) *counted {
	t.Helper()
	c := &counted{}
	a := app.New(app.Config{Faults: faults, Seed: 1})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		m := c.inFlight.Add(1)
		defer c.inFlight.Add(-1)
		for {
			old := c.maxInFlight.Load()
			if m <= old || c.maxInFlight.CompareAndSwap(old, m) {
				break
			}
		}
		a.ServeHTTP(w, r)
	})
	if n == nil {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		c.URL = srv.URL
		return c
	}
	c.URL = n.Serve(t, host+":80", h)
	return c
}

// options returns Options probing blue (baseline) and green (candidate) at the given URLs, over
// n, or over the host's network when n is nil.
func options(n *memnet.Network, blueURL, greenURL string) synthetic.Options {
	r := smoke.NewRunner("greenlight-test/1.0", nil)
	if n != nil {
		r.DialContext = n.DialContext
	}
	return synthetic.Options{
		Runner:    r,
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
