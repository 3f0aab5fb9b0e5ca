package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/verdict"
)

// TestRestartKeepsEverything stops a daemon and starts another on the same database: decided
// verdicts, overrides and the audit log read back unchanged; an analysis that was running is
// resumed under its id from the snapshot saved as the daemon stopped, and says so in its
// events; its idempotency key still finds it.
func TestRestartKeepsEverything(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	_, healthy := serveApps(t, app.Config{}, app.Config{})
	db := filepath.Join(t.TempDir(), "greenlight.db")

	d1 := startDaemon(t, daemonConfig{dbPath: db, tokens: testTokens(t)})
	decided := d1.start(writeToken, fastOn(blue, green, "deploy-1"))
	before := d1.waitVerdict(readToken, decided.ID)
	require.Equal(t, "rollback", before.Verdict)
	var overridden verdictView
	d1.callJSON("POST", "/api/v1/analyses/"+decided.ID+"/override", adminToken, overrideRequest{Decision: verdict.Promote, By: "ana", Why: "known flake"}, http.StatusOK, &overridden)
	aborted := d1.start(writeToken, longOn(blue, healthy))
	d1.callJSON("POST", "/api/v1/analyses/"+aborted.ID+"/abort", writeToken, abortRequest{Reason: "superseded"}, http.StatusOK, nil)
	req := longOn(blue, healthy)
	req.Key = "rollout-7f9c"
	running := d1.start(writeToken, req)
	var beforeView analysisView
	d1.callJSON("GET", "/api/v1/analyses/"+decided.ID, readToken, nil, http.StatusOK, &beforeView)
	d1.stop()

	d2 := startDaemon(t, daemonConfig{dbPath: db, tokens: testTokens(t)})
	var after verdictView
	d2.callJSON("GET", "/api/v1/analyses/"+decided.ID+"/verdict", readToken, nil, http.StatusOK, &after)
	assert.Equal(t, overridden, after, "a decided verdict, override included, is the same after a restart")
	var afterView analysisView
	d2.callJSON("GET", "/api/v1/analyses/"+decided.ID, readToken, nil, http.StatusOK, &afterView)
	assert.Equal(t, beforeView.Audit, afterView.Audit)
	assert.Equal(t, beforeView.Result.Reason, afterView.Result.Reason)
	var ab verdictView
	d2.callJSON("GET", "/api/v1/analyses/"+aborted.ID+"/verdict", readToken, nil, http.StatusOK, &ab)
	assert.Equal(t, verdict.Interrupted, ab.State, "the abort stands")
	assert.Contains(t, ab.Reason, "superseded")

	// Stopping the daemon interrupted the running analysis without deciding it: it runs again.
	var r verdictView
	d2.callJSON("GET", "/api/v1/analyses/"+running.ID+"/verdict", readToken, nil, http.StatusOK, &r)
	assert.Equal(t, "running", r.Verdict)
	again := d2.start(writeToken, req)
	assert.Equal(t, running.ID, again.ID, "its key still finds it")
	var evs []sseEvent
	stream := d2.events("/api/v1/analyses/"+running.ID+"/events", readToken, "")
	for {
		e := stream.next(t)
		evs = append(evs, e)
		if e.Event == "resumed" {
			break
		}
	}
	assert.Contains(t, evs[len(evs)-1].Data.Message, "resumes from its snapshot", "stopping saved its state, and it goes on from there")
	for i := 1; i < len(evs); i++ {
		assert.Equal(t, evs[i-1].Data.Seq+1, evs[i].Data.Seq, "sequence numbers go on across the restart")
	}
	// It runs on the new daemon: it can be aborted there.
	d2.callJSON("POST", "/api/v1/analyses/"+running.ID+"/abort", writeToken, abortRequest{Reason: "done testing"}, http.StatusOK, nil)
	after2 := stream.untilVerdict(t)
	assert.Greater(t, after2[0].Data.Seq, evs[len(evs)-1].Data.Seq)
	log, err := d2.store.AuditLog(context.Background(), "")
	require.NoError(t, err)
	assert.Len(t, log, 3, "the override, the first abort, this abort")
}

// TestRestartWithoutTheSpec: an analysis whose spec is gone when the daemon starts again is
// recorded as interrupted, saying why, rather than left running forever.
func TestRestartWithoutTheSpec(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	db := filepath.Join(t.TempDir(), "greenlight.db")
	d1 := startDaemon(t, daemonConfig{dbPath: db})
	a := d1.start("", longOn(blue, green))
	d1.stop()

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(testSpecs[:strings.Index(testSpecs, "---\napiVersion: greenlight/v1\nkind: Analysis\nmetadata: {name: long}")]), 0o600))
	d2 := startDaemon(t, daemonConfig{dbPath: db, opts: func(o *Options) {
		docs, err := specsLoad(dir)
		require.NoError(t, err)
		o.Specs = docs
	}})
	var v verdictView
	d2.callJSON("GET", "/api/v1/analyses/"+a.ID+"/verdict", "", nil, http.StatusOK, &v)
	assert.Equal(t, verdict.Interrupted, v.State)
	assert.Equal(t, "inconclusive", v.Verdict)
	assert.Contains(t, v.Reason, `no longer has the analysis spec "long"`)
}

// TestSecretsNeverStoredOrShown runs an analysis whose spec sends green a secret header, then
// reads every response and the database files: the secret is in none of them.
func TestSecretsNeverStoredOrShown(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, failingGreen)
	db := filepath.Join(t.TempDir(), "greenlight.db")
	d := startDaemon(t, daemonConfig{dbPath: db})
	a := d.start("", fastOn(blue, green, ""))
	d.waitVerdict("", a.ID)
	var bodies []string
	for _, path := range []string{"/api/v1/analyses/" + a.ID, "/api/v1/analyses/" + a.ID + "/verdict", "/api/v1/analyses", "/metrics"} {
		_, b := d.call("GET", path, "", nil)
		bodies = append(bodies, string(b))
	}
	for _, e := range d.events("/api/v1/analyses/"+a.ID+"/events", "", "").untilVerdict(t) {
		bodies = append(bodies, e.Data.Message)
	}
	for _, b := range bodies {
		assert.NotContains(t, b, greenToken)
	}
	d.stop()
	files, err := filepath.Glob(db + "*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NotContains(t, string(data), greenToken, f)
	}
	assert.NotContains(t, d.logs.String(), greenToken)
}
