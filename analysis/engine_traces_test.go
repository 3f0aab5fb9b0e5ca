package analysis

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis/traces"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// sharedAddr is where the tests serve the Engine's trace receiver: the address every analysis's
// sources.traces.listen also names, so an analysis that listened on its own would fail.
const sharedAddr = specs.DefaultTracesListen

// tracedSpec is the analysis of tracesAnalysis with the given sources.traces line (its listen
// left to the default).
func tracedSpec(t *testing.T, name, tracesSource string, env map[string]string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: ` + name + `}
environments: {blue: {url: "http://127.0.0.1:1"}, green: {url: "http://127.0.0.1:1"}}
baseline: blue
candidate: green
sources:
  traces: ` + tracesSource + `
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
	docs, err := specs.Parse(name+".yaml", []byte(src), specs.LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	return docs.Analyses[0]
}

// serveShared serves a shared receiver at sharedAddr on n.
func serveShared(t *testing.T, n *memnet.Network, cfg traces.Config) *traces.Receiver {
	t.Helper()
	rcv, err := traces.NewReceiver(cfg, nil)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/v1/traces", rcv)
	n.Serve(t, sharedAddr, mux)
	return rcv
}

// exportAll sends a batch from every exporter every 50ms until stop closes. A batch refused once
// every view has closed ends the exports: an analysis's token goes with its view.
func exportAll(t *testing.T, rcv *traces.Receiver, stop <-chan struct{}, exporters []*exporter) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				for _, e := range exporters {
					if err := e.batch(t, 20); err != nil {
						if rcv.Stats().Views > 0 {
							t.Errorf("export while analyses run: %v", err)
						}
						return
					}
				}
			}
		}
	})
	return &wg
}

// sharedCase is one analysis of a shared-receiver test: its exporters' versions, under which
// attribute, and whether its candidate regressed.
type sharedCase struct {
	attr        string
	blue, green string
	regressed   bool
}

// runShared starts every case as an analysis on one Engine with one shared receiver, exports
// their spans to it, and returns their verdicts and the addresses OnTraces was told.
func runShared(t *testing.T, n *memnet.Network, cases []sharedCase) ([]*verdict.Verdict, []string) {
	t.Helper()
	rcv := serveShared(t, n, traces.Config{})
	e := NewEngine(EngineOptions{Traces: rcv, TracesAddr: sharedAddr})
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()

	var exporters []*exporter
	ids := make([]string, len(cases))
	told := make([]string, len(cases))
	for i, c := range cases {
		a := tracedSpec(t, fmt.Sprintf("a%d", i), fmt.Sprintf(`{attribute: %s, values: {%s: blue, %s: green}, interval: 200ms}`, c.attr, c.blue, c.green), nil)
		p, err := Compile(Options{Analysis: a, Tick: 100 * time.Millisecond, DialContext: n.DialContext, Listen: n.Listen,
			OnTraces: func(addr string) { told[i] = addr }})
		require.NoError(t, err)
		id, _, err := e.Start(p, StartOptions{})
		require.NoError(t, err)
		ids[i] = id
		u := "http://" + sharedAddr + "/v1/traces"
		b := &exporter{client: n.Client(), url: u, attr: c.attr, version: c.blue, latency: 20 * time.Millisecond, db: 1, rng: rand.New(rand.NewPCG(uint64(i), 1))}
		g := &exporter{client: n.Client(), url: u, attr: c.attr, version: c.green, latency: 20 * time.Millisecond, db: 1, rng: rand.New(rand.NewPCG(uint64(i), 2))}
		if c.regressed {
			g.latency = 40 * time.Millisecond
		}
		exporters = append(exporters, b, g)
	}
	stop := make(chan struct{})
	wg := exportAll(t, rcv, stop, exporters)
	vs := make([]*verdict.Verdict, len(cases))
	for i, id := range ids {
		v, err := e.Wait(t.Context(), id)
		require.NoError(t, err)
		vs[i] = v
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, rcv.Stats().Views, "every analysis closed its view")
	return vs, told
}

