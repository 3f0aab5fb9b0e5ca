package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/endpoints"
)

// TestEventNamesAreEmits: the event names specs checks are verdict/emit's event types.
func TestEventNamesAreEmits(t *testing.T) {
	require.Len(t, specs.EventNames, len(emit.EventTypes))
	for i, name := range specs.EventNames {
		got, err := emit.ParseEventType(name)
		require.NoError(t, err)
		assert.Equal(t, emit.EventTypes[i], got)
	}
}

// notifySpec is a Notifications document sending every event of every analysis to url.
func notifySpec(name, url string) string {
	return `apiVersion: greenlight/v1
kind: Notifications
metadata: {name: daemon}
endpoints:
  - name: ` + name + `
    kind: webhook
    url: "` + url + `"
    secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
    allAnalyses: true
`
}

func TestServeRefusesBadNotifications(t *testing.T) {
	const leak = "https://bot.example.com/hooks/tok3n-in-the-path-0123456789"
	badEndpoints := `apiVersion: greenlight/v1
kind: Notifications
metadata: {name: daemon}
endpoints:
  - {name: teams, kind: teams, url: "` + leak + `"}
  - {name: short, kind: webhook, url: "` + leak + `", secrets: [tooshort]}
  - {name: slacker, kind: slack, url: "ftp://hooks.example.com/x"}
  - {name: hdr, kind: webhook, url: "` + leak + `", headers: {Webhook-Id: "mine"}}
`
	noDoc := serveSpecs + "notify: [deploy-bot]\n"
	cases := []struct {
		name string
		dir  string
		args []string
		want []string
	}{
		{"endpoints the registry refuses", dirWith(t, serveSpecs, badEndpoints), nil, []string{
			`notifications.yaml:5:5: unknown kind "teams" (want one of ` + strings.Join(endpoints.KindNames(), ", ") + `)`,
			`notifications.yaml:6:5: webhook "short": secret 1`,
			`notifications.yaml:7:5: slack "slacker": url must be an absolute http or https URL`,
			`notifications.yaml:8:5: webhook "hdr": `,
		}},
		{"notify without a Notifications document", specDir(t, noDoc), nil, []string{
			`specs.yaml:31:10: notify: no Notifications document is loaded, so there is no endpoint "deploy-bot"`,
		}},
		{"a bad external URL", specDir(t, serveSpecs), []string{"--external-url", "greenlight.example.com"}, []string{
			`--external-url "greenlight.example.com": want an absolute http or https URL`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cli(t, append([]string{"serve", "--config", tc.dir, "--data", t.TempDir()}, tc.args...)...)
			assert.Equal(t, verdict.ExitInvalid, code, errOut)
			for _, w := range tc.want {
				assert.Contains(t, errOut, w)
			}
			assert.NotContains(t, errOut, "tok3n-in-the-path", "an endpoint's URL is never shown")
		})
	}
	t.Run("validate checks them too", func(t *testing.T) {
		code, _, errOut := cli(t, "validate", dirWith(t, serveSpecs, badEndpoints))
		assert.Equal(t, verdict.ExitInvalid, code, errOut)
		assert.Contains(t, errOut, `notifications.yaml:5:5: unknown kind "teams"`)
		assert.NotContains(t, errOut, "tok3n-in-the-path")
	})
}

// dirWith is a spec folder holding specs.yaml and notifications.yaml.
func dirWith(t *testing.T, specBody, notifications string) string {
	t.Helper()
	dir := specDir(t, specBody)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notifications.yaml"), []byte(notifications), 0o600))
	return dir
}

// collector is a webhook receiver that hands each payload to the test.
type collector struct {
	url string
	got chan emit.Payload
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{got: make(chan emit.Payload, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p emit.Payload
		if json.Unmarshal(body, &p) == nil {
			c.got <- p
		}
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL + "/hook"
	return c
}

// next returns the next payload of type typ, skipping the others.
func (c *collector) next(t *testing.T, typ emit.EventType) emit.Payload {
	t.Helper()
	for {
		select {
		case p := <-c.got:
			if p.Type == typ {
				return p
			}
		case <-t.Context().Done():
			t.Fatalf("no %s", typ)
		}
	}
}

// TestServeDeliversAndReloadsEndpoints: the daemon delivers an analysis's events to the
// configured endpoint, with links to --external-url; SIGHUP moves them to a new endpoint; a
// reload with a bad endpoint is refused and the endpoints before are kept.
func TestServeDeliversAndReloadsEndpoints(t *testing.T) {
	blue := startApp(t, app.Config{})
	failing := startApp(t, app.Config{Faults: app.Faults{ErrorRate: map[string]float64{"/health": 1}}})
	first, second := newCollector(t), newCollector(t)
	dir := dirWith(t, serveSpecs, notifySpec("first", first.url))
	s := startServe(t, "--config", dir, "--data", t.TempDir(), "--external-url", "https://greenlight.example.com/")
	start := func() string {
		var a struct{ ID string }
		require.Equal(t, http.StatusCreated, s.call(t, "POST", "/api/v1/analyses", "", `{"spec": "gate", "environments": {"blue": "`+blue+`", "green": "`+failing+`"}}`, &a))
		return a.ID
	}

	id := start()
	p := first.next(t, emit.Decided)
	assert.Equal(t, id, p.Data.Analysis.ID)
	assert.Equal(t, verdict.Rollback, p.Data.Verdict.Decision)
	require.NotNil(t, p.Data.Links)
	assert.Equal(t, "https://greenlight.example.com/api/v1/analyses/"+id, p.Data.Links.API)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "notifications.yaml"), []byte(notifySpec("second", second.url)), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	s.waitLog(t, "greenlight: specs reloaded: 2 analyses, 1 suites, 1 endpoints")
	later := map[string]bool{}
	id = start()
	later[id] = true
	assert.Equal(t, id, second.next(t, emit.Decided).Data.Analysis.ID, "the new endpoint gets the events")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "notifications.yaml"), []byte(strings.Replace(notifySpec("third", first.url), "kind: webhook", "kind: carrier-pigeon", 1)), 0o600))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGHUP))
	refused := s.waitLog(t, "greenlight: reload refused")
	assert.Contains(t, refused, `notifications.yaml:5:5: unknown kind "carrier-pigeon"`)
	id = start()
	later[id] = true
	assert.Equal(t, id, second.next(t, emit.Decided).Data.Analysis.ID, "the endpoints before are kept")
	assert.Equal(t, verdict.ExitPass, s.stop(t), s.logs())

	for {
		select {
		case p := <-first.got:
			assert.False(t, later[p.Data.Analysis.ID], "the first endpoint got %s of %s after it was replaced", p.Type, p.Data.Analysis.ID)
		default:
			return
		}
	}
}
