package datadog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/analysis/source"
)

// assertNoSecret fails if text holds either key, plain or escaped.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, k := range []string{testAPIKey, testAppKey} {
		for _, form := range []string{k, url.QueryEscape(k), k[:16]} {
			assert.NotContains(t, text, form, "%s holds a key", what)
		}
	}
}

// printed renders an error every way a caller might.
func printed(err error) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%q"} {
		fmt.Fprintf(&b, verb+"\n", err)
	}
	var se *source.Error
	if errors.As(err, &se) {
		fmt.Fprintf(&b, "%+v\n%v\n", *se, se.Err)
		j, _ := json.Marshal(se)
		b.Write(j)
	}
	return b.String()
}

// The server echoes the keys it was sent, as a misbehaving proxy or a verbose API error might.
func TestSecretsNeverInErrorsLogsOrResults(t *testing.T) {
	echo := func(status int) func(int, recorded) reply {
		return func(_ int, r recorded) reply {
			msg := "invalid key " + r.header.Get("DD-API-KEY") + " for application " + r.header.Get("DD-APPLICATION-KEY")
			b, _ := json.Marshal(map[string]any{"errors": []string{msg}})
			return reply{status: status, body: string(b)}
		}
	}
	tests := []struct {
		name    string
		respond func(int, recorded) reply
		q       func(t *testing.T) source.Query
		clean   bool // the key never reaches our text at all, so there is nothing to redact
	}{
		{name: "403 echoing the keys", respond: echo(403)},
		{name: "400 echoing the keys", respond: echo(400)},
		{name: "500 echoing the keys, retried", respond: echo(500)},
		{name: "429 echoing the keys, retried", respond: func(n int, r recorded) reply {
			rp := echo(429)(n, r)
			rp.header = map[string]string{"X-RateLimit-Reset": "0"}
			return rp
		}},
		{name: "200 with a body that is not JSON", respond: func(_ int, r recorded) reply {
			return ok("not json " + r.header.Get("DD-API-KEY"))
		}, clean: true},
		{name: "v1 error status echoing the keys", respond: func(_ int, r recorded) reply {
			b, _ := json.Marshal(map[string]any{"status": "error", "error": "bad key " + r.header.Get("DD-APPLICATION-KEY")})
			return ok(string(b))
		}},
		{name: "v2 errors echoing the keys", respond: func(_ int, r recorded) reply {
			b, _ := json.Marshal(map[string]any{"data": map[string]any{"type": "timeseries_response", "attributes": map[string]any{}}, "errors": "bad key " + r.header.Get("DD-API-KEY")})
			return ok(string(b))
		}, q: func(t *testing.T) source.Query {
			q, err := NewFormulaQuery(map[string]string{"a": "sum:m{*}"}, "a")
			require.NoError(t, err)
			return q
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.respond)
			var logs bytes.Buffer
			s, err := New(Config{
				APIKey: testAPIKey, AppKey: testAppKey,
				BaseURL: f.srv.URL, HTTPClient: f.srv.Client(), Backoff: 1,
			}, noEnv, logTo(&logs))
			require.NoError(t, err)
			var q source.Query = mustMetric(t, "sum:m{*}")
			if tt.q != nil {
				q = tt.q(t)
			}
			res, err := s.Fetch(t.Context(), q, green, window)
			require.Error(t, err)
			if !tt.clean {
				assert.Contains(t, err.Error(), "<secret>", "the echoed key is redacted where it was")
			}
			assertNoSecret(t, "error", printed(err))
			assertNoSecret(t, "log", logs.String())
			assertNoSecret(t, "result", fmt.Sprintf("%+v %#v", res, res))
			assertNoSecret(t, "source", fmt.Sprintf("%v %+v %#v", s, s, s))
			require.NotEmpty(t, f.requests())
			assert.Equal(t, testAPIKey, f.requests()[0].header.Get("DD-API-KEY"), "the keys did go on the wire")
		})
	}
}

func TestSecretsNeverInConfigOrSuccessLogs(t *testing.T) {
	f := newFake(t, script(rateLimited("0"), ok(v1OK)))
	var logs bytes.Buffer
	cfg := Config{APIKey: testAPIKey, AppKey: testAppKey, BaseURL: f.srv.URL, HTTPClient: f.srv.Client()}
	s, err := New(cfg, noEnv, logTo(&logs))
	require.NoError(t, err)
	res, err := s.Fetch(t.Context(), mustMetric(t, "sum:m{*}"), green, window)
	require.NoError(t, err)

	printable := cfg
	printable.HTTPClient = nil // holds funcs, which JSON cannot encode
	cfgJSON, err := json.Marshal(printable)
	require.NoError(t, err)
	assertNoSecret(t, "config", fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfgJSON))
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(cfgJSON, &decoded))
	assert.Equal(t, "<secret>", decoded["APIKey"])
	assert.Equal(t, "<secret>", decoded["AppKey"])
	assertNoSecret(t, "result", fmt.Sprintf("%+v", res))
	assert.Contains(t, logs.String(), "retrying", "the retry was logged")
	assert.Contains(t, logs.String(), `"query":"sum:m{*}"`, "queries are logged at debug")
	assertNoSecret(t, "log", logs.String())
}

func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
