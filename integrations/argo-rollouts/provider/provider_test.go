package provider

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const token = "s3cret-token-of-the-daemon-0123"

// These tests hold the plugin to what it makes of answers greenlight serve never gives — a
// foreign server, a broken proxy — and of bad configurations; the tests of the module's root
// run it through Argo's plugin client against a real daemon.

func newProvider(t *testing.T) *Provider {
	t.Helper()
	p := New(slog.New(slog.DiscardHandler))
	p.getenv = func(name string) string {
		if name == DefaultTokenEnv {
			return token
		}
		return ""
	}
	return p
}

func metricWith(t *testing.T, cfg map[string]any) v1alpha1.Metric {
	t.Helper()
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	return v1alpha1.Metric{Name: "greenlight", Provider: v1alpha1.MetricProvider{Plugin: map[string]json.RawMessage{Name: raw}}}
}

func baseConfig(addr string) map[string]any {
	return map[string]any{"address": addr, "spec": "checkout", "key": "k-1", "environments": map[string]string{"stable": "http://s", "preview": "http://p"}}
}

var run = &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-7f9c-1-pre"}}

func TestConfigErrorsAreMeasurementErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"no address", map[string]any{"spec": "checkout"}, "address: required"},
		{"not a URL", map[string]any{"address": "greenlight:8080", "spec": "checkout"}, `address: "greenlight:8080" is not an http(s) URL`},
		{"credentials in the address", map[string]any{"address": "http://u:pw@greenlight", "spec": "checkout"}, "address: no credentials in the URL"},
		{"no spec", map[string]any{"address": "http://greenlight"}, "spec: required"},
		{"unknown field", map[string]any{"address": "http://greenlight", "spec": "checkout", "adress": "x"}, `unknown field "adress"`},
		{"bad duration", map[string]any{"address": "http://greenlight", "spec": "checkout", "pollInterval": "soon"}, `time: invalid duration "soon"`},
		{"duration out of bounds", map[string]any{"address": "http://greenlight", "spec": "checkout", "pollInterval": "100ms", "timeout": "5m"}, "pollInterval: 100ms is not between 1s and 10m; timeout: 5m0s is not between 1s and 1m"},
		{"unknown mode", map[string]any{"address": "http://greenlight", "spec": "checkout", "mode": "later", "watch": "-1m"}, `mode: "later": want verify or watch; watch: -1m0s is not above zero`},
		{"key too long", map[string]any{"address": "http://greenlight", "spec": "checkout", "key": strings.Repeat("k", 257)}, "key: longer than 256 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newProvider(t).Run(run, metricWith(t, tc.cfg))
			assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
			assert.Contains(t, m.Message, tc.want)
			assert.Contains(t, m.Message, `metric "greenlight"`)
			assert.NotNil(t, m.FinishedAt)
		})
	}
	t.Run("no configuration for this plugin", func(t *testing.T) {
		m := newProvider(t).Run(run, v1alpha1.Metric{Name: "greenlight"})
		assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
		assert.Contains(t, m.Message, `has no provider.plugin["greenlight/greenlight"]`)
	})
}

// server answers every request with status, content type and body, and records the requests.
func server(t *testing.T, status int, contentType, body string) (*httptest.Server, *[]*http.Request) {
	t.Helper()
	var reqs []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(data)))
		reqs = append(reqs, r)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing either
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &reqs
}

