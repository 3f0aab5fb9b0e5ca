package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
)

// canaryWebhookPayload is Flagger's CanaryWebhookPayload (pkg/apis/flagger/v1beta1/canary.go),
// field for field: what Flagger POSTs to every webhook.
type canaryWebhookPayload struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// callFlaggerWebhook does what Flagger's callWebhook does (pkg/controller/webhook.go): POST the
// payload as JSON with no other header, and treat any status above 202 as a failed check whose
// error is the body. It returns the status too, for the test.
func callFlaggerWebhook(client *http.Client, url string, payload canaryWebhookPayload) (int, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest("POST", url, bytes.NewBuffer(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	r, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return r.StatusCode, err
	}
	if r.StatusCode > 202 {
		return r.StatusCode, errors.New(string(body))
	}
	return r.StatusCode, nil
}

func flaggerAnswer(t *testing.T, err error) flaggerView {
	t.Helper()
	require.Error(t, err)
	var v flaggerView
	require.NoError(t, json.Unmarshal([]byte(err.Error()), &v), "Flagger shows the body: %s", err)
	return v
}

func canary(checksum string, metadata map[string]string) canaryWebhookPayload {
	return canaryWebhookPayload{Name: "podinfo", Namespace: "test", Phase: "Progressing", Checksum: checksum, Metadata: metadata}
}

// TestFlaggerPassesOnlyOnPromote drives the endpoint as Flagger's pre-rollout, rollout and
// confirm-promotion webhooks do, on an in-memory network under a fake clock: every call
// before the verdict fails the check (409, running); then a promote passes (200) and any
// other verdict fails (412) with its reason; the rollback webhook (?hook=rollback) passes only
// on rollback.
func TestFlaggerPassesOnlyOnPromote(t *testing.T) {
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
				d := startDaemon(t, daemonConfig{net: n, tokens: testTokens(t)})
				hook := d.url + "/api/v1/flagger/fast"
				meta := map[string]string{"env.blue": blue, "env.green": green, "token": writeToken, "cmd": "hey -z 1m http://podinfo-canary.test:9898/"}

				status, err := callFlaggerWebhook(d.client, hook, canary("85d557f47b", meta)) // pre-rollout
				assert.Equal(t, http.StatusConflict, status)
				first := flaggerAnswer(t, err)
				assert.Equal(t, "running", first.Verdict)
				assert.False(t, first.Pass)
				require.NotEmpty(t, first.Analysis)
				status, err = callFlaggerWebhook(d.client, hook, canary("85d557f47b", meta)) // rollout, an iteration later
				assert.Equal(t, first.Analysis, flaggerAnswer(t, err).Analysis, "the same revision is the same analysis")
				_, err = callFlaggerWebhook(d.client, hook+"?hook=rollback", canary("85d557f47b", meta))
				assert.Error(t, err, "no rollback while it runs")

				v := d.waitVerdict(readToken, first.Analysis)
				require.Equal(t, tc.want, v.Verdict, v.Reason)
				var a analysisView
				d.callJSON("GET", "/api/v1/analyses/"+first.Analysis, readToken, nil, http.StatusOK, &a)
				assert.Equal(t, map[string]string{"flagger.namespace": "test", "flagger.name": "podinfo", "flagger.checksum": "85d557f47b"}, a.Labels)
				assert.Equal(t, map[string]string{"blue": blue, "green": green}, a.Environments, "environment URLs from the metadata")

				status, err = callFlaggerWebhook(d.client, hook, canary("85d557f47b", meta)) // confirm-promotion
				rollback, rbErr := callFlaggerWebhook(d.client, hook+"?hook=rollback", canary("85d557f47b", meta))
				switch tc.want {
				case "promote":
					assert.NoError(t, err, "a promote passes the check")
					assert.Equal(t, http.StatusOK, status)
					assert.Error(t, rbErr, "and does not roll back")
					assert.Equal(t, http.StatusConflict, rollback)
				default:
					assert.Equal(t, http.StatusPreconditionFailed, status)
					got := flaggerAnswer(t, err)
					assert.Equal(t, "rollback", got.Verdict)
					assert.Contains(t, got.Reason, "p95", "the reason Flagger shows in its events")
					assert.NoError(t, rbErr, "the rollback webhook passes: Flagger rolls back")
				}

				// A new revision of the canary is a new analysis.
				_, err = callFlaggerWebhook(d.client, hook, canary("9f0e1d2c3b", meta))
				assert.NotEqual(t, first.Analysis, flaggerAnswer(t, err).Analysis)
				d.stop()
			})
		})
	}
}

