package analysis

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// engineSpec is a small analysis probing /health of both environments every 10ms.
func engineSpec(t *testing.T, name, policy string) *specs.Analysis {
	t.Helper()
	src := `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: ` + name + `}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
monitors:
  - {name: m, every: 10ms, rateLimit: 1000, step: {http: {url: /health}, expect: [status == 200]}}
checks:
  - {name: errors, errorRate: {from: m, maxIncrease: 5%}}
policy: {` + policy + `}
`
	opts := specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }}
	docs, err := specs.Parse(name+".yaml", []byte(src), opts)
	require.NoError(t, err)
	require.NoError(t, docs.Link(opts))
	return docs.Analyses[0]
}

func okServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

func plan(t *testing.T, a *specs.Analysis, url string) *Plan {
	t.Helper()
	p, err := Compile(Options{Analysis: a, Envs: map[string]string{"blue": url, "green": url}, Tick: 20 * time.Millisecond})
	require.NoError(t, err)
	return p
}

// TestEngineManyAnalyses runs analyses concurrently on one Engine and one shared runner, with
// aborts, overrides, a subscriber that reads everything and one that never reads; under -race.
// It asserts what holds under any load: every analysis ends; an aborted one is interrupted and
// says why; an overridden one carries who and why; the reading subscriber sees every event
// numbered without a gap, ending with the verdict; the stalled one holds up nothing.
func TestEngineManyAnalyses(t *testing.T) {
	url := okServer(t)
	// Each subscriber's buffer holds every event an analysis here can publish, so that "keeps
	// up" does not depend on how fast this machine runs the readers (under -race, on a busy
	// one, a reader starved for a second fell behind the default buffer).
	e := NewEngine(EngineOptions{EventBuffer: 1 << 14})
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()

	const n = 24
	plans := make([]*Plan, n)
	for i := range n {
		policy := "minDuration: 200ms, maxDuration: 3s, onInconclusive: hold"
		if i%3 != 0 {
			policy = "minDuration: 1h, maxDuration: 2h" // only an abort or override ends these
		}
		plans[i] = plan(t, engineSpec(t, fmt.Sprintf("a%d", i), policy), url)
	}
	ids := make([]string, n)
	var wg sync.WaitGroup
	seqs := make([][]uint64, n)
	kinds := make([][]EventKind, n)
	for i := range n {
		id, started, err := e.Start(plans[i], StartOptions{Key: fmt.Sprintf("k%d", i)})
		require.NoError(t, err)
		require.True(t, started)
		ids[i] = id
		// Subscribed at once, before the analysis's history has had to make way for anything.
		sub, err := e.Subscribe(id, 0)
		require.NoError(t, err)
		wg.Go(func() {
			defer sub.Close()
			for {
				ev, skipped, err := sub.Next(context.Background())
				if err != nil {
					return
				}
				assert.Zero(t, skipped, "a subscriber that keeps up misses nothing")
				assert.Equal(t, id, ev.Analysis)
				seqs[i] = append(seqs[i], ev.Seq)
				kinds[i] = append(kinds[i], ev.Kind)
			}
		})
	}
	stalled, err := e.Subscribe(ids[0], 0)
	require.NoError(t, err)
	defer stalled.Close()

	// Let every analysis get going, then abort and override a third each.
	for _, id := range ids {
		waitForTick(t, e, id)
	}
	for i, id := range ids {
		switch i % 3 {
		case 1:
			require.NoError(t, e.Abort(id, "rollout deleted"))
		case 2:
			v, err := e.Override(id, verdict.Promote, "alice", "checked by hand")
			require.NoError(t, err)
			require.NotNil(t, v)
		}
	}
	for i, id := range ids {
		v, err := e.Wait(context.Background(), id)
		require.NoError(t, err)
		require.NotNil(t, v)
		switch i % 3 {
		case 0:
			assert.NotEqual(t, verdict.Rollback, v.Decision, "identical environments: %s", v.Reason)
		case 1:
			assert.Equal(t, verdict.Interrupted, v.Decision)
			assert.Contains(t, v.Reason, "aborted: rollout deleted")
		case 2:
			assert.Equal(t, verdict.Promote, v.Decision)
			require.NotNil(t, v.Override)
			assert.Equal(t, "alice", v.Override.By)
			assert.Equal(t, verdict.Interrupted, v.Override.Was, "it was still running")
		}
		st, err := e.Get(id)
		require.NoError(t, err)
		assert.Equal(t, v.Decision, st.State)
	}
	wg.Wait()
	for i := range ids {
		require.NotEmpty(t, seqs[i])
		for j, s := range seqs[i] {
			assert.Equal(t, uint64(j+1), s, "analysis %d: events numbered without a gap", i)
		}
		assert.Equal(t, EventVerdict, kinds[i][len(kinds[i])-1], "the verdict comes last")
	}

	again, started, err := e.Start(plan(t, engineSpec(t, "other", "minDuration: 1s"), url), StartOptions{Key: "k5"})
	require.NoError(t, err)
	assert.False(t, started, "the same key is the same analysis")
	assert.Equal(t, ids[5], again)
	assert.Len(t, e.List(), n)
}

