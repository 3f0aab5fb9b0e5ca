package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/store/sqlite"
	"github.com/greenlight/greenlight/verdict"
)

func jitter(ms int) app.Faults {
	d := app.Duration(time.Duration(ms) * time.Millisecond)
	return app.Faults{Latency: map[string]app.Duration{"/health": d}, Jitter: map[string]app.Duration{"/health": d / 2}}
}

// TestStartPollDecide starts analyses through the API and long-polls their verdicts, on an
// in-memory network under a fake clock where the apps answer in exactly the latency they are
// given: identical environments are promoted, a green twice as slow is rolled back.
func TestStartPollDecide(t *testing.T) {
	cases := []struct {
		name  string
		green app.Faults
		want  string
	}{
		{"identical environments promote", jitter(4), "promote"},
		{"a slower green rolls back", jitter(10), "rollback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New()
				blue := n.Serve(t, "blue.test:80", app.New(app.Config{Faults: jitter(4), Seed: 1}))
				green := n.Serve(t, "green.test:80", app.New(app.Config{Faults: tc.green, Seed: 2}))
				d := startDaemon(t, daemonConfig{net: n})
				a := d.start("", fastOn(blue, green, ""))
				assert.Equal(t, "running", a.Verdict)
				assert.Equal(t, verdict.Running, a.State)

				v := d.waitVerdict("", a.ID)
				assert.Equal(t, tc.want, v.Verdict, v.Reason)
				assert.Equal(t, verdict.Decision(tc.want), v.State)
				assert.Equal(t, 1, v.Revision)
				require.NotNil(t, v.DecidedAt)

				var got analysisView
				d.callJSON("GET", "/api/v1/analyses/"+a.ID, "", nil, http.StatusOK, &got)
				assert.Equal(t, tc.want, got.Verdict)
				require.NotNil(t, got.Result)
				assert.Equal(t, v.Reason, got.Result.Reason)
				assert.Len(t, got.Checks, 2, "every check with its numbers")
				assert.Equal(t, "green", got.Result.Candidate.Name)
				d.stop()
			})
		})
	}
}

// TestSmokeFailureOnLoopback runs against real apps on loopback: a green whose health check
// fails is rolled back by the smoke gate whatever the machine's load; the verdict is committed
// before it is reported.
func TestSmokeFailureOnLoopback(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	d := startDaemon(t, daemonConfig{})
	a := d.start("", fastOn(blue, green, "deploy-1"))
	v := d.waitVerdict("", a.ID)
	assert.Equal(t, "rollback", v.Verdict)
	assert.Equal(t, verdict.PhaseSmoke, v.Phase)
	assert.Contains(t, v.Reason, "smoke")
	stored, err := d.store.Verdict(context.Background(), a.ID)
	require.NoError(t, err, "what the API reported is in the store")
	assert.Equal(t, verdict.Rollback, stored.Decision)
}