// Two analyses on one Engine read one shared receiver, each its own versions under its own
// attribute: the regressed one rolls back, the healthy one promotes. Both name the address the
// shared receiver is served at as their listen: an analysis that opened its own listener there
// would fail with "address already in use".
func TestEngineSharedTracesTwoAnalyses(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		vs, told := runShared(t, n, []sharedCase{
			{attr: "service.version", blue: "v1", green: "v2", regressed: true},
			{attr: "deployment.environment.name", blue: "prod-a", green: "prod-b"},
		})
		require.Equal(t, verdict.Rollback, vs[0].Decision, vs[0].Reason)
		assert.True(t, strings.HasPrefix(vs[0].Reason, "orders-p95: p95 green"), vs[0].Reason)
		require.Equal(t, verdict.Promote, vs[1].Decision, vs[1].Reason)
		for _, c := range vs[1].Checks {
			assert.Equal(t, "traces", c.Source)
		}
		assert.Equal(t, []string{sharedAddr, sharedAddr}, told, "OnTraces is told the shared address")
	})
}

// Twenty analyses at once, half of them regressed, over both attributes: each judges only its
// own spans.
func TestEngineSharedTracesTwentyAnalyses(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		var cases []sharedCase
		for i := range 20 {
			attr := "service.version"
			if i%4 >= 2 {
				attr = "deployment.environment.name"
			}
			cases = append(cases, sharedCase{attr: attr, blue: fmt.Sprintf("b%02d", i), green: fmt.Sprintf("g%02d", i), regressed: i%2 == 1})
		}
		vs, _ := runShared(t, n, cases)
		for i, v := range vs {
			want := verdict.Promote
			if cases[i].regressed {
				want = verdict.Rollback
			}
			assert.Equal(t, want, v.Decision, "analysis %d: %s", i, v.Reason)
		}
	})
}

// An analysis's token is accepted by the shared receiver while it runs, besides the receiver's
// own; once it has ended its token is refused and the receiver's still works.
func TestEngineSharedTracesToken(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		const analysisToken, receiverToken = "token-of-the-analysis", "token-of-the-receiver"
		rcv := serveShared(t, n, traces.Config{Token: receiverToken})
		e := NewEngine(EngineOptions{Traces: rcv, TracesAddr: sharedAddr})
		defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
		a := tracedSpec(t, "tokened", `{token: {env: OTLP_TOKEN}, values: {v1: blue, v2: green}, interval: 200ms}`,
			map[string]string{"OTLP_TOKEN": analysisToken})
		p, err := Compile(Options{Analysis: a, Tick: 100 * time.Millisecond, DialContext: n.DialContext, Listen: n.Listen})
		require.NoError(t, err)
		id, _, err := e.Start(p, StartOptions{})
		require.NoError(t, err)

		u := "http://" + sharedAddr + "/v1/traces"
		b := &exporter{client: n.Client(), url: u, version: "v1", token: analysisToken, latency: 20 * time.Millisecond, db: 1, rng: rand.New(rand.NewPCG(1, 2))}
		g := &exporter{client: n.Client(), url: u, version: "v2", token: receiverToken, latency: 20 * time.Millisecond, db: 1, rng: rand.New(rand.NewPCG(3, 4))}
		stop := make(chan struct{})
		wg := exportAll(t, rcv, stop, []*exporter{b, g})
		v, err := e.Wait(t.Context(), id)
		close(stop)
		wg.Wait()
		require.NoError(t, err)
		require.Equal(t, verdict.Promote, v.Decision, v.Reason)
		for _, c := range v.Checks {
			assert.NotContains(t, c.Reason, "refused", "no export was refused while the analysis ran")
		}

		post := func(token string) int {
			req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(nil))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-protobuf")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := n.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		assert.Equal(t, http.StatusUnauthorized, post(analysisToken), "the ended analysis's token")
		assert.Equal(t, http.StatusOK, post(receiverToken))
	})
}
