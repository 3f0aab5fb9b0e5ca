package analysis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/specs"
)

// countingTransport counts the requests of the client the Engine is given, and the bearer
// tokens they carried.
type countingTransport struct {
	next   http.RoundTripper
	n      atomic.Int64
	mu     sync.Mutex
	tokens map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	c.mu.Lock()
	c.tokens[r.Header.Get("Authorization")]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// tokenAnalysis reads the Prometheus at url with the bearer token in the environment variable
// tokenVar, and never decides within the test.
func tokenAnalysis(t *testing.T, name, url, tokenVar string, env map[string]string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: ` + name + `}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "` + url + `", bearerToken: {env: ` + tokenVar + `}, interval: 100ms, timeout: 1s}
checks:
  - name: server-errors
    errorRate:
      prometheus:
        errors: sum(increase(http_requests_total{color="{{ .env.name }}",code=~"5.."}[{{ .window }}])) or vector(0)
        total: sum(increase(http_requests_total{color="{{ .env.name }}"}[{{ .window }}]))
      maxIncrease: 1%
policy: {minDuration: 1h, maxDuration: 2h}
`
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	docs, err := specs.Parse(name+".yaml", []byte(src), specs.LoadOptions{LookupEnv: lookup})
	require.NoError(t, err)
	return docs.Analyses[0]
}

// TestEngineSharesSourceClients: analyses on one Engine that read the same Prometheus with the
// same token share one client, built on the Engine's HTTP client; another token gets its own.
// The cache's keys name the endpoint but hold no token; a client lives while an analysis that
// uses it runs.
func TestEngineSharesSourceClients(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		f := &promFake{counts: map[string][2]string{"blue": {"0", "2000"}, "green": {"0", "2000"}}}
		url := n.Serve(t, "prom.test:9090", f)
		rt := &countingTransport{next: &http.Transport{DialContext: n.DialContext}, tokens: map[string]int{}}
		e := NewEngine(EngineOptions{HTTPClient: &http.Client{Transport: rt}})
		env := map[string]string{"TOKEN_A": "first-secret-token", "TOKEN_B": "second-secret-token"}

		var ids []string
		for i, tokenVar := range []string{"TOKEN_A", "TOKEN_A", "TOKEN_B"} {
			p, err := Compile(Options{Analysis: tokenAnalysis(t, fmt.Sprintf("a%d", i), url, tokenVar, env), Tick: 100 * time.Millisecond})
			require.NoError(t, err)
			id, _, err := e.Start(p, StartOptions{})
			require.NoError(t, err)
			ids = append(ids, id)
		}
		// Each analysis has polled its source at least once when it reports samples.
		for _, id := range ids {
			sub, err := e.Subscribe(id, 0)
			require.NoError(t, err)
			for {
				ev, _, err := sub.Next(t.Context())
				require.NoError(t, err)
				if ev.Kind == EventTick && len(ev.Checks) == 1 && ev.Checks[0].Candidate.N > 0 {
					break
				}
			}
			sub.Close()
		}

		c := e.clients.cache
		c.mu.Lock()
		refs := map[int]int{} // references → clients with that many
		for k, cc := range c.clients {
			refs[cc.refs]++
			assert.Same(t, e.o.HTTPClient, k.via, "built on the Engine's client")
			assert.True(t, strings.HasPrefix(k.key, "prometheus "+url+" "), k.key)
			for _, secret := range env {
				assert.NotContains(t, k.key, secret)
			}
		}
		c.mu.Unlock()
		assert.Equal(t, map[int]int{2: 1, 1: 1}, refs, "one client for the two analyses with the same token, one for the other")
		assert.Positive(t, rt.n.Load(), "the queries went through the Engine's client")
		rt.mu.Lock()
		assert.Positive(t, rt.tokens["Bearer first-secret-token"])
		assert.Positive(t, rt.tokens["Bearer second-secret-token"])
		rt.mu.Unlock()

		require.NoError(t, e.Abort(ids[0], "done"))
		_, err := e.Wait(t.Context(), ids[0])
		require.NoError(t, err)
		assert.Equal(t, 2, c.size(), "the shared client stays while another analysis uses it")
		for _, id := range ids[1:] {
			require.NoError(t, e.Abort(id, "done"))
		}
		require.NoError(t, e.Shutdown(context.Background()))
		assert.Zero(t, c.size(), "no client is kept once no analysis uses it")
	})
}

// sourceStub is a source that answers nothing.
type sourceStub struct{ id int }

func (*sourceStub) Fetch(context.Context, source.Query, source.Env, source.Window) (source.Result, error) {
	return source.Result{}, source.ErrNoData
}

func TestClientCache(t *testing.T) {
	c := newClientCache()
	opened := 0
	open := func() (source.Source, error) { opened++; return &sourceStub{id: opened}, nil }
	a, releaseA, err := c.acquire(nil, "prometheus http://p k1", open)
	require.NoError(t, err)
	b, releaseB, err := c.acquire(nil, "prometheus http://p k1", open)
	require.NoError(t, err)
	assert.Same(t, a, b, "one key, one client")
	other, releaseO, err := c.acquire(&http.Client{}, "prometheus http://p k1", open)
	require.NoError(t, err)
	assert.NotSame(t, a, other, "another HTTP client, another source client")
	assert.Equal(t, 2, opened)

	releaseA()
	releaseA() // giving back twice counts once
	assert.Equal(t, 2, c.size())
	releaseB()
	releaseO()
	assert.Zero(t, c.size())

	_, _, err = c.acquire(nil, "k", func() (source.Source, error) { return nil, errors.New("bad") })
	assert.Error(t, err)
	assert.Zero(t, c.size(), "a failed open is not cached")

	// Without a key, or without a cache, nothing is shared.
	for _, cache := range []*clientCache{c, nil} {
		key := "k"
		if cache == c {
			key = ""
		}
		x, rx, err := cache.acquire(nil, key, open)
		require.NoError(t, err)
		y, ry, err := cache.acquire(nil, key, open)
		require.NoError(t, err)
		assert.NotSame(t, x, y)
		rx()
		ry()
	}
	assert.Zero(t, c.size())
}

// TestSourceKeys: a source's cache key names its endpoint, changes with its credentials and
// settings, and never holds a credential.
func TestSourceKeys(t *testing.T) {
	keys := func(env map[string]string, jaegerService string) map[string]string {
		src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: k}
environments: {blue: {url: "http://b"}, green: {url: "http://g"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "http://prom:9090", username: u, password: {env: PROM_PASS}, headers: {X-Scope-OrgID: t1}}
  datadog: {apiKey: {env: DD_KEY}, appKey: {env: DD_APP}, site: datadoghq.eu}
  jaeger: {url: "http://jaeger:16686", service: ` + jaegerService + `, values: {v1: blue, v2: green}}
checks:
  - {name: e, errorRate: {jaeger: {operation: x}, maxRatio: 2}}
`
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		docs, err := specs.Parse("k.yaml", []byte(src), specs.LoadOptions{LookupEnv: lookup})
		require.NoError(t, err)
		a := docs.Analyses[0]
		out := map[string]string{}
		for kind, k := range sourceKinds {
			if k.Key != nil {
				out[kind] = k.Key(&a.Sources, source.Deps{LookupEnv: lookup})
			}
		}
		return out
	}
	env := map[string]string{"PROM_PASS": "prom-password-1", "DD_KEY": "dd-api-key-1", "DD_APP": "dd-app-key-1"}
	base := keys(env, "checkout")
	assert.Equal(t, base, keys(env, "checkout"), "the same declaration, the same keys")
	assert.True(t, strings.HasPrefix(base["prometheus"], "prometheus http://prom:9090 "), base["prometheus"])
	assert.True(t, strings.HasPrefix(base["datadog"], "datadog https://api.datadoghq.eu "), base["datadog"])
	assert.True(t, strings.HasPrefix(base["jaeger"], "jaeger http://jaeger:16686 "), base["jaeger"])
	for kind, key := range base {
		for _, secret := range env {
			assert.NotContains(t, key, secret, kind)
		}
	}
	other := maps.Clone(env)
	other["PROM_PASS"], other["DD_APP"] = "prom-password-2", "dd-app-key-2"
	changed := keys(other, "payments")
	for kind := range base {
		assert.NotEqual(t, base[kind], changed[kind], "%s: other credentials or settings, another client", kind)
	}
}

