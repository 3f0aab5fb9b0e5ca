package analysis

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// exporter sends OTLP/HTTP batches the way an instrumented service does: a request span per
// call, with a number of database spans under it.
type exporter struct {
	client  *http.Client
	url     string
	version string
	latency time.Duration // request span duration (median)
	failing bool          // every request span has an error status
	db      int           // SELECT spans per request
	attr    string        // the resource attribute carrying version (default service.version)
	token   string        // a bearer token to send, if any
	seq     atomic.Uint64
	rng     *rand.Rand
	mu      sync.Mutex
}

func (e *exporter) batch(t *testing.T, n int) error {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr(cmp.Or(e.attr, "service.version"), e.version)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	for i := 0; i < n; i++ {
		id := e.seq.Add(1)
		var tid [16]byte
		binary.BigEndian.PutUint64(tid[8:], id)
		tid[0] = byte(len(e.version))
		e.mu.Lock()
		d := time.Duration(float64(e.latency) * (0.8 + 0.4*e.rng.Float64()))
		e.mu.Unlock()
		root := spans.AppendEmpty()
		root.SetTraceID(tid)
		root.SetSpanID(spanIDOf(id, 0))
		root.SetName("GET /api/orders")
		root.SetKind(ptrace.SpanKindServer)
		root.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-d)))
		root.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		if e.failing {
			root.Status().SetCode(ptrace.StatusCodeError)
		}
		for k := 1; k <= e.db; k++ {
			s := spans.AppendEmpty()
			s.SetTraceID(tid)
			s.SetSpanID(spanIDOf(id, k))
			s.SetParentSpanID(spanIDOf(id, 0))
			s.SetName("SELECT orders")
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-d / 2)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-d / 4)))
		}
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("export: status %d", resp.StatusCode)
	}
	return nil
}

func spanIDOf(trace uint64, k int) pcommon.SpanID {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], trace<<8|uint64(k))
	id[0] |= 0x80
	return id
}

func tracesAnalysis(t *testing.T) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: traced}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  traces: {listen: "127.0.0.1:0", values: {v1: blue, v2: green}, interval: 200ms}
checks:
  - name: orders-p95
    latency: {traces: {operation: GET /api/orders}, percentile: 95, maxRatio: 1.2}
  - name: orders-errors
    errorRate: {traces: {operation: GET /api/orders}, maxIncrease: 1%}
  - name: shape
    critical: true
    traceShape: {persist: 2}