func TestIdempotencyKey(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	d := startDaemon(t, daemonConfig{})
	var first analysisView
	d.callJSON("POST", "/api/v1/analyses", "", fastOn(blue, green, "rollout-checkout-7f9c"), http.StatusCreated, &first)
	var again analysisView
	d.callJSON("POST", "/api/v1/analyses", "", longOn(blue, green), http.StatusCreated, nil)
	req := fastOn(blue, green, "rollout-checkout-7f9c")
	req.Spec = "long" // whatever else it says, the same key is the same analysis
	d.callJSON("POST", "/api/v1/analyses", "", req, http.StatusOK, &again)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, "fast", again.Spec)

	// Many starts with one key at the same moment: one analysis.
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]int{}
	)
	for range 8 {
		wg.Go(func() {
			status, data := d.call("POST", "/api/v1/analyses", "", fastOn(blue, green, "codedeploy-d-123"))
			var v analysisView
			if assert.Contains(t, []int{200, 201}, status, "%s", data) && assert.NoError(t, json.Unmarshal(data, &v)) {
				mu.Lock()
				ids[v.ID] = status
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, ids, 1, "one analysis for one key")
	var list listResponse
	d.callJSON("GET", "/api/v1/analyses?spec=fast", "", nil, http.StatusOK, &list)
	assert.Len(t, list.Analyses, 2, "rollout-checkout-7f9c and codedeploy-d-123")
}

func TestInvalidStart(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	specFile := func(e apiError) string {
		for _, f := range e.Fields {
			if f.Position != nil {
				return f.Position.File
			}
		}
		return ""
	}
	cases := []struct {
		name   string
		body   any
		status int
		field  string
		msg    string
		line   int // the spec line the problem points at (0: no position)
	}{
		{"unknown spec", startRequest{Spec: "nope"}, 422, "spec", `no analysis named "nope" (have fast, long)`, 0},
		{"no spec", startRequest{}, 422, "spec", "required", 0},
		{"not a URL", startRequest{Spec: "long", Environments: map[string]string{"blue": "http://b", "green": "ftp://g"}}, 422, "environments.green", "not an http(s) URL", 4},
		{"credentials in a URL", startRequest{Spec: "long", Environments: map[string]string{"blue": "http://b", "green": "http://u:p@g"}}, 422, "environments.green", "credentials in a URL", 4},
		{"no URL for the candidate", startRequest{Spec: "long", Environments: map[string]string{"blue": "http://b"}}, 422, "environments.green", "environment green (candidate) has no URL", 4},
		{"an unknown role", startRequest{Spec: "long", Environments: map[string]string{"blue": "http://b", "green": "http://g"}, Candidate: "red"}, 422, "candidate", `"red" is not an environment (have blue, green)`, 1},
		{"the same roles", startRequest{Spec: "long", Environments: map[string]string{"blue": "http://b", "green": "http://g"}, Baseline: "green"}, 422, "candidate", `baseline and candidate are both "green"`, 1},
		{"a bad label", startRequest{Spec: "long", Environments: map[string]string{"blue": "http://b", "green": "http://g"}, Labels: map[string]string{"a b": "x"}}, 422, "labels.a b", "a label name", 0},
		{"malformed JSON", "{\n  \"spec\": \"long\",\n  oops\n}", 400, "", "invalid character 'o'", 0},
		{"an unknown field", `{"spec": "long", "colour": "green"}`, 400, "colour", "unknown field", 0},
		{"a wrong type", `{"spec": 3}`, 400, "spec", "want string", 0},
		{"too large", `{"spec": "` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, 413, "", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, data := d.call("POST", "/api/v1/analyses", "", tc.body)
			require.Equal(t, tc.status, status, "%s", data)
			var e apiError
			require.NoError(t, json.Unmarshal(data, &e), "%s", data)
			assert.NotEmpty(t, e.Error)
			if tc.msg == "" {
				return
			}
			require.NotEmpty(t, e.Fields, "%s", data)
			f := e.Fields[0]
			assert.Equal(t, tc.field, f.Field)
			assert.Contains(t, f.Message, tc.msg)
			if tc.line > 0 {
				require.NotNil(t, f.Position, "%s", data)
				assert.Equal(t, "specs.yaml", filepath.Base(specFile(e)))
				assert.Equal(t, longLine(tc.line), f.Position.Line, "%s", data)
			}
		})
	}
	t.Run("malformed JSON has its position in the body", func(t *testing.T) {
		_, data := d.call("POST", "/api/v1/analyses", "", "{\n  \"spec\": \"long\",\n  oops\n}")
		var e apiError
		require.NoError(t, json.Unmarshal(data, &e))
		require.NotNil(t, e.Fields[0].Position)
		assert.Equal(t, 3, e.Fields[0].Position.Line)
	})
	t.Run("every problem at once", func(t *testing.T) {
		_, data := d.call("POST", "/api/v1/analyses", "", startRequest{Spec: "long", Environments: map[string]string{"blue": "nope", "green": "ftp://g"}, Key: strings.Repeat("k", 300)})
		var e apiError
		require.NoError(t, json.Unmarshal(data, &e))
		var fields []string
		for _, f := range e.Fields {
			fields = append(fields, f.Field)
		}
		assert.Equal(t, []string{"key", "environments.blue", "environments.green"}, fields)
	})
}

// longLine is the line in testSpecs of the long analysis's rel-th line (1: its apiVersion, where
// its document starts; 4: its environments).
func longLine(rel int) int {
	start := strings.Index(testSpecs, "kind: Analysis\nmetadata: {name: long}")
	return strings.Count(testSpecs[:start], "\n") + rel - 1
}

// brokenSpec compiles only when started: its Datadog query template does not parse.
const brokenSpec = `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: broken}
environments: {blue: {}, green: {}}
baseline: blue
candidate: green
sources: {datadog: {baseURL: "http://127.0.0.1:1"}}
checks:
  - name: dd-errors
    errorRate:
      datadog:
        errors: 'sum:requests.errors{color:{{ .env.name }.as_count()'
        total: "sum:requests.hits{color:{{ .env.name }}}.as_count()"
      maxIncrease: 1%
`

func TestCompileErrorIs422(t *testing.T) {
	t.Setenv("DD_API_KEY", "k1")
	t.Setenv("DD_APP_KEY", "k2")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte(brokenSpec), 0o600))
	d := startDaemon(t, daemonConfig{opts: func(o *Options) {
		docs, err := specsLoad(dir)
		require.NoError(t, err)
		o.Specs = docs
	}})
	status, data := d.call("POST", "/api/v1/analyses", "", startRequest{Spec: "broken", Environments: map[string]string{"blue": "http://b", "green": "http://g"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, "%s", data)
	var e apiError
	require.NoError(t, json.Unmarshal(data, &e))
	require.Len(t, e.Fields, 1)
	assert.Equal(t, "spec", e.Fields[0].Field)
	assert.Contains(t, e.Fields[0].Message, `check "dd-errors"`)
	assert.NotContains(t, e.Fields[0].Message, "invalid analysis input", "the message is the problem, not its class")
	require.NotNil(t, e.Fields[0].Position)
	assert.Equal(t, "broken.yaml", filepath.Base(e.Fields[0].Position.File))
	assert.Equal(t, 1, e.Fields[0].Position.Line)
	var list listResponse
	d.callJSON("GET", "/api/v1/analyses", "", nil, http.StatusOK, &list)
	assert.Empty(t, list.Analyses, "nothing stored")
}

// TestAuthScopes walks every route with no token, a wrong token and each scope.
func TestAuthScopes(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})
	keyed := longOn(blue, green)
	keyed.Key = "auth-running"
	running := d.start(writeToken, keyed)
	decided := d.start(writeToken, longOn(blue, green))
	d.callJSON("POST", "/api/v1/analyses/"+decided.ID+"/abort", writeToken, abortRequest{Reason: "setting up"}, http.StatusOK, nil)

	bodies := map[string]any{
		"GET /api/v1/board":                      nil,
		"GET /api/v1/token":                      nil,
		"POST /api/v1/analyses":                  longOn(blue, green),
		"POST /api/v1/analyses/{id}/abort":       abortRequest{Reason: "testing auth"},
		"POST /api/v1/analyses/{id}/override":    overrideRequest{Decision: verdict.Promote, Why: "testing auth"},
		"POST /v1/traces":                        `{"resourceSpans": []}`,
		"GET /api/v1/analyses/{id}/events":       nil,
		"GET /api/v1/events":                     nil,
		"GET /api/v1/analyses/{id}/verdict":      nil,
		"GET /api/v1/verdict":                    nil,
		"GET /api/v1/analyses/{id}":              nil,
		"GET /api/v1/analyses":                   nil,
		"GET /api/v1/openapi.json":               nil,
		"GET /metrics":                           nil,
		"GET /healthz":                           nil,
		"GET /readyz":                            nil,
		"GET /api/v1/analyses/{id}/deliveries":   nil,
		"GET /api/v1/deliveries":                 nil,
		"POST /api/v1/deliveries/{id}/redeliver": nil,
		"POST /api/v1/endpoints/{name}/enable":   nil,
		"POST /api/v1/flagger/{spec}":            flaggerRequest{Name: "podinfo", Namespace: "test", Phase: "Progressing", Checksum: "85d557f47b", Metadata: map[string]string{"env.blue": blue, "env.green": green}},
	}
	// A dead delivery to redeliver, and a disabled endpoint to enable, written to the store
	// (the dispatcher never sees them due).
	ctx := context.Background()
	dead := store.Delivery{EventID: "evt-auth", Target: "gone", Type: "analysis.aborted", Timestamp: time.Now(), Payload: []byte(`{}`), NextAttempt: time.Now().Add(time.Hour)}
	_, _, err := d.store.CreateAnalysis(ctx, store.Analysis{ID: "auth-dead", Spec: "long", CreatedAt: time.Now()})
	require.NoError(t, err)
	require.NoError(t, d.store.RecordVerdict(ctx, store.Verdict{Analysis: "auth-dead", Decision: verdict.Interrupted, Data: json.RawMessage(`{"decision":"interrupted"}`), At: time.Now()}, nil, []store.Delivery{dead}))
	require.NoError(t, d.store.MarkFailed(ctx, dead.Key(), store.DeliveryFailure{Attempts: 1, At: time.Now(), Error: "status 400", Dead: true}))
	require.NoError(t, d.store.DisableEndpoint(ctx, "gone", "status 410", time.Now()))
	deliveries, err := d.store.Deliveries(ctx, "auth-dead")
	require.NoError(t, err)
	require.Len(t, deliveries, 1)
	tokens := []struct {
		name  string
		token string
		scope Scope
	}{{"no token", "", -1}, {"wrong token", "wrong-token-0123456789", -1}, {"read", readToken, ScopeRead}, {"write", writeToken, ScopeWrite}, {"admin", adminToken, ScopeAdmin}}
	require.Len(t, d.srv.routes, len(bodies), "every route has a case")
	for _, rt := range d.srv.routes {
		key := rt.Method + " " + rt.Pattern
		body, ok := bodies[key]
		require.True(t, ok, "no case for %s", key)
		for _, tok := range tokens {
			t.Run(key+" "+tok.name, func(t *testing.T) {
				id := running.ID
				switch {
				case strings.HasSuffix(rt.Pattern, "/override"):
					id = decided.ID // overriding a decided analysis answers at once
				case strings.HasSuffix(rt.Pattern, "/abort") && tok.scope >= ScopeWrite:
					id = d.start(writeToken, longOn(blue, green)).ID // one to abort each time
				}
				if strings.HasPrefix(rt.Pattern, "/api/v1/deliveries/{id}") {
					id = strconv.FormatInt(deliveries[0].ID, 10)
				}
				path := strings.NewReplacer("{id}", id, "{name}", "gone", "{spec}", "long").Replace(rt.Pattern)
				if strings.HasSuffix(path, "/events") {
					path += "?lastEventId=999999" // answers its headers without waiting for events
				}
				if path == "/api/v1/verdict" {
					path += "?key=" + keyed.Key
				}
				status := d.status(rt.Method, path, tok.token, body)
				switch {
				case rt.Scope == ScopePublic:
					assert.NotContains(t, []int{401, 403}, status)
				case tok.scope < 0:
					assert.Equal(t, http.StatusUnauthorized, status)
				case tok.scope < rt.Scope:
					assert.Equal(t, http.StatusForbidden, status)
				case rt.Pattern == flaggerPattern:
					assert.Equal(t, http.StatusConflict, status, "allowed: the analysis runs (Flagger's check fails until promote)")
				default:
					assert.Less(t, status, 300, "allowed")
				}
			})
		}
	}
	for _, tok := range []string{readToken, writeToken, adminToken} {
		assert.NotContains(t, d.logs.String(), tok, "tokens are never logged")
	}
}

