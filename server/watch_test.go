package server

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/verdict"
)

// TestWatchMode: a start with "mode": "watch" runs the watch alone, for a candidate already
// promoted — no smoke gate, no comparison before it — and answers promote when the watch ends
// with no regression, rollback at the first one; it is kept with the analysis as greenlight's
// own labels.
func TestWatchMode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		green  app.Faults
		want   string
		reason string
	}{
		{"no regression: promote", jitter(4), "promote", "no regression in 30s of watching"},
		{"a regression: rollback", jitter(10), "rollback", "regression after promotion: p95"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := memnet.New()
				blue := n.Serve(t, "blue.test:80", app.New(app.Config{Faults: jitter(4), Seed: 1}))
				green := n.Serve(t, "green.test:80", app.New(app.Config{Faults: tc.green, Seed: 2}))
				d := startDaemon(t, daemonConfig{net: n})
				req := fastOn(blue, green, "")
				req.Mode, req.Watch = "watch", "30s"
				a := d.start("", req)
				assert.Equal(t, map[string]string{"team": "pay", "greenlight/mode": "watch", "greenlight/watch": "30s"}, a.Labels)

				v := d.waitVerdict("", a.ID)
				assert.Equal(t, tc.want, v.Verdict, v.Reason)
				assert.Contains(t, v.Reason, tc.reason)
				var got analysisView
				d.callJSON("GET", "/api/v1/analyses/"+a.ID, "", nil, http.StatusOK, &got)
				require.NotNil(t, got.Result)
				assert.Equal(t, verdict.PhaseWatch, got.Result.Phase)
				assert.Nil(t, got.Result.Smoke, "the candidate serves users: no smoke gate")
				assert.False(t, got.Result.PromotedAt.IsZero())
				d.stop()
			})
		})
	}
}

func TestWatchModeInvalid(t *testing.T) {
	d := startDaemon(t, daemonConfig{})
	envs := map[string]string{"blue": "http://b", "green": "http://g"}
	for _, tc := range []struct {
		name       string
		req        startRequest
		field, msg string
	}{
		{"unknown mode", startRequest{Spec: "long", Environments: envs, Mode: "later"}, "mode", `"later": want verify or watch`},
		{"not a duration", startRequest{Spec: "long", Environments: envs, Mode: "watch", Watch: "soon"}, "watch", `"soon" is not a duration`},
		{"too long", startRequest{Spec: "long", Environments: envs, Mode: "watch", Watch: "48h"}, "watch", "at most 24h0m0s"},
		{"no duration", startRequest{Spec: "long", Environments: envs, Mode: "watch"}, "watch", "required for mode watch: the spec long has no policy.watch"},
		{"greenlight's own label", startRequest{Spec: "long", Environments: envs, Labels: map[string]string{"greenlight/mode": "watch"}}, "labels.greenlight/mode", "greenlight's own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, data := d.call("POST", "/api/v1/analyses", "", tc.req)
			require.Equal(t, http.StatusUnprocessableEntity, status, "%s", data)
			var e apiError
			require.NoError(t, json.Unmarshal(data, &e), "%s", data)
			require.Len(t, e.Fields, 1, "%s", data)
			assert.Equal(t, tc.field, e.Fields[0].Field)
			assert.Contains(t, e.Fields[0].Message, tc.msg)
		})
	}
}

// TestRestartResumesAWatch: a watch-only analysis resumed after a restart is still the watch
// it was asked to be, for as long as it was asked — not a promote the moment it resumes.
func TestRestartResumesAWatch(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	db := filepath.Join(t.TempDir(), "greenlight.db")
	d1 := startDaemon(t, daemonConfig{dbPath: db})
	req := longOn(blue, green)
	req.Mode, req.Watch = "watch", "1h"
	a := d1.start("", req)
	stream := d1.events("/api/v1/analyses/"+a.ID+"/events", "", "")
	for {
		e := stream.next(t)
		if e.Event == "tick" {
			assert.Equal(t, verdict.PhaseWatch, e.Data.Phase)
			break
		}
	}
	d1.stop()

	d2 := startDaemon(t, daemonConfig{dbPath: db})
	stream = d2.events("/api/v1/analyses/"+a.ID+"/events", "", "")
	var resumed bool
	for {
		e := stream.next(t)
		require.NotEqual(t, "verdict", e.Event, "the watch ended as it resumed: %+v", e.Data)
		if e.Event == "resumed" {
			resumed = true
		}
		if resumed && e.Event == "tick" {
			assert.Equal(t, verdict.PhaseWatch, e.Data.Phase)
			assert.Equal(t, int64(3600000), e.Data.LimitMs, "the watch lasts as long as it was asked")
			break
		}
	}
	d2.callJSON("POST", "/api/v1/analyses/"+a.ID+"/abort", "", abortRequest{Reason: "done testing"}, http.StatusOK, nil)
}
