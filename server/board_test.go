package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/store"
	"github.com/greenlight/greenlight/verdict"
)

// TestBoard: the dashboard's list has a line per analysis with its roles and their URLs, its
// state, elapsed time against its limit, its reason and every check; an inconclusive analysis
// waits on a person; the list's filters apply.
func TestBoard(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	_, failing := serveApps(t, app.Config{}, failingGreen)
	d, _ := boardDaemon(t, daemonConfig{tokens: testTokens(t)})
	rolled := d.start(writeToken, on("checkout", blue, failing))
	held := d.start(writeToken, on("hold", blue, green))
	running := d.start(writeToken, on("long", blue, green))
	require.Equal(t, "rollback", d.waitVerdict(readToken, rolled.ID).Verdict)
	require.Equal(t, "inconclusive", d.waitVerdict(readToken, held.ID).Verdict)
	events := d.events("/api/v1/analyses/"+running.ID+"/events", readToken, "")
	for e := events.next(t); e.Event != "tick"; e = events.next(t) {
	}

	var page boardPage
	d.callJSON("GET", "/api/v1/board", readToken, nil, http.StatusOK, &page)
	rows := map[string]boardRow{}
	for _, r := range page.Analyses {
		rows[r.ID] = r
	}
	require.Len(t, rows, 3)

	r := rows[rolled.ID]
	assert.Equal(t, "rollback", r.Verdict)
	assert.Equal(t, verdict.Environment{Name: "blue", URL: blue}, r.Baseline)
	assert.Equal(t, verdict.Environment{Name: "green", URL: failing}, r.Candidate)
	assert.Equal(t, verdict.PhaseSmoke, r.Phase)
	assert.Contains(t, r.Reason, "health")
	require.NotNil(t, r.DecidedAt)
	assert.Equal(t, r.DecidedAt.Sub(r.CreatedAt).Milliseconds(), r.ElapsedMs)
	assert.False(t, r.Waiting)

	h := rows[held.ID]
	assert.True(t, h.Waiting, "inconclusive: waiting on a person")
	require.Len(t, h.Checks, 1)
	assert.Equal(t, compare.Inconclusive, h.Checks[0].State)

	run := rows[running.ID]
	assert.Equal(t, "running", run.Verdict)
	assert.Equal(t, verdict.PhaseAnalysis, run.Phase)
	assert.Equal(t, int64(20*60*1000), run.LimitMs)
	assert.Len(t, run.Checks, 2, "the latest tick's checks")

	all, err := d.store.AllEventsAfter(t.Context(), 0, 1_000_000)
	require.NoError(t, err)
	require.NotEmpty(t, all)
	assert.GreaterOrEqual(t, page.LastEventID, all[0].ID)
	assert.LessOrEqual(t, page.LastEventID, all[len(all)-1].ID, "no newer than the newest event")

	d.callJSON("GET", "/api/v1/board?state=inconclusive", readToken, nil, http.StatusOK, &page)
	require.Len(t, page.Analyses, 1)
	assert.Equal(t, held.ID, page.Analyses[0].ID)
	status, _ := d.call("GET", "/api/v1/board?state=maybe", readToken, nil)
	assert.Equal(t, http.StatusBadRequest, status)
}

func TestTokenInfo(t *testing.T) {
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})
	for _, tc := range []struct{ token, name, scope string }{
		{readToken, "reader", "read"}, {writeToken, "ci", "write"}, {adminToken, "oncall", "admin"},
	} {
		var got tokenView
		d.callJSON("GET", "/api/v1/token", tc.token, nil, http.StatusOK, &got)
		assert.Equal(t, tokenView{Name: tc.name, Scope: tc.scope, Tokens: true}, got)
	}
	status, _ := d.call("GET", "/api/v1/token", "", nil)
	assert.Equal(t, http.StatusUnauthorized, status)

	open := startDaemon(t, daemonConfig{})
	var got tokenView
	open.callJSON("GET", "/api/v1/token", "", nil, http.StatusOK, &got)
	assert.Equal(t, tokenView{Name: "anonymous", Scope: "admin"}, got, "without tokens anyone may do everything")
}

// TestDashboardAssets: the page and its files are served without a token, with a
// Content-Security-Policy that allows no inline script or style and nothing from elsewhere.
func TestDashboardAssets(t *testing.T) {
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})
	get := func(path string, header ...string) *http.Response {
		req, err := http.NewRequest("GET", d.url+path, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := d.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	assets, err := dashboardAssets()
	require.NoError(t, err)
	for _, name := range []string{"index.html", "app.js", "api.js", "style.css"} {
		require.Contains(t, assets, name)
	}
	for name, kind := range map[string]string{"/": "text/html", "/ui/app.js": "text/javascript", "/ui/style.css": "text/css"} {
		resp := get(name)
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), kind), name)
		csp := resp.Header.Get("Content-Security-Policy")
		assert.Contains(t, csp, "script-src 'self'")
		assert.Contains(t, csp, "default-src 'none'")
		assert.NotContains(t, csp, "unsafe-inline")
		assert.NotContains(t, csp, "http")
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag)
		assert.Equal(t, http.StatusNotModified, get(name, "If-None-Match", etag).StatusCode, "revalidated, not sent again")
	}
	assert.Equal(t, http.StatusNotFound, get("/ui/nope.js").StatusCode)
	assert.Equal(t, http.StatusNotFound, get("/nope").StatusCode)
}

// TestDashboardHasNoInlineCode: the page carries no inline script, style or event handler
// (the policy would block them) and loads nothing from another origin.
func TestDashboardHasNoInlineCode(t *testing.T) {
	assets, err := dashboardAssets()
	require.NoError(t, err)
	for name, a := range assets {
		// The SVG namespace is a name, not a place anything is loaded from.
		text := strings.ReplaceAll(string(a.data), "http://www.w3.org/2000/svg", "")
		for _, bad := range []string{"http://", "https://", "style=\"", " onclick=", " onload=", "javascript:", "innerHTML"} {
			if !assert.NotContains(t, text, bad, "%s", name) {
				break
			}
		}
		if name == "index.html" {
			assert.NotContains(t, text, "<script>", "no inline script")
			assert.NotContains(t, text, "<style", "no inline style")
		}
	}
}

// TestNewestEventID: the search finds the newest event's id for any number of events.
func TestNewestEventID(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	got, err := d.srv.newestEventID(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(0), got, "no event")
	_, _, err = d.store.CreateAnalysis(t.Context(), store.Analysis{ID: "a", Spec: "s", State: verdict.Running, CreatedAt: time.Now()})
	require.NoError(t, err)
	seq := uint64(0)
	for _, n := range []int{1, 1, 2, 5, 37, 100} {
		var evs []store.Event
		for range n {
			seq++
			evs = append(evs, store.Event{Analysis: "a", Seq: seq, Time: time.Now(), Kind: "tick", Data: []byte(`{}`)})
		}
		require.NoError(t, d.store.AppendEvents(t.Context(), evs, 0))
		all, err := d.store.AllEventsAfter(t.Context(), 0, 1000)
		require.NoError(t, err)
		got, err := d.srv.newestEventID(t.Context())
		require.NoError(t, err)
		assert.Equal(t, all[len(all)-1].ID, got, "after %d events", seq)
	}
}