// status makes a request and returns its status once the headers are in (event streams go on).
func (d *daemon) status(method, path, token string, body any) int {
	d.t.Helper()
	var rd *strings.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(d.t, err)
		rd = strings.NewReader(string(data))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, d.url+path, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, err = http.NewRequestWithContext(ctx, method, d.url+path, nil)
	}
	require.NoError(d.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.client.Do(req)
	require.NoError(d.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestNoRoute(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	status, data := d.call("GET", "/api/v2/nothing", "", nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, string(data), `"error":"no such endpoint: GET /api/v2/nothing`)
	status, data = d.call("DELETE", "/api/v1/analyses/abc", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, status)
	assert.Contains(t, string(data), `"error"`)
	status, _ = d.call("GET", "/api/v1/analyses/abc", "", nil)
	assert.Equal(t, http.StatusNotFound, status)
}

func TestAbortAndOverrideAreAudited(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})

	t.Run("abort a running analysis", func(t *testing.T) {
		a := d.start(writeToken, longOn(blue, green))
		var v verdictView
		d.callJSON("POST", "/api/v1/analyses/"+a.ID+"/abort", writeToken, abortRequest{Reason: "wrong image", By: "bo"}, http.StatusOK, &v)
		assert.Equal(t, "inconclusive", v.Verdict, "an aborted analysis decides nothing")
		assert.Equal(t, verdict.Interrupted, v.State)
		assert.True(t, v.Decided)
		assert.Contains(t, v.Reason, "aborted: wrong image (by bo)")
		status, data := d.call("POST", "/api/v1/analyses/"+a.ID+"/abort", writeToken, abortRequest{Reason: "again"})
		assert.Equal(t, http.StatusConflict, status, "%s", data)
		var got analysisView
		d.callJSON("GET", "/api/v1/analyses/"+a.ID, readToken, nil, http.StatusOK, &got)
		require.Len(t, got.Audit, 1)
		assert.Equal(t, auditView{Action: "abort", By: "bo", Token: "ci", Why: "wrong image", At: got.Audit[0].At}, got.Audit[0])
	})
	t.Run("override a running analysis", func(t *testing.T) {
		a := d.start(writeToken, longOn(blue, green))
		var v verdictView
		d.callJSON("POST", "/api/v1/analyses/"+a.ID+"/override", adminToken, overrideRequest{Decision: verdict.Promote, Why: "hotfix, verified by hand"}, http.StatusOK, &v)
		assert.Equal(t, "promote", v.Verdict)
		require.NotNil(t, v.Override)
		assert.Equal(t, "oncall", v.Override.By, "by defaults to the token's name")
		assert.Equal(t, verdict.Interrupted, v.Override.Was)
		var got analysisView
		d.callJSON("GET", "/api/v1/analyses/"+a.ID, readToken, nil, http.StatusOK, &got)
		require.Len(t, got.Audit, 1)
		assert.Equal(t, "override", got.Audit[0].Action)
		assert.Equal(t, verdict.Promote, got.Audit[0].Decision)
	})
	t.Run("override a decided analysis", func(t *testing.T) {
		_, failing := serveApps(t, app.Config{}, failingGreen)
		a := d.start(writeToken, fastOn(blue, failing, ""))
		require.Equal(t, "rollback", d.waitVerdict(readToken, a.ID).Verdict)
		var v verdictView
		d.callJSON("POST", "/api/v1/analyses/"+a.ID+"/override", adminToken, overrideRequest{Decision: verdict.Promote, By: "ana", Why: "the health check was misconfigured"}, http.StatusOK, &v)
		assert.Equal(t, "promote", v.Verdict)
		assert.Equal(t, 2, v.Revision)
		require.NotNil(t, v.Override)
		assert.Equal(t, verdict.Rollback, v.Override.Was, "the analysis's own decision is kept")
		assert.True(t, strings.HasPrefix(v.Reason, "overridden to promote by ana: the health check was misconfigured (the analysis said rollback: "), v.Reason)

		// A second override replaces the first; both are in the audit log.
		d.callJSON("POST", "/api/v1/analyses/"+a.ID+"/override", adminToken, overrideRequest{Decision: verdict.Rollback, By: "cy", Why: "on second thought"}, http.StatusOK, &v)
		assert.Equal(t, "rollback", v.Verdict)
		assert.Equal(t, 3, v.Revision)
		assert.Equal(t, verdict.Rollback, v.Override.Was, "still the analysis's own")
		var got analysisView
		d.callJSON("GET", "/api/v1/analyses/"+a.ID, readToken, nil, http.StatusOK, &got)
		require.Len(t, got.Audit, 2)
		assert.Equal(t, []string{"ana", "cy"}, []string{got.Audit[0].By, got.Audit[1].By})
		assert.Equal(t, "rollback", got.Verdict)
	})
	t.Run("invalid requests", func(t *testing.T) {
		a := d.start(writeToken, longOn(blue, green))
		for _, body := range []any{overrideRequest{Decision: verdict.Inconclusive, Why: "x"}, overrideRequest{Decision: verdict.Promote}} {
			status, data := d.call("POST", "/api/v1/analyses/"+a.ID+"/override", adminToken, body)
			assert.Equal(t, http.StatusUnprocessableEntity, status, "%s", data)
		}
		status, _ := d.call("POST", "/api/v1/analyses/"+a.ID+"/abort", writeToken, abortRequest{})
		assert.Equal(t, http.StatusUnprocessableEntity, status, "an abort needs a reason")
		status, _ = d.call("POST", "/api/v1/analyses/nope/abort", writeToken, abortRequest{Reason: "x"})
		assert.Equal(t, http.StatusNotFound, status)
		var v verdictView
		d.callJSON("GET", "/api/v1/analyses/"+a.ID+"/verdict", readToken, nil, http.StatusOK, &v)
		assert.Equal(t, "running", v.Verdict, "nothing changed")
	})
}

