package awshook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/awshook"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy/codedeploytest"
)

// TestCodeDeployWatchAfterAllowTraffic: a hook configured for the watch (GREENLIGHT_MODE=watch,
// GREENLIGHT_WATCH=30m) — the one at AfterAllowTraffic — starts the watch alone; the daemon
// answers the hook when the watch ends.
func TestCodeDeployWatchAfterAllowTraffic(t *testing.T) {
	d := newFakeDaemon(t, func(request) (int, any) { return http.StatusCreated, analysisAnswer("an_w", "running") })
	cfg, err := awshook.FromEnv(env(map[string]string{"GREENLIGHT_URL": d.URL, "GREENLIGHT_TOKEN": token, "GREENLIGHT_SPEC": "checkout",
		"GREENLIGHT_MODE": "watch", "GREENLIGHT_WATCH": "30m"}))
	require.NoError(t, err)
	assert.Equal(t, "watch", cfg.Mode)
	assert.Equal(t, 30*time.Minute, cfg.Watch)
	cd := codedeploytest.New(t)
	res, err := awshook.New(cfg, awshook.Options{CodeDeploy: reporter(t, cd)}).CodeDeploy(t.Context(), cdEvent)
	require.NoError(t, err)
	assert.Equal(t, awshook.CodeDeployResult{Analysis: "an_w", State: "running"}, res)
	reqs := d.got()
	require.Len(t, reqs, 1)
	assert.Equal(t, "watch", reqs[0].Body["mode"])
	assert.Equal(t, "30m0s", reqs[0].Body["watch"])
	assert.Empty(t, cd.Recorded(), "the daemon answers the hook when the watch ends")
}

func TestFromEnvRefusesABadMode(t *testing.T) {
	_, err := awshook.FromEnv(env(map[string]string{"GREENLIGHT_URL": "http://127.0.0.1:8080", "GREENLIGHT_SPEC": "checkout",
		"GREENLIGHT_MODE": "later", "GREENLIGHT_WATCH": "-1m"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `GREENLIGHT_MODE: "later": want verify or watch`)
	assert.Contains(t, err.Error(), "GREENLIGHT_WATCH: must be positive, got -1m0s")
}