func TestAnswersThatAreNotVerdictsAreErrors(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"a page that is not JSON", "text/html", "<html>Sign in</html>", 200, "answered 200 with text/html, not JSON: is"},
		{"no content type", "", `{"id":"a1","verdict":"promote"}`, 200, "answered 200 with no Content-Type, not JSON"},
		{"broken JSON", "application/json", `{"id":`, 200, "unexpected end of JSON input"},
		{"no analysis id", "application/json", `{"verdict":"promote"}`, 200, "greenlight's answer names no analysis"},
		{"an unknown verdict", "application/json", `{"id":"a1","verdict":"maybe"}`, 200, `greenlight answered an unknown verdict "maybe"`},
		{"the daemon's error", "application/json", `{"error":"invalid analysis request","fields":[{"field":"spec","message":"no analysis named \"checkout\""}]}`, 422,
			`POST /api/v1/analyses: greenlight answered 422: invalid analysis request; spec: no analysis named "checkout"`},
		{"a proxy's error", "text/plain", "upstream connect error", 503, "greenlight answered 503: upstream connect error"},
		{"a server echoing the token", "text/plain", "bad token: Bearer " + token, 401, "greenlight answered 401: bad token: Bearer <secret>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := server(t, tc.status, tc.contentType, tc.body)
			m := newProvider(t).Run(run, metricWith(t, baseConfig(srv.URL)))
			assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase, "never a success: %s", m.Message)
			assert.Contains(t, m.Message, tc.want)
			assert.NotContains(t, m.Message, token)
		})
	}
	t.Run("an answer too large", func(t *testing.T) {
		srv, _ := server(t, 200, "application/json", `{"id":"a1","verdict":"promote","reason":"`+strings.Repeat("x", maxAnswerBytes)+`"}`)
		m := newProvider(t).Run(run, metricWith(t, baseConfig(srv.URL)))
		assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
		assert.Contains(t, m.Message, "the answer is larger than 4194304 bytes")
	})
	t.Run("no token configured", func(t *testing.T) {
		srv, reqs := server(t, 401, "application/json", `{"error":"missing or invalid token"}`)
		p := newProvider(t)
		p.getenv = func(string) string { return "" }
		m := p.Run(run, metricWith(t, baseConfig(srv.URL)))
		assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
		assert.Contains(t, m.Message, "greenlight answered 401: missing or invalid token (no token was sent: set the controller's environment variable named by tokenEnv)")
		require.Len(t, *reqs, 1)
		assert.Empty(t, (*reqs)[0].Header.Get("Authorization"))
	})
	t.Run("no answer in time", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body) // the server notices the client leave only once the body is read
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		cfg := baseConfig(srv.URL)
		cfg["timeout"] = "1s"
		m := newProvider(t).Run(run, metricWith(t, cfg))
		assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
		assert.Equal(t, "greenlight at "+srv.URL+" did not answer within 1s (timeout)", m.Message)
	})
}

func TestVerdictsBecomePhases(t *testing.T) {
	cases := []struct {
		verdict string
		phase   v1alpha1.AnalysisPhase
	}{
		{"promote", v1alpha1.AnalysisPhaseSuccessful},
		{"rollback", v1alpha1.AnalysisPhaseFailed},
		{"inconclusive", v1alpha1.AnalysisPhaseInconclusive},
	}
	for _, tc := range cases {
		t.Run(tc.verdict, func(t *testing.T) {
			srv, reqs := server(t, 200, "application/json", `{"id":"a1","verdict":"`+tc.verdict+`","reason":"p95: 212ms vs 141ms"}`)
			m := newProvider(t).Run(run, metricWith(t, baseConfig(srv.URL)))
			assert.Equal(t, tc.phase, m.Phase, m.Message)
			assert.Equal(t, tc.verdict, m.Value)
			assert.Equal(t, tc.verdict+": p95: 212ms vs 141ms", m.Message)
			assert.NotNil(t, m.FinishedAt)
			assert.Nil(t, m.ResumeAt)
			assert.Equal(t, map[string]string{MetadataAnalysis: "a1", MetadataURL: srv.URL + "/api/v1/analyses/a1"}, m.Metadata)
			require.Len(t, *reqs, 1)
			r := (*reqs)[0]
			assert.Equal(t, "POST /api/v1/analyses", r.Method+" "+r.URL.Path)
			assert.Equal(t, "Bearer "+token, r.Header.Get("Authorization"))
			body, _ := io.ReadAll(r.Body)
			assert.JSONEq(t, `{"spec":"checkout","key":"k-1","environments":{"stable":"http://s","preview":"http://p"}}`, string(body))
		})
	}
}

// TestWatchModeIsSent: a post-promotion metric asks for the watch alone, for as long as it says.
func TestWatchModeIsSent(t *testing.T) {
	srv, reqs := server(t, 200, "application/json", `{"id":"a1","verdict":"running","state":"running"}`)
	cfg := baseConfig(srv.URL)
	cfg["mode"], cfg["watch"] = "watch", "30m"
	m := newProvider(t).Run(run, metricWith(t, cfg))
	assert.Equal(t, v1alpha1.AnalysisPhaseRunning, m.Phase, m.Message)
	require.Len(t, *reqs, 1)
	body, _ := io.ReadAll((*reqs)[0].Body)
	assert.JSONEq(t, `{"spec":"checkout","key":"k-1","environments":{"stable":"http://s","preview":"http://p"},"mode":"watch","watch":"30m0s"}`, string(body))
}