// TestLongPollAnswersRunning: a wait that ends before a verdict answers 200 running; a bad
// wait is a 400 naming it.
func TestLongPollAnswersRunning(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	d := startDaemon(t, daemonConfig{})
	a := d.start("", longOn(blue, green))
	var v verdictView
	d.callJSON("GET", "/api/v1/analyses/"+a.ID+"/verdict?wait=20ms", "", nil, http.StatusOK, &v)
	assert.Equal(t, "running", v.Verdict)
	assert.False(t, v.Decided)
	status, data := d.call("GET", "/api/v1/analyses/"+a.ID+"/verdict?wait=soon", "", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(data), `"field":"wait"`)
}

func TestListFiltersAndPages(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	d := startDaemon(t, daemonConfig{})
	var ids []string
	for i := range 5 {
		req := fastOn(blue, green, fmt.Sprintf("k%d", i))
		if i%2 == 1 {
			req.Labels = map[string]string{"team": "search"}
		}
		ids = append(ids, d.start("", req).ID)
	}
	for _, id := range ids {
		d.waitVerdict("", id)
	}
	running := d.start("", longOn(blue, green))

	list := func(query string) []string {
		var out []string
		next := ""
		for {
			q := query
			if next != "" {
				q += "&cursor=" + next
			}
			var page listResponse
			d.callJSON("GET", "/api/v1/analyses?"+q, "", nil, http.StatusOK, &page)
			for _, a := range page.Analyses {
				out = append(out, a.ID)
			}
			if page.Next == "" {
				return out
			}
			next = page.Next
		}
	}
	assert.Len(t, list("limit=2"), 6, "pages of two cover all six")
	assert.Equal(t, []string{running.ID}, list("state=running"))
	assert.Len(t, list("state=rollback&spec=fast"), 5)
	assert.Len(t, list("label=team%3Dsearch"), 2)
	assert.Len(t, list("label=team%3Dpay&state=rollback"), 3)
	for _, bad := range []string{"state=maybe", "limit=0", "label=team", "cursor=garbage"} {
		status, data := d.call("GET", "/api/v1/analyses?"+bad, "", nil)
		assert.Equal(t, http.StatusBadRequest, status, "%s: %s", bad, data)
	}
}

