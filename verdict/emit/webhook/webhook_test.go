package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict/emit"
	"github.com/greenlight/greenlight/verdict/emit/webhook"
)

const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	oldSecret    = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD" // 24 bytes
	rawSecret    = "a-raw-shared-secret-of-32-bytes!"
)

// TestSignMatchesTheSpecificationVector: the signature published with Standard Webhooks'
// reference implementations, reproduced exactly — what says a receiver's library accepts ours.
func TestSignMatchesTheSpecificationVector(t *testing.T) {
	s, err := webhook.NewSigner(vectorSecret)
	require.NoError(t, err)
	got := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)

	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", got)
	assert.NoError(t, verify([]string{vectorSecret}, h, []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0)), "the test's verifier agrees")
}

func TestDecodeSecret(t *testing.T) {
	k, err := webhook.DecodeSecret(vectorSecret)
	require.NoError(t, err)
	assert.Len(t, k, 24)
	k, err = webhook.DecodeSecret(rawSecret)
	require.NoError(t, err)
	assert.Equal(t, rawSecret, string(k), "no prefix: the bytes as written")

	for name, s := range map[string]string{
		"bad base64":     "whsec_not*base64!!",
		"short prefixed": "whsec_c2hvcnQ=",
		"short raw":      "hunter2",
		"empty":          "",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := webhook.DecodeSecret(secret.Secret(s))
			require.Error(t, err)
			if s != "" {
				assert.NotContains(t, err.Error(), strings.TrimPrefix(s, "whsec_"), "the error never quotes the secret")
			}
		})
	}
	_, err = webhook.NewSigner()
	assert.ErrorContains(t, err, "no signing secret")
}

// receiver records each request it gets.
type receiver struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	answer   func(w http.ResponseWriter, r *http.Request)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests = append(rc.requests, r)
	rc.bodies = append(rc.bodies, b)
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var payload = []byte(`{"type":"analysis.decided","timestamp":"2026-03-01T12:01:11Z","data":{"apiVersion":"greenlight/v1"}}`)

func sample(id string) emit.Delivery {
	return emit.Delivery{ID: id, Endpoint: "ops", Type: emit.Decided, Timestamp: time.Unix(1772366471, 0), Payload: payload}
}

// TestEmitSignsForRotation: during a rotation each request carries one signature per secret,
// so a receiver that knows only the old secret and one that knows only the new both accept.
func TestEmitSignsForRotation(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	now := time.Unix(1772366500, 0)
	n, err := webhook.New(webhook.Config{
		Name: "ops", URL: secret.Secret(srv.URL + "/hooks/greenlight"),
		Secrets: []secret.Secret{vectorSecret, oldSecret, rawSecret},
		Headers: map[string]secret.Secret{"Authorization": "Bearer gw-token-123456", "X-Team": "payments"},
	}, webhook.Options{Client: srv.Client(), Now: func() time.Time { return now }, UserAgent: "greenlight/1.2.3"})
	require.NoError(t, err)

	retry, err := n.Emit(t.Context(), sample("evt_01"))
	require.NoError(t, err)
	assert.False(t, retry)
	require.Len(t, rc.requests, 1)
	r, body := rc.requests[0], rc.bodies[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/hooks/greenlight", r.URL.Path)
	assert.Equal(t, string(payload), string(body), "the payload's bytes, unchanged")
	assert.Equal(t, "evt_01", r.Header.Get("webhook-id"))
	assert.Equal(t, "1772366500", r.Header.Get("webhook-timestamp"), "this attempt's time, unix seconds")
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "greenlight/1.2.3", r.Header.Get("User-Agent"))
	assert.Equal(t, "Bearer gw-token-123456", r.Header.Get("Authorization"))
	assert.Equal(t, "payments", r.Header.Get("X-Team"))
	sigs := strings.Split(r.Header.Get("webhook-signature"), " ")
	require.Len(t, sigs, 3)
	for _, s := range sigs {
		assert.True(t, strings.HasPrefix(s, "v1,"), s)
	}

	for _, known := range []string{vectorSecret, oldSecret, rawSecret} {
		assert.NoError(t, verify([]string{known}, r.Header, body, now), "a receiver knowing only %.12s… accepts", known)
	}
	other := "whsec_" + "ZGlmZmVyZW50LWtleS0yNC1ieXRlcyE="
	assert.Error(t, verify([]string{other}, r.Header, body, now), "one knowing another secret does not")
}