// TestFlaggerRequests: what the endpoint refuses, and how it authenticates a caller that
// cannot send headers.
func TestFlaggerRequests(t *testing.T) {
	blue, green := serveApps(t, app.Config{}, app.Config{})
	d := startDaemon(t, daemonConfig{tokens: testTokens(t)})
	meta := func(token string) map[string]string {
		return map[string]string{"env.blue": blue, "env.green": green, "token": token}
	}
	hook := d.url + "/api/v1/flagger/long"

	status, _ := callFlaggerWebhook(d.client, hook, canary("c1", map[string]string{"env.blue": blue, "env.green": green}))
	assert.Equal(t, http.StatusUnauthorized, status, "no token")
	status, _ = callFlaggerWebhook(d.client, hook, canary("c1", meta(readToken)))
	assert.Equal(t, http.StatusForbidden, status, "a read token cannot start analyses")
	status, err := callFlaggerWebhook(d.client, hook, canary("c1", meta(writeToken)))
	assert.Equal(t, http.StatusConflict, status)
	running := flaggerAnswer(t, err)
	assert.Equal(t, "running", running.Verdict)

	// A token in the Authorization header works too (a proxy in front may set it).
	b, _ := json.Marshal(canary("c1", map[string]string{}))
	req, _ := http.NewRequest("POST", hook, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := d.client.Do(req)
	require.NoError(t, err)
	var v flaggerView
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	resp.Body.Close()
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, running.Analysis, v.Analysis)

	// An abort is not a promote: the check fails with the reason.
	d.callJSON("POST", "/api/v1/analyses/"+running.Analysis+"/abort", writeToken, abortRequest{Reason: "bad image"}, http.StatusOK, nil)
	status, err = callFlaggerWebhook(d.client, hook, canary("c1", meta(writeToken)))
	assert.Equal(t, http.StatusPreconditionFailed, status)
	aborted := flaggerAnswer(t, err)
	assert.Equal(t, "interrupted", aborted.State)
	assert.Contains(t, aborted.Reason, "bad image")

	for _, tc := range []struct {
		name    string
		url     string
		payload canaryWebhookPayload
		status  int
		want    string
	}{
		{"an unknown spec", d.url + "/api/v1/flagger/nope", canary("c2", meta(writeToken)), http.StatusUnprocessableEntity, `no analysis named \"nope\"`},
		{"a misspelt environment leaves green without a URL", hook, canary("c2", map[string]string{"env.blue": blue, "env.gren": green, "token": writeToken}), http.StatusUnprocessableEntity, "environment green (candidate) has no URL"},
		{"no checksum", hook, canary("", meta(writeToken)), http.StatusBadRequest, `"field":"checksum"`},
		{"an unknown hook", hook + "?hook=confirm-promotion", canary("c2", meta(writeToken)), http.StatusBadRequest, `"field":"hook"`},
		{"a rollback hook before any analysis", hook + "?hook=rollback", canary("c3", meta(writeToken)), http.StatusConflict, "nothing to roll back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, err := callFlaggerWebhook(d.client, tc.url, tc.payload)
			assert.Equal(t, tc.status, status)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	var list listResponse
	d.callJSON("GET", "/api/v1/analyses?label=flagger.checksum=c3", readToken, nil, http.StatusOK, &list)
	assert.Empty(t, list.Analyses, "a rollback hook starts nothing")
	for _, tok := range []string{writeToken, readToken} {
		assert.NotContains(t, d.logs.String(), tok)
	}
}