func TestMetrics(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	d := startDaemon(t, daemonConfig{})
	a := d.start("", fastOn(blue, green, ""))
	d.waitVerdict("", a.ID)
	d.start("", longOn(blue, green))
	_, data := d.call("GET", "/metrics", "", nil)
	body := string(data)
	assert.Contains(t, body, `greenlight_analyses{state="rollback"} 1`)
	assert.Contains(t, body, `greenlight_analyses{state="running"} 1`)
	assert.Contains(t, body, `greenlight_verdicts_total{decision="rollback",spec="fast"} 1`)
	assert.Contains(t, body, `greenlight_decision_seconds_count{decision="rollback",spec="fast"} 1`)
}

func TestHealthAndReady(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	d.callJSON("GET", "/healthz", "", nil, http.StatusOK, nil)
	d.callJSON("GET", "/readyz", "", nil, http.StatusOK, nil)
	require.NoError(t, d.srv.Shutdown(context.Background()))
	status, _ := d.call("GET", "/readyz", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, "not ready while stopping")
}

// TestRestartResumesFromSnapshot: the engine saves each analysis's state in the store; a
// daemon started again on that store resumes a running analysis from it — its checks keep the
// evidence gathered before the restart instead of collecting it anew — and says so.
func TestRestartResumesFromSnapshot(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	db := filepath.Join(t.TempDir(), "greenlight.db")
	d1 := startDaemon(t, daemonConfig{dbPath: db})
	a := d1.start("", longOn(blue, green))
	// Wait until the check has some evidence.
	var before int64
	stream := d1.events("/api/v1/analyses/"+a.ID+"/events", "", "")
	for before < 10 {
		e := stream.next(t)
		if e.Event == "tick" && len(e.Data.Checks) > 0 {
			before = min(e.Data.Checks[0].Baseline.N, e.Data.Checks[0].Candidate.N)
		}
	}
	d1.stop()

	st, err := sqlite.Open(context.Background(), db)
	require.NoError(t, err)
	rec, err := st.Snapshot(context.Background(), a.ID)
	require.NoError(t, err, "stopping the daemon saved the running analysis's state")
	require.NoError(t, st.Close())
	var snap analysis.Snapshot
	require.NoError(t, json.Unmarshal(rec.Data, &snap))
	assert.Equal(t, a.ID, snap.ID)
	assert.False(t, snap.Decided())

	d2 := startDaemon(t, daemonConfig{dbPath: db})
	stream = d2.events("/api/v1/analyses/"+a.ID+"/events", "", "")
	var resumed bool
	for {
		e := stream.next(t)
		if e.Event == "resumed" {
			resumed = true
			assert.Contains(t, e.Data.Message, "resumes from its snapshot")
		}
		if resumed && e.Event == "tick" && len(e.Data.Checks) > 0 {
			after := min(e.Data.Checks[0].Baseline.N, e.Data.Checks[0].Candidate.N)
			assert.GreaterOrEqual(t, after, before, "the evidence from before the restart is still there")
			break
		}
	}
	d2.callJSON("POST", "/api/v1/analyses/"+a.ID+"/abort", "", abortRequest{Reason: "done testing"}, http.StatusOK, nil)
}