// waitForTick waits until the analysis has evaluated its checks once.
func waitForTick(t *testing.T, e *Engine, id string) {
	t.Helper()
	sub, err := e.Subscribe(id, 0)
	require.NoError(t, err)
	defer sub.Close()
	for {
		ev, _, err := sub.Next(context.Background())
		require.NoError(t, err)
		if ev.Kind == EventTick || ev.Kind == EventVerdict {
			return
		}
	}
}

func TestEngineOverrideAfterVerdict(t *testing.T) {
	url := okServer(t)
	e := NewEngine(EngineOptions{})
	defer e.Shutdown(context.Background())
	id, _, err := e.Start(plan(t, engineSpec(t, "a", "minDuration: 1h, maxDuration: 2h"), url), StartOptions{})
	require.NoError(t, err)
	waitForTick(t, e, id)
	require.NoError(t, e.Abort(id, "stop"))
	v, err := e.Wait(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, verdict.Interrupted, v.Decision)
	assert.ErrorIs(t, e.Abort(id, "again"), ErrDecided)

	v, err = e.Override(id, verdict.Rollback, "bob", "bad release")
	require.NoError(t, err)
	assert.Equal(t, verdict.Rollback, v.Decision)
	v, err = e.Override(id, verdict.Promote, "carol", "false alarm")
	require.NoError(t, err)
	assert.Equal(t, verdict.Promote, v.Decision)
	assert.Equal(t, verdict.Interrupted, v.Override.Was, "a later override keeps what the analysis itself said")
	assert.Contains(t, v.Reason, "overridden to promote by carol: false alarm (the analysis said interrupted: ")

	_, err = e.Override(id, verdict.Inconclusive, "dave", "?")
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = e.Override(id, verdict.Promote, "", "")
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = e.Get("nope")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestEngineShutdown(t *testing.T) {
	url := okServer(t)
	e := NewEngine(EngineOptions{})
	id, _, err := e.Start(plan(t, engineSpec(t, "a", "minDuration: 1h, maxDuration: 2h"), url), StartOptions{})
	require.NoError(t, err)
	waitForTick(t, e, id)
	require.NoError(t, e.Shutdown(context.Background()))
	v, err := e.Wait(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, verdict.Interrupted, v.Decision)
	assert.Contains(t, v.Reason, "shutting down")
	_, _, err = e.Start(plan(t, engineSpec(t, "b", ""), url), StartOptions{})
	assert.ErrorIs(t, err, ErrShuttingDown)
}

func TestCompileRefusesBadInput(t *testing.T) {
	a := engineSpec(t, "a", "")
	_, err := Compile(Options{Analysis: a})
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `environment "blue" (baseline) has no URL`)
	_, err = Compile(Options{Analysis: a, Envs: map[string]string{"blue": "ftp://x", "green": "http://y"}})
	assert.ErrorIs(t, err, ErrInvalid)
}

// TestCompileBuildsEveryCheck: a check that cannot be built (here a Datadog query template that
// does not parse, which the spec's loader does not know) is refused by Compile, before the smoke
// gate has touched the candidate.
func TestCompileBuildsEveryCheck(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits++ }))
	defer srv.Close()
	src := `apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps: [{name: health, http: {url: /health}}]
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: dd}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
smoke: [smoke]
sources: {datadog: {baseURL: "http://127.0.0.1:1"}}
checks:
  - name: dd-errors
    errorRate:
      datadog:
        errors: 'sum:requests.errors{color:{{ .env.name }.as_count()' 
        total: "sum:requests.hits{color:{{ .env.name }}}.as_count()"
      maxIncrease: 1%
`
	opts := specs.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }}
	docs, err := specs.Parse("d.yaml", []byte(src), opts)
	require.NoError(t, err)
	require.NoError(t, docs.Link(opts))
	env := map[string]string{"DD_API_KEY": "k1", "DD_APP_KEY": "k2"}
	o := Options{Analysis: docs.Analysis("dd"), Envs: map[string]string{"blue": srv.URL, "green": srv.URL},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	_, err = Compile(o)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `check "dd-errors"`)
	_, err = Run(context.Background(), o)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Zero(t, hits, "nothing ran")
}

// TestEngineForget: a finished analysis forgotten is gone from the engine — its status, its
// key — and its id and key can be used again; a running one is forgotten only once it ends.
func TestEngineForget(t *testing.T) {
	url := okServer(t)
	e := NewEngine(EngineOptions{})
	defer e.Shutdown(context.Background())
	p := plan(t, engineSpec(t, "a", "minDuration: 1h, maxDuration: 2h"), url)
	id, _, err := e.Start(p, StartOptions{Key: "deploy-1"})
	require.NoError(t, err)
	waitForTick(t, e, id)
	forgotten := make(chan struct{})
	go func() {
		e.Forget(id)
		close(forgotten)
	}()
	_, err = e.Get(id)
	require.NoError(t, err, "running: still there")
	require.NoError(t, e.Abort(id, "stop"))
	<-forgotten
	_, err = e.Get(id)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Empty(t, e.List())
	again, started, err := e.Start(p, StartOptions{Key: "deploy-1"})
	require.NoError(t, err)
	assert.True(t, started, "the key is free again")
	assert.NotEqual(t, id, again)
	e.Forget("nope") // unknown: ignored
}
