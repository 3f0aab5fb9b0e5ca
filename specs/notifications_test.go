package specs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const notificationsDoc = `apiVersion: greenlight/v1
kind: Notifications
metadata: {name: daemon}
retry: {maxAttempts: 5}
endpoints:
  - name: deploy-bot
    kind: webhook
    url: "${BOT_URL}"
    secrets: ["${BOT_SECRET}"]
    headers: {Authorization: "Bearer ${GATEWAY_TOKEN}"}
    events: [decided, analysis.aborted]
    timeout: 3s
    allAnalyses: true
  - {name: deploys-channel, kind: slack, url: "${SLACK_URL}"}
---
apiVersion: greenlight/v1
kind: Analysis
metadata: {name: checkout}
environments: {blue: {url: "http://blue"}, green: {url: "http://green"}}
baseline: blue
candidate: green
monitors: [{name: probe, every: 1s, step: {http: {url: /health}}}]
checks: [{name: errors, errorRate: {from: probe, maxIncrease: 1%}}]
notify: [deploys-channel]
`

var notificationEnv = map[string]string{
	"BOT_URL":       "https://bot.example.com/hooks/4f1c2e9a7b3d",
	"BOT_SECRET":    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"GATEWAY_TOKEN": "gateway-token-31415926",
	"SLACK_URL":     "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
}

func loadNotifications(t *testing.T, body string) (*Documents, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "specs.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	return Load([]string{path}, LoadOptions{LookupEnv: func(k string) (string, bool) {
		v, ok := notificationEnv[k]
		return v, ok
	}})
}

func TestNotificationsLoad(t *testing.T) {
	docs, err := loadNotifications(t, notificationsDoc)
	require.NoError(t, err)
	ns := docs.Notifications
	require.NotNil(t, ns)
	require.Len(t, ns.Endpoints, 2)
	bot := ns.Endpoint("deploy-bot")
	require.NotNil(t, bot)
	assert.Equal(t, "webhook", bot.Kind)
	assert.Equal(t, Secret(notificationEnv["BOT_URL"]), bot.URL, "${ENV} expanded")
	assert.Equal(t, []Secret{Secret(notificationEnv["BOT_SECRET"])}, bot.Secrets)
	assert.Equal(t, Secret("Bearer "+notificationEnv["GATEWAY_TOKEN"]), bot.Headers["Authorization"])
	assert.Equal(t, []string{"decided", "analysis.aborted"}, bot.Events)
	assert.Equal(t, 3*time.Second, bot.Timeout.D())
	assert.True(t, bot.AllAnalyses)
	assert.Equal(t, 5, ns.Retry.MaxAttempts)
	assert.Equal(t, 6, bot.Pos.Line)
	assert.Nil(t, ns.Endpoint("nope"))
	assert.Equal(t, []string{"deploys-channel"}, docs.Analysis("checkout").Notify)
	require.NoError(t, docs.NotifyErrors())

	// Secrets never print: not in YAML, JSON or %v.
	rd := ns.Redactor()
	y, err := yaml.Marshal(ns)
	require.NoError(t, err)
	j, err := json.Marshal(ns)
	require.NoError(t, err)
	for _, out := range []string{string(y), string(j), fmt.Sprintf("%v %+v", ns, *bot)} {
		for k, v := range notificationEnv {
			assert.NotContains(t, out, v, "%s leaked", k)
		}
	}
	for k, v := range notificationEnv {
		assert.Equal(t, "<secret>", rd.Redact(v), "the redactor knows %s", k)
	}
	assert.NotContains(t, rd.Redact("401 from gateway: token gateway-token-31415926 refused"), notificationEnv["GATEWAY_TOKEN"])
}

// TestNotifyWithoutNotifications: Load (greenlight verify, validate) accepts an analysis whose
// notify names endpoints declared elsewhere; the daemon, which delivers, does not.
func TestNotifyWithoutNotifications(t *testing.T) {
	docs, err := loadNotifications(t, notificationsDoc[len("---\n")+strings.Index(notificationsDoc, "---\n"):])
	require.NoError(t, err)
	require.Nil(t, docs.Notifications)
	err = docs.NotifyErrors()
	require.Error(t, err)
	assert.Regexp(t, `specs.yaml:9:10: notify: no Notifications document is loaded, so there is no endpoint "deploys-channel"`, err.Error())
}

func TestEventName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"decided", "decided", true},
		{"analysis.decided", "decided", true},
		{"analysis.smoke_done", "smoke_done", true},
		{"decide", "", false},
		{"analysis.", "", false},
		{"", "", false},
	} {
		got, ok := EventName(tc.in)
		assert.Equal(t, tc.want, got, tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
	}
}