// A snapshot the store cannot read, or one another analysis's, is not resumed: the analysis
// starts again from nothing, and says so.
func TestRestartWithAnUnreadableSnapshot(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	db := filepath.Join(t.TempDir(), "greenlight.db")
	d1 := startDaemon(t, daemonConfig{dbPath: db})
	a := d1.start("", longOn(blue, green))
	d1.stop()
	st, err := sqlite.Open(context.Background(), db)
	require.NoError(t, err)
	require.NoError(t, st.PutSnapshot(context.Background(), store.Snapshot{Analysis: a.ID, Data: []byte(`{"version":`), At: time.Now()}))
	require.NoError(t, st.Close())

	d2 := startDaemon(t, daemonConfig{dbPath: db})
	stream := d2.events("/api/v1/analyses/"+a.ID+"/events", "", "")
	for {
		e := stream.next(t)
		if e.Event == "resumed" {
			assert.Contains(t, e.Data.Message, "collects its evidence anew")
			break
		}
	}
	d2.callJSON("POST", "/api/v1/analyses/"+a.ID+"/abort", "", abortRequest{Reason: "done testing"}, http.StatusOK, nil)
}

// gatedStore holds verdicts at the door: RecordVerdict waits until release is closed, after
// telling entered.
type gatedStore struct {
	*sqlite.Store
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStore) RecordVerdict(ctx context.Context, v store.Verdict, events []store.Event, outbox []store.Delivery) error {
	close(g.entered)
	<-g.release
	return g.Store.RecordVerdict(ctx, v, events, outbox)
}