// TestVerifierRejectsTampering: a changed body, timestamp or id, a replay outside the
// tolerance, or a signature of an unknown scheme fail the independent check.
func TestVerifierRejectsTampering(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	now := time.Unix(1772366500, 0)
	n, err := webhook.New(webhook.Config{Name: "ops", URL: secret.Secret(srv.URL), Secrets: []secret.Secret{vectorSecret}},
		webhook.Options{Client: srv.Client(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	_, err = n.Emit(t.Context(), sample("evt_02"))
	require.NoError(t, err)
	h, body := rc.requests[0].Header, rc.bodies[0]
	keys := []string{vectorSecret}
	require.NoError(t, verify(keys, h, body, now))

	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] = '!'
	assert.Error(t, verify(keys, h, tampered, now), "body changed")

	h2 := h.Clone()
	h2.Set("webhook-timestamp", "1772366501")
	assert.Error(t, verify(keys, h2, body, now), "timestamp changed")

	h3 := h.Clone()
	h3.Set("webhook-id", "evt_03")
	assert.Error(t, verify(keys, h3, body, now), "id changed")

	assert.Error(t, verify(keys, h, body, now.Add(6*time.Minute)), "replayed outside the tolerance")

	h4 := h.Clone()
	h4.Set("webhook-signature", strings.Replace(h.Get("webhook-signature"), "v1,", "v1a,", 1))
	assert.Error(t, verify(keys, h4, body, now), "only v1 is HMAC")
}

func TestEmitClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name  string
		code  int
		retry bool
		gone  bool
	}{
		{"accepted", 200, false, false},
		{"accepted later", 202, false, false},
		{"bad request is never retried", 400, false, false},
		{"unauthorized is never retried", 401, false, false},
		{"gone disables", 410, false, true},
		{"throttled", 429, true, false},
		{"server error", 500, true, false},
		{"unavailable", 503, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{answer: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(tt.code)
				_, _ = io.WriteString(w, "answer body")
			}}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			n, err := webhook.New(webhook.Config{Name: "ops", URL: secret.Secret(srv.URL)}, webhook.Options{Client: srv.Client()})
			require.NoError(t, err)
			retry, err := n.Emit(t.Context(), sample("evt_1"))
			assert.Equal(t, tt.retry, retry)
			if tt.code < 300 {
				require.NoError(t, err)
				assert.Empty(t, rc.requests[0].Header.Get("webhook-signature"), "no secret: unsigned")
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.gone, errors.Is(err, emit.ErrGone))
			var se *emit.StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.code, se.Code)
			assert.Equal(t, "30", se.RetryAfter)
			assert.Contains(t, err.Error(), "webhook ops: status ")
			assert.Contains(t, err.Error(), "answer body")
		})
	}
}

func TestEmitDoesNotFollowRedirects(t *testing.T) {
	moved := &receiver{}
	target := httptest.NewServer(moved)
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = nil // the default policy follows; the notifier must not
	n, err := webhook.New(webhook.Config{Name: "ops", URL: secret.Secret(srv.URL)}, webhook.Options{Client: client})
	require.NoError(t, err)
	retry, err := n.Emit(t.Context(), sample("evt_1"))
	assert.False(t, retry)
	assert.ErrorContains(t, err, "status 307")
	assert.Empty(t, moved.requests, "the redirect was not followed")
	assert.Nil(t, client.CheckRedirect, "the caller's client is left as it was")
}

