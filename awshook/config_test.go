package awshook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/awshook"
	"github.com/greenlight/greenlight/secret"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	cfg, err := awshook.FromEnv(env(map[string]string{
		"GREENLIGHT_URL":                "https://greenlight.internal:8080",
		"GREENLIGHT_TOKEN":              " " + token + " ",
		"GREENLIGHT_SPEC":               "checkout",
		"GREENLIGHT_ENVIRONMENTS":       "blue=https://prod.internal, green=https://test.internal:8443",
		"GREENLIGHT_BASELINE":           "blue",
		"GREENLIGHT_CANDIDATE":          "green",
		"GREENLIGHT_LABELS":             "team=shop,app=checkout",
		"GREENLIGHT_TIMEOUT":            "5s",
		"GREENLIGHT_ECS_CALLBACK_DELAY": "1m",
		"GREENLIGHT_ECS_MAX_ERRORS":     "5",
	}))
	require.NoError(t, err)
	assert.Equal(t, awshook.Config{
		URL: "https://greenlight.internal:8080", Token: secret.Secret(token), Spec: "checkout",
		Environments: map[string]string{"blue": "https://prod.internal", "green": "https://test.internal:8443"},
		Baseline:     "blue", Candidate: "green",
		Labels:  map[string]string{"team": "shop", "app": "checkout"},
		Timeout: 5 * time.Second, CallbackDelay: time.Minute, MaxErrors: 5,
	}, cfg)

	cfg, err = awshook.FromEnv(env(map[string]string{"GREENLIGHT_URL": "http://127.0.0.1:8080", "GREENLIGHT_SPEC": "checkout"}))
	require.NoError(t, err)
	assert.Equal(t, awshook.Config{URL: "http://127.0.0.1:8080", Spec: "checkout", Timeout: 10 * time.Second, CallbackDelay: 30 * time.Second, MaxErrors: 3}, cfg)
}

func TestFromEnvReportsEveryProblem(t *testing.T) {
	_, err := awshook.FromEnv(env(map[string]string{
		"GREENLIGHT_ENVIRONMENTS":       "blue",
		"GREENLIGHT_LABELS":             "a=1,a=2",
		"GREENLIGHT_TIMEOUT":            "soon",
		"GREENLIGHT_ECS_CALLBACK_DELAY": "100ms",
		"GREENLIGHT_ECS_MAX_ERRORS":     "many",
	}))
	require.Error(t, err)
	for _, want := range []string{
		`GREENLIGHT_ENVIRONMENTS: "blue" is not NAME=VALUE`,
		`GREENLIGHT_LABELS: "a" is given twice`,
		`GREENLIGHT_TIMEOUT: "soon" is not a duration`,
		`GREENLIGHT_ECS_MAX_ERRORS: "many" is not a whole number`,
		`GREENLIGHT_URL: the daemon's URL is required`,
		`GREENLIGHT_SPEC: the name of the Analysis to start is required`,
		`GREENLIGHT_ECS_CALLBACK_DELAY: at least 1s, got 100ms`,
	} {
		assert.Contains(t, err.Error(), want)
	}

	_, err = awshook.FromEnv(env(map[string]string{"GREENLIGHT_URL": "https://ci:" + token + "@greenlight.internal", "GREENLIGHT_SPEC": "x", "GREENLIGHT_ECS_MAX_ERRORS": "0"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GREENLIGHT_URL: no credentials in the URL: set GREENLIGHT_TOKEN")
	assert.Contains(t, err.Error(), "GREENLIGHT_ECS_MAX_ERRORS: at least 1, got 0")
	assert.NotContains(t, err.Error(), token)
}