// TestAbortAfterTheEngineDecided: an abort that reaches an analysis the engine has decided but
// whose verdict is not committed yet aborts nothing: 409 once the verdict is committed, and no
// audit entry claims an abort.
func TestAbortAfterTheEngineDecided(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	gate := &gatedStore{entered: make(chan struct{}), release: make(chan struct{})}
	d := startDaemon(t, daemonConfig{opts: func(o *Options) {
		gate.Store = o.Store.(*sqlite.Store)
		o.Store = gate
	}})
	a := d.start("", fastOn(blue, green, ""))
	<-gate.entered // the engine decided (rollback by the smoke gate); the store has not got it
	answered := make(chan int)
	go func() {
		status, _ := d.call("POST", "/api/v1/analyses/"+a.ID+"/abort", "", abortRequest{Reason: "too late"})
		answered <- status
	}()
	// The abort waits for the verdict: release it only once the abort is waiting for it (or
	// has answered without waiting).
	var status int
	for released := false; status == 0; {
		select {
		case status = <-answered:
		default:
			d.srv.mu.Lock()
			_, waiting := d.srv.decided[a.ID]
			d.srv.mu.Unlock()
			if waiting && !released {
				close(gate.release)
				released = true
			}
			runtime.Gosched()
		}
	}
	select {
	case <-gate.release:
	default:
		close(gate.release)
	}
	assert.Equal(t, http.StatusConflict, status)
	v := d.waitVerdict("", a.ID)
	assert.Equal(t, "rollback", v.Verdict, "the analysis's own verdict stands")
	log, err := d.store.AuditLog(context.Background(), a.ID)
	require.NoError(t, err)
	assert.Empty(t, log, "nothing was aborted")
}

