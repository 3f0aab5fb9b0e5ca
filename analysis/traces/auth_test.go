package traces

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/greenlight/greenlight/analysis/source"
	"github.com/greenlight/greenlight/specs"
)

const testToken = "s3cr3t-otlp-token"

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// export posts body to the receiver over real HTTP with the given Authorization header (none
// when empty) and returns the status, the response headers and the body.
func export(t *testing.T, srv *httptest.Server, body []byte, contentType, authorization string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/traces", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, raw
}

func TestReceiveAuth(t *testing.T) {
	body := protoBody(t, twoEnvs("service.version"))
	tests := []struct {
		name          string
		authorization string
		status        int
		challenge     string // WWW-Authenticate of a 401
		message       string // google.rpc.Status message of a 401
	}{
		{"right token", "Bearer " + testToken, http.StatusOK, "", ""},
		{"scheme in any case", "bearer " + testToken, http.StatusOK, "", ""},
		{"no header", "", http.StatusUnauthorized, `Bearer realm="otlp"`, "missing bearer token"},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, `Bearer realm="otlp"`, "missing bearer token"},
		{"basic auth", "Basic " + testToken, http.StatusUnauthorized, `Bearer realm="otlp"`, "missing bearer token"},
		{"token without scheme", testToken, http.StatusUnauthorized, `Bearer realm="otlp"`, "missing bearer token"},
		// Wrong tokens of every length take the same path: both sides are hashed, then compared
		// with subtle.ConstantTimeCompare.
		{"wrong token of the same length", "Bearer " + testToken[:len(testToken)-1] + "X", http.StatusUnauthorized,
			`Bearer realm="otlp", error="invalid_token"`, "wrong bearer token"},
		{"prefix of the token", "Bearer " + testToken[:4], http.StatusUnauthorized, `Bearer realm="otlp", error="invalid_token"`, "wrong bearer token"},
		{"token and more", "Bearer " + testToken + "x", http.StatusUnauthorized, `Bearer realm="otlp", error="invalid_token"`, "wrong bearer token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs lockedBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			r, err := newStandalone(testConfig{Values: map[string]string{"v1": "blue", "v2": "green"}, Token: specs.Secret(testToken)}, logger)
			require.NoError(t, err)
			srv := httptest.NewServer(r)
			defer srv.Close()

			status, header, raw := export(t, srv, body, contentProto, tt.authorization)
			require.Equal(t, tt.status, status, string(raw))
			st := r.Stats()
			if tt.status == http.StatusOK {
				assert.Equal(t, 3, st.Environments["blue"].Held)
				assert.Zero(t, st.Refused)
				res, err := r.Fetch(t.Context(), OperationLatency{}, source.Env{Name: "blue"}, source.Window{})
				require.NoError(t, err)
				assert.Empty(t, res.Warnings)
				return
			}
			assert.Equal(t, tt.challenge, header.Get("WWW-Authenticate"))
			assert.Equal(t, contentProto, header.Get("Content-Type"))
			rec := httptest.NewRecorder()
			maps.Copy(rec.Header(), header)
			rec.Body.Write(raw)
			code, msg := rpcStatus(t, rec)
			assert.Equal(t, rpcUnauthenticated, code)
			assert.Equal(t, tt.message, msg)
			assert.Zero(t, st.Environments["blue"].Accepted, "nothing of a refused request is kept")
			assert.Zero(t, st.Environments["green"].Accepted)
			assert.EqualValues(t, 1, st.Refused)

			// The refusal explains the missing data.
			_, err = r.Fetch(t.Context(), OperationLatency{}, source.Env{Name: "blue"}, source.Window{})
			require.ErrorIs(t, err, source.ErrNoData)
			assert.Contains(t, err.Error(), "(1 OTLP request refused: missing or wrong bearer token)")

			// Neither what was sent nor the token shows anywhere.
			for what, out := range map[string]string{"logs": logs.String(), "response": string(raw), "error": err.Error(),
				"receiver": fmt.Sprintf("%+v %#v %#v %+v", r.Receiver, r.Receiver.cfg, r.View.cfg, r.routes.Load())} {
				assert.NotContains(t, out, testToken[:4], what)
			}
			assert.Contains(t, logs.String(), "level=WARN msg=\"otlp traces: refused a request: "+tt.message)
		})
	}
}