policy: {minDuration: 1s, maxDuration: 30s, onInconclusive: hold}
`
	docs, err := specs.Parse("t.yaml", []byte(src), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return docs.Analyses[0]
}

// runTraced runs the analysis while blue and green export spans to its receiver, in a bubble:
// the receiver listens on an in-memory network and time is fake.
func runTraced(t *testing.T, green func(*exporter)) *verdict.Verdict {
	t.Helper()
	var v *verdict.Verdict
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		v = runTracedWith(t, n, tracesAnalysis(t), func(*exporter) {}, green)
	})
	return v
}

// runTracedWith runs a on n, with blue's and green's exporters set up by the two functions.
func runTracedWith(t *testing.T, n *memnet.Network, a *specs.Analysis, blue, green func(*exporter)) *verdict.Verdict {
	t.Helper()
	addr := make(chan string, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The receiver closes as the analysis ends: a batch still in flight then may be refused.
	var decided atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		u := "http://" + <-addr + "/v1/traces"
		c := n.Client()
		b := &exporter{client: c, url: u, version: "v1", latency: 20 * time.Millisecond, db: 1, rng: rand.New(rand.NewPCG(1, 2))}
		g := &exporter{client: c, url: u, version: "v2", latency: 20 * time.Millisecond, db: 1, rng: rand.New(rand.NewPCG(3, 4))}
		blue(b)
		green(g)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				for _, e := range []*exporter{b, g} {
					if err := e.batch(t, 20); err != nil {
						if !decided.Load() {
							t.Errorf("export before the verdict: %v", err)
						}
						return
					}
				}
			}
		}
	}()
	v, err := Run(ctx, Options{Analysis: a, Tick: 100 * time.Millisecond, OnTraces: func(a string) { addr <- a },
		DialContext: n.DialContext, Listen: n.Listen,
		OnEvent: func(e Event) {
			if e.Kind == EventVerdict {
				decided.Store(true)
			}
		}})
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	return v
}

func TestTracesHealthyPromotes(t *testing.T) {
	v := runTraced(t, func(*exporter) {})
	assert.Equal(t, verdict.Promote, v.Decision, v.Reason)
	for _, c := range v.Checks {
		assert.Equal(t, compare.Pass, c.State, "%s: %s", c.Name, c.Reason)
		assert.Equal(t, "traces", c.Source)
	}
}

func TestTracesLatencyRegressionRollsBack(t *testing.T) {
	v := runTraced(t, func(g *exporter) { g.latency = 40 * time.Millisecond })
	require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
	assert.True(t, strings.HasPrefix(v.Reason, "orders-p95: p95 green"), v.Reason)
}

func TestTracesNPlusOneRollsBack(t *testing.T) {
	v := runTraced(t, func(g *exporter) { g.db = 12 })
	require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
	assert.Contains(t, v.Reason, `shape: trace shape (seen 2 of 2 times needed): "SELECT orders" per "GET /api/orders" request: green 12.0 vs blue 1.0`)
}

// TestTracesBothDownNeverPromotes: every request span of both versions is an error. The
// relative checks see no difference; the evidence floor keeps the candidate from a promote.
func TestTracesBothDownNeverPromotes(t *testing.T) {
	a := tracesAnalysis(t)
	a.Policy.MaxDuration = specs.Duration(3 * time.Second)
	a.Policy.OnInconclusive = "promote"
	fail := func(e *exporter) { e.failing = true }
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		v := runTracedWith(t, n, a, fail, fail)
		assert.NotEqual(t, verdict.Promote, v.Decision, v.Reason)
		assert.Contains(t, v.Reason, "no evidence that green works (orders-p95: green succeeded 0 of")
		assert.Contains(t, v.Reason, "orders-errors: green succeeded 0 of")
	})
}

func TestDatadogChecks(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		v, calls := datadogRun(t, n, map[string]string{"blue": "2", "green": "150"}, map[string]string{"blue": "1000", "green": "1000"}, "minDuration: 1s, maxDuration: 20s")
		require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
		assert.Contains(t, v.Reason, "dd-errors: error rate green 15.00% vs blue 0.20%")
		assert.Equal(t, "datadog", v.Checks[0].Source)
		assert.Greater(t, calls, int64(3))
	})
}

func runDatadog(t *testing.T, n *memnet.Network, errs, total map[string]string, policy string) *verdict.Verdict {
	v, _ := datadogRun(t, n, errs, total, policy)
	return v
}

// datadogRun runs an error-rate check from a Datadog fake, served on n, answering errors and
// total per color.
func datadogRun(t *testing.T, n *memnet.Network, errs, total map[string]string, policy string) (*verdict.Verdict, int64) {
	t.Helper()
	var calls atomic.Int64
	url := n.Serve(t, "datadog.test:443", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		q := r.URL.Query().Get("query")
		if r.Header.Get("DD-API-KEY") != "k1" || r.Header.Get("DD-APPLICATION-KEY") != "k2" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		color := "blue"
		if strings.Contains(q, "color:green") {
			color = "green"
		}
		v := total[color]
		if strings.Contains(q, "errors") {
			v = errs[color]
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok","res_type":"time_series","series":[{"metric":"m","scope":"s","pointlist":[[1700000000000,` + v + `],[1700000060000,null]]}],"from_date":0,"to_date":0,"query":"` + strings.ReplaceAll(q, `"`, `\"`) + `"}`))
	}))
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
      datadog:
        errors: "sum:requests.errors{color:{{ .env.name }}}.as_count()"
        total: "sum:requests.hits{color:{{ .env.name }}}.as_count()"
      maxIncrease: 1%
policy: {` + policy + `}
`
	docs, err := specs.Parse("d.yaml", []byte(src), specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	env := map[string]string{"DD_API_KEY": "k1", "DD_APP_KEY": "k2"}
	v, err := Run(t.Context(), Options{Analysis: docs.Analyses[0], Tick: 50 * time.Millisecond, DialContext: n.DialContext,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	return v, calls.Load()
}