// TestEmitErrorsHoldNoSecret: neither a refused connection nor an answer that echoes the
// request shows the URL's token, the signing secret or a configured header's value.
func TestEmitErrorsHoldNoSecret(t *testing.T) {
	const (
		pathToken  = "T0AAAAAA/B0BBBBBB/XxXxXxXxXxXxXxXxXxXx"
		queryToken = "q-tok-9876543210"
		authToken  = "gw-token-123456"
	)
	echo := &receiver{answer: func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "bad request to "+r.URL.String()+" auth="+r.Header.Get("Authorization")+" sig="+r.Header.Get("webhook-signature"))
	}}
	srv := httptest.NewServer(echo)
	defer srv.Close()
	cfg := webhook.Config{
		Name: "ops", URL: secret.Secret(srv.URL + "/services/" + pathToken + "?token=" + queryToken),
		Secrets: []secret.Secret{rawSecret},
		Headers: map[string]secret.Secret{"Authorization": "Bearer " + authToken},
	}
	n, err := webhook.New(cfg, webhook.Options{Client: srv.Client()})
	require.NoError(t, err)
	_, err = n.Emit(t.Context(), sample("evt_1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status 400")
	for _, s := range []string{pathToken, queryToken, authToken, rawSecret} {
		assert.NotContains(t, err.Error(), s)
	}

	srv.Close()
	retry, err := n.Emit(t.Context(), sample("evt_1"))
	require.Error(t, err)
	assert.True(t, retry, "a refused connection is retried")
	for _, s := range []string{pathToken, queryToken, "/services/"} {
		assert.NotContains(t, err.Error(), s)
	}
	assert.True(t, strings.HasPrefix(err.Error(), "webhook ops: Post: "), err.Error())
}

// TestEmitTimesOut: an endpoint that never answers costs exactly the configured timeout, and
// the attempt is retryable.
func TestEmitTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := memnet.New()
		url := net.Serve(t, "hooks.test:80", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client hanging up
			<-r.Context().Done()
		}))
		n, err := webhook.New(webhook.Config{Name: "ops", URL: secret.Secret(url), Timeout: 7 * time.Second},
			webhook.Options{Client: net.Client()})
		require.NoError(t, err)
		start := time.Now()
		retry, err := n.Emit(t.Context(), sample("evt_1"))
		assert.Equal(t, 7*time.Second, time.Since(start))
		assert.True(t, retry)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, "webhook ops: Post: timeout: context deadline exceeded", err.Error())
	})
}

func TestNewChecksTheConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  webhook.Config
		want string
	}{
		{"no name", webhook.Config{URL: "https://x.test"}, "needs a name"},
		{"no url", webhook.Config{Name: "a"}, `webhook "a": url must be an absolute http or https URL`},
		{"relative url", webhook.Config{Name: "a", URL: "/hooks"}, "url must be an absolute"},
		{"other scheme", webhook.Config{Name: "a", URL: "ftp://user:pw-123@x.test"}, "url must be an absolute"},
		{"short secret", webhook.Config{Name: "a", URL: "https://x.test", Secrets: []secret.Secret{"whsec_c2hvcnQ="}}, "secret 1: signing key is 5 bytes"},
		{"reserved header", webhook.Config{Name: "a", URL: "https://x.test", Headers: map[string]secret.Secret{"webhook-id": "x"}}, "header Webhook-Id is set by greenlight"},
		{"content type", webhook.Config{Name: "a", URL: "https://x.test", Headers: map[string]secret.Secret{"content-type": "text/plain"}}, "header Content-Type is set by greenlight"},
		{"header injection", webhook.Config{Name: "a", URL: "https://x.test", Headers: map[string]secret.Secret{"X-A": "1\r\nX-B: 2"}}, "header X-A: a value cannot hold a line break"},
		{"header name", webhook.Config{Name: "a", URL: "https://x.test", Headers: map[string]secret.Secret{"X Team": "a"}}, `header "X Team": invalid name`},
		{"header name with a colon", webhook.Config{Name: "a", URL: "https://x.test", Headers: map[string]secret.Secret{"X-Team:": "a"}}, "invalid name"},
		{"negative timeout", webhook.Config{Name: "a", URL: "https://x.test", Timeout: -time.Second}, "timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.New(tt.cfg, webhook.Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "pw-123")
		})
	}
}