// TestSetSpecs: new analyses start from the specs set last; one already running goes on.
func TestSetSpecs(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	d := startDaemon(t, daemonConfig{})
	running := d.start("", longOn(blue, green))
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(strings.Replace(testSpecs, "{name: long}", "{name: longer}", 1)), 0o600))
	docs, err := specsLoad(dir)
	require.NoError(t, err)
	d.srv.SetSpecs(docs)
	status, data := d.call("POST", "/api/v1/analyses", "", longOn(blue, green))
	assert.Equal(t, http.StatusUnprocessableEntity, status, "%s", data)
	assert.Contains(t, string(data), `no analysis named \"long\" (have fast, longer)`)
	req := longOn(blue, green)
	req.Spec = "longer"
	d.callJSON("POST", "/api/v1/analyses", "", req, http.StatusCreated, nil)
	var v verdictView
	d.callJSON("GET", "/api/v1/analyses/"+running.ID+"/verdict", "", nil, http.StatusOK, &v)
	assert.Equal(t, "running", v.Verdict)
	d.callJSON("POST", "/api/v1/analyses/"+running.ID+"/abort", "", abortRequest{Reason: "done"}, http.StatusOK, nil)
}

// TestVerdictByKey: the verdict of an analysis can be asked by the key it was started with, with
// the same answer and long-poll as by its id; a key nobody started is 404, a missing one 400.
func TestVerdictByKey(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})
	a := d.start(writeToken, fastOn(blue, green, "argo-rollouts/shop/checkout/7f9c6d/pre-promotion"))
	var byKey verdictView
	d.callJSON("GET", "/api/v1/verdict?wait=60s&key="+url.QueryEscape("argo-rollouts/shop/checkout/7f9c6d/pre-promotion"), readToken, nil, http.StatusOK, &byKey)
	for byKey.Verdict == "running" {
		d.callJSON("GET", "/api/v1/verdict?wait=60s&key="+url.QueryEscape("argo-rollouts/shop/checkout/7f9c6d/pre-promotion"), readToken, nil, http.StatusOK, &byKey)
	}
	byID := d.waitVerdict(readToken, a.ID)
	assert.Equal(t, byID, byKey, "the same answer by key as by id")
	assert.Equal(t, "rollback", byKey.Verdict)

	status, body := d.call("GET", "/api/v1/verdict?key=nobody", readToken, nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, string(body), `no analysis started with key \"nobody\"`)
	status, body = d.call("GET", "/api/v1/verdict", readToken, nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(body), `"field":"key"`)
}