func TestRunningIsResumedLater(t *testing.T) {
	srv, reqs := server(t, 200, "application/json", `{"id":"a1","verdict":"running","state":"running"}`)
	p := newProvider(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	cfg := baseConfig(srv.URL)
	delete(cfg, "key")
	cfg["pollInterval"] = "30s"
	metric := metricWith(t, cfg)
	m := p.Run(run, metric)
	assert.Equal(t, v1alpha1.AnalysisPhaseRunning, m.Phase)
	assert.Nil(t, m.FinishedAt, "a measurement in flight")
	require.NotNil(t, m.ResumeAt)
	assert.Equal(t, now.Add(30*time.Second), m.ResumeAt.Time)
	body, _ := io.ReadAll((*reqs)[0].Body)
	assert.Contains(t, string(body), `"key":"argo-rollouts/shop/checkout-7f9c-1-pre/greenlight"`, "without a key, one per AnalysisRun and metric")

	m = p.Resume(run, metric, m)
	assert.Equal(t, v1alpha1.AnalysisPhaseRunning, m.Phase)
	assert.Equal(t, "GET /api/v1/analyses/a1/verdict", (*reqs)[1].Method+" "+(*reqs)[1].URL.Path)

	t.Run("a measurement without an analysis", func(t *testing.T) {
		m := p.Resume(run, metric, v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning})
		assert.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase)
		assert.Equal(t, "the measurement names no greenlight analysis", m.Message)
	})
}

func TestTerminateAborts(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		srv, reqs := server(t, 200, "application/json", `{"id":"a1","verdict":"inconclusive","state":"interrupted"}`)
		m := newProvider(t).Terminate(run, metricWith(t, baseConfig(srv.URL)), v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, Metadata: map[string]string{MetadataAnalysis: "a1"}})
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, m.Phase, "as Argo's own providers end a terminated measurement")
		assert.Contains(t, m.Message, "greenlight's analysis a1 was aborted")
		require.Len(t, *reqs, 1)
		assert.Equal(t, "POST /api/v1/analyses/a1/abort", (*reqs)[0].Method+" "+(*reqs)[0].URL.Path)
		body, _ := io.ReadAll((*reqs)[0].Body)
		assert.JSONEq(t, `{"reason":"Argo Rollouts terminated AnalysisRun shop/checkout-7f9c-1-pre","by":"argo-rollouts"}`, string(body))
	})
	t.Run("already decided", func(t *testing.T) {
		srv, _ := server(t, 409, "application/json", `{"error":"analysis a1 is already decided: promote"}`)
		m := newProvider(t).Terminate(run, metricWith(t, baseConfig(srv.URL)), v1alpha1.Measurement{Metadata: map[string]string{MetadataAnalysis: "a1"}})
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, m.Phase)
		assert.Equal(t, "terminated by Argo Rollouts after greenlight decided", m.Message)
	})
	t.Run("the daemon cannot be told", func(t *testing.T) {
		srv, _ := server(t, 503, "text/plain", "unavailable")
		m := newProvider(t).Terminate(run, metricWith(t, baseConfig(srv.URL)), v1alpha1.Measurement{Metadata: map[string]string{MetadataAnalysis: "a1"}})
		assert.Equal(t, v1alpha1.AnalysisPhaseSuccessful, m.Phase)
		assert.Contains(t, m.Message, "could not be aborted: POST /api/v1/analyses/a1/abort: greenlight answered 503: unavailable")
	})
}

func TestMetadataLinksTheAnalysis(t *testing.T) {
	srv, _ := server(t, 200, "application/json", `{"id":"a1","verdict":"running"}`)
	p := newProvider(t)
	metric := metricWith(t, baseConfig(srv.URL))
	assert.Equal(t, map[string]string{"greenlight": srv.URL, "spec": "checkout", "key": "k-1"}, p.GetMetadata(metric), "before a start")
	p.Run(run, metric)
	assert.Equal(t, map[string]string{"greenlight": srv.URL, "spec": "checkout", "key": "k-1", MetadataURL: srv.URL + "/api/v1/analyses/a1"}, p.GetMetadata(metric))
	assert.Contains(t, p.GetMetadata(v1alpha1.Metric{Name: "x"})["error"], "has no provider.plugin")
}