// Refusals are counted across requests and shown in the warnings of queries that do find data;
// a JSON request gets its error in JSON.
func TestReceiveAuthCountsRefusals(t *testing.T) {
	r := newTestReceiver(t, testConfig{Token: specs.Secret(testToken)})
	srv := httptest.NewServer(r)
	defer srv.Close()

	body := jsonBody(t, twoEnvs("service.version"))
	for i := range 12 {
		status, header, raw := export(t, srv, body, contentJSON, fmt.Sprintf("Bearer guess-%d", i))
		require.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, contentJSON, header.Get("Content-Type"))
		var s struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		require.NoError(t, json.Unmarshal(raw, &s), string(raw))
		assert.Equal(t, rpcUnauthenticated, s.Code)
		assert.Equal(t, "wrong bearer token", s.Message)
	}
	status, _, raw := export(t, srv, body, contentJSON, "Bearer "+testToken)
	require.Equal(t, http.StatusOK, status, string(raw))
	er := ptraceotlp.NewExportResponse()
	require.NoError(t, er.UnmarshalJSON(raw))
	assert.Zero(t, er.PartialSuccess().RejectedSpans())

	assert.EqualValues(t, 12, r.Stats().Refused)
	res, err := r.Fetch(t.Context(), OperationErrors{}, source.Env{Name: "green"}, source.Window{})
	require.NoError(t, err)
	assert.Equal(t, source.Counts{Total: 2}, *res.Counts)
	assert.Equal(t, []string{"12 OTLP requests refused: missing or wrong bearer token"}, res.Warnings)
}

// Without a token the receiver takes every request: the caller only allows that on loopback.
func TestReceiveWithoutTokenTakesAll(t *testing.T) {
	r := newTestReceiver(t, testConfig{})
	srv := httptest.NewServer(r)
	defer srv.Close()
	status, _, raw := export(t, srv, protoBody(t, twoEnvs("service.version")), contentProto, "Bearer anything")
	require.Equal(t, http.StatusOK, status, string(raw))
	assert.Zero(t, r.Stats().Refused)
	assert.Equal(t, 3, r.Stats().Environments["blue"].Held)
}

// A shared receiver accepts the union of its own token and its open views' tokens. With none it
// takes every request; once a view (or the receiver) has one, every request needs one of them;
// a closed view's token is refused. A view counts only the refusals since it opened.
func TestSharedReceiverTokens(t *testing.T) {
	const tokenA, tokenB, tokenR = "token-of-analysis-a", "token-of-analysis-b", "token-of-the-receiver"
	td := ptrace.NewTraces()
	spansOf(td, 1, 1, "GET /a", "service.version", "v1")
	body := protoBody(t, td)
	status := func(r *Receiver, authorization string) int {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentProto)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	type want struct{ none, a, b, r int }
	check := func(t *testing.T, r *Receiver, step string, w want) {
		t.Helper()
		got := want{status(r, ""), status(r, "Bearer "+tokenA), status(r, "Bearer "+tokenB), status(r, "Bearer "+tokenR)}
		assert.Equal(t, w, got, step)
	}
	const ok, no = http.StatusOK, http.StatusUnauthorized

	t.Run("views' tokens", func(t *testing.T) {
		r := newShared(t, Config{})
		open := openView(t, r, ViewConfig{Values: map[string]string{"v1": "blue"}})
		defer open.Close()
		check(t, r, "no token anywhere: loopback rules", want{ok, ok, ok, ok})
		a := openView(t, r, ViewConfig{Values: map[string]string{"v2": "green"}, Token: tokenA})
		check(t, r, "a's token is now required of everyone", want{no, ok, no, no})
		b := openView(t, r, ViewConfig{Values: map[string]string{"v3": "green"}, Token: tokenB})
		check(t, r, "a's or b's", want{no, ok, ok, no})
		assert.EqualValues(t, 5, a.Stats().Refused)
		assert.EqualValues(t, 2, b.Stats().Refused, "refusals since b opened")
		a.Close()
		check(t, r, "a's token went with its view", want{no, no, ok, no})
		b.Close()
		check(t, r, "no token left", want{ok, ok, ok, ok})
		assert.EqualValues(t, 8, r.Stats().Refused)
		assert.EqualValues(t, 8, open.Stats().Refused)
	})
	t.Run("receiver's token", func(t *testing.T) {
		r := newShared(t, Config{Token: tokenR})
		check(t, r, "required without views", want{no, no, no, ok})
		a := openView(t, r, ViewConfig{Values: map[string]string{"v1": "blue"}, Token: tokenA})
		check(t, r, "and a view's", want{no, ok, no, ok})
		a.Close()
		check(t, r, "the receiver's stays", want{no, no, no, ok})
	})
}

func TestCheckListener(t *testing.T) {
	open := newShared(t, Config{})
	guarded := newShared(t, Config{Token: testToken})
	// A view's token does not make an exposed listener safe: it goes when the view closes.
	defer openView(t, open, ViewConfig{Values: map[string]string{"v1": "blue"}, Token: testToken}).Close()
	tests := []struct {
		addr    net.Addr
		exposed bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4318}, false},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 4318}, false},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 4318}, true},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 7), Port: 4318}, true},
		{&net.UnixAddr{Name: "/run/otlp.sock", Net: "unix"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.addr.String(), func(t *testing.T) {
			require.NoError(t, guarded.CheckListener(tt.addr))
			err := open.CheckListener(tt.addr)
			if !tt.exposed {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrExposed)
			assert.EqualError(t, err, "trace receiver reachable from other hosts without a token: "+tt.addr.String()+
				": give the receiver a token, or serve it on loopback")
		})
	}
}