// lockedBuffer is a log sink the Engine's goroutines may write concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEngineSourceLogger: a source client built by the Engine logs through the Engine's logger,
// not through one analysis's (whose lines carry that analysis's id), since it may serve several.
func TestEngineSourceLogger(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		url := n.Serve(t, "datadog.test:443", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok","res_type":"time_series","series":[{"metric":"m","scope":"s","pointlist":[[1700000000000,5]]}],"from_date":0,"to_date":0,"query":"q"}`))
		}))
		var logs lockedBuffer
		logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		env := map[string]string{"DD_API_KEY": "k1", "DD_APP_KEY": "k2"}
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		e := NewEngine(EngineOptions{Logger: logger, LookupEnv: lookup,
			HTTPClient: &http.Client{Transport: &http.Transport{DialContext: n.DialContext}}})
		src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: dd}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  datadog: {baseURL: "` + url + `", interval: 100ms}
checks:
  - name: dd-errors
    errorRate:
      datadog: {errors: "sum:e{color:{{ .env.name }}}.as_count()", total: "sum:t{color:{{ .env.name }}}.as_count()"}
      maxIncrease: 1%
policy: {minDuration: 1h, maxDuration: 2h}
`
		docs, err := specs.Parse("d.yaml", []byte(src), specs.LoadOptions{LookupEnv: lookup})
		require.NoError(t, err)
		p, err := Compile(Options{Analysis: docs.Analyses[0], Tick: 100 * time.Millisecond, LookupEnv: lookup})
		require.NoError(t, err)
		id, _, err := e.Start(p, StartOptions{})
		require.NoError(t, err)
		sub, err := e.Subscribe(id, 0)
		require.NoError(t, err)
		for {
			ev, _, err := sub.Next(t.Context())
			require.NoError(t, err)
			if ev.Kind == EventTick && ev.Checks[0].Candidate.N > 0 {
				break
			}
		}
		sub.Close()
		require.NoError(t, e.Abort(id, "done"))
		require.NoError(t, e.Shutdown(context.Background()))

		var queries int
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, `"msg":"datadog query"`) {
				queries++
				assert.NotContains(t, line, `"analysis":`, "a shared client logs as no single analysis")
				assert.Contains(t, line, `"source":"datadog"`)
			}
		}
		assert.Positive(t, queries, "the source logged through the Engine's logger")
	})
}
