package traces

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/greenlight/greenlight/analysis/source"
)

func TestNewReceiverConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  testConfig
		want string // error substring; empty: valid
	}{
		{"defaults", testConfig{Values: map[string]string{"v1": "blue"}}, ""},
		{"no values", testConfig{}, "values must map"},
		{"empty environment", testConfig{Values: map[string]string{"v1": " "}}, "empty environment name"},
		{"negative body cap", testConfig{Values: map[string]string{"v1": "blue"}, MaxBodyBytes: -1}, "maxBodyBytes"},
		{"negative spans", testConfig{Values: map[string]string{"v1": "blue"}, MaxSpans: -1}, "maxSpans"},
		{"factor of one", testConfig{Values: map[string]string{"v1": "blue"}, ShapeFactor: 1}, "shapeFactor"},
		{"negative min traces", testConfig{Values: map[string]string{"v1": "blue"}, ShapeMinTraces: -1}, "shapeMinTraces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newStandalone(tt.cfg, nil)
			if tt.want == "" {
				require.NoError(t, err)
				assert.Equal(t, DefaultAttribute, r.View.cfg.Attribute)
				assert.EqualValues(t, DefaultMaxBodyBytes, r.Receiver.cfg.MaxBodyBytes)
				assert.Equal(t, DefaultMaxSpans, r.Receiver.cfg.MaxSpans)
				assert.Equal(t, DefaultMaxKeys, r.Receiver.cfg.MaxKeys)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	_, err := NewReceiver(Config{MaxKeys: -1}, nil)
	require.ErrorIs(t, err, ErrConfig)
	assert.ErrorContains(t, err, "maxKeys")
}

// twoEnvs builds a request with one v1/blue and one v2/green resource under attr, three spans
// in blue and two in green.
func twoEnvs(attr string) ptrace.Traces {
	td := ptrace.NewTraces()
	blue := resource(td, "service.name", "checkout", attr, "v1")
	for i := 1; i <= 3; i++ {
		sp{trace: i, id: i, name: "GET /checkout", start: time.Duration(i) * time.Second, dur: 10 * time.Millisecond}.add(blue)
	}
	green := resource(td, "service.name", "checkout", attr, "v2")
	for i := 4; i <= 5; i++ {
		sp{trace: i, id: i, name: "GET /checkout", start: time.Duration(i) * time.Second, dur: 20 * time.Millisecond}.add(green)
	}
	return td
}

func TestReceiveEncodings(t *testing.T) {
	for _, attr := range []string{"service.version", "deployment.environment.name"} {
		for _, enc := range []string{"protobuf", "json"} {
			for _, compressed := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/gzip=%v", attr, enc, compressed)
				t.Run(name, func(t *testing.T) {
					r := newTestReceiver(t, testConfig{Attribute: attr})
					srv := httptest.NewServer(r)
					defer srv.Close()

					td := twoEnvs(attr)
					body, ct := protoBody(t, td), contentProto
					if enc == "json" {
						body, ct = jsonBody(t, td), contentJSON
					}
					req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/traces", nil)
					require.NoError(t, err)
					if compressed {
						body = gz(t, body)
						req.Header.Set("Content-Encoding", "gzip")
					}
					req.Body = io.NopCloser(bytes.NewReader(body))
					req.ContentLength = int64(len(body))
					req.Header.Set("Content-Type", ct)
					resp, err := srv.Client().Do(req)
					require.NoError(t, err)
					defer resp.Body.Close()
					raw, err := io.ReadAll(resp.Body)
					require.NoError(t, err)

					require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
					assert.Equal(t, ct, resp.Header.Get("Content-Type"))
					er := ptraceotlp.NewExportResponse()
					if enc == "json" {
						require.NoError(t, er.UnmarshalJSON(raw))
					} else {
						require.NoError(t, er.UnmarshalProto(raw))
					}
					assert.Zero(t, er.PartialSuccess().RejectedSpans())

					st := r.Stats()
					assert.Equal(t, 3, st.Environments["blue"].Held)
					assert.Equal(t, 2, st.Environments["green"].Held)
					res, err := r.Fetch(t.Context(), OperationLatency{Operation: "GET /checkout"}, source.Env{Name: "green"}, source.Window{})
					require.NoError(t, err)
					assert.Equal(t, []float64{0.02, 0.02}, res.Latencies)
				})
			}
		}
	}
}

func TestReceivePartialSuccess(t *testing.T) {
	td := twoEnvs("service.version")
	unknown := resource(td, "service.name", "checkout", "service.version", "v3")
	for i := 10; i < 14; i++ {
		sp{trace: i, id: i, name: "GET /checkout", start: time.Second, dur: time.Millisecond}.add(unknown)
	}
	missing := resource(td, "service.name", "checkout")
	sp{trace: 20, id: 20, name: "GET /checkout", start: time.Second, dur: time.Millisecond}.add(missing)
	green := resource(td, "service.version", "v2")
	noIDs := green.AppendEmpty() // no trace or span id
	noIDs.SetName("no ids")
	sp{trace: 30, id: 30, name: "backwards", start: time.Second, dur: -time.Millisecond}.add(green)
	sp{trace: 31, id: 31, name: "fine", start: time.Second, dur: time.Millisecond}.add(green)

	for _, enc := range []string{"protobuf", "json"} {
		t.Run(enc, func(t *testing.T) {
			r := newTestReceiver(t, testConfig{})
			er := ptraceotlp.NewExportResponse()
			var w *httptest.ResponseRecorder
			if enc == "json" {
				w = post(r, jsonBody(t, td), contentJSON, "")
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.NoError(t, er.UnmarshalJSON(w.Body.Bytes()))
			} else {
				w = post(r, protoBody(t, td), contentProto, "")
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.NoError(t, er.UnmarshalProto(w.Body.Bytes()))
			}
			ps := er.PartialSuccess()
			assert.EqualValues(t, 7, ps.RejectedSpans())
			assert.Equal(t, `rejected 7 of 13 spans: 1 from resources without service.version; `+
				`4 from resources whose service.version ("v3") is not one of "v1" (blue), "v2" (green); `+
				`1 without a trace or span id; 1 without a valid start and end time`, ps.ErrorMessage())
			st := r.Stats()
			assert.EqualValues(t, 7, st.Rejected)
			assert.Equal(t, 3, st.Environments["blue"].Held)
			assert.Equal(t, 3, st.Environments["green"].Held)
		})
	}
}

// rpcStatus decodes the google.rpc.Status body of an error response.
func rpcStatus(t *testing.T, w *httptest.ResponseRecorder) (code int, msg string) {
	t.Helper()
	switch w.Header().Get("Content-Type") {
	case contentJSON:
		var s struct {
			Code    int
			Message string
		}
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
		return s.Code, s.Message
	case contentProto:
		b := w.Body.Bytes()
		require.GreaterOrEqual(t, len(b), 2)
		require.Equal(t, byte(0x08), b[0])
		code = int(b[1])
		if len(b) > 2 {
			require.Equal(t, byte(0x12), b[2])
			n := 0
			i := 3
			for shift := 0; ; shift += 7 { // uvarint length
				n |= int(b[i]&0x7f) << shift
				i++
				if b[i-1] < 0x80 {
					break
				}
			}
			require.Equal(t, n, len(b)-i)
			msg = string(b[i:])
		}
		return code, msg
	}
	return 0, w.Body.String()
}

func TestReceiveRefuses(t *testing.T) {
	valid := protoBody(t, twoEnvs("service.version"))
	bomb := gz(t, bytes.Repeat([]byte{0}, 2<<20)) // 2 MiB of zeros, about 2 KiB compressed
	// 300 KB that pdata would turn into 25 MB of empty spans.
	emptySpans := []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[` + strings.Repeat(`{},`, 100_000) + `{}]}]}]}`)
	badTraceID := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.version","value":{"stringValue":"v1"}}]},` +
		`"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0102030405060708","name":"x"}]}]}]}`
	tests := []struct {
		name     string
		method   string
		body     []byte
		ct, ce   string
		chunked  bool // no Content-Length: the cap must still hold while reading
		status   int
		contains string
	}{
		{"malformed protobuf", "", []byte{0x0a, 0xff, 0xff, 0xff}, contentProto, "", false, 400, "malformed protobuf body"},
		{"protobuf as json", "", valid, contentJSON, "", false, 400, "malformed JSON body"},
		{"malformed json", "", []byte(`{"resourceSpans":[{`), contentJSON, "", false, 400, "malformed JSON body"},
		{"json with a bad trace id", "", []byte(badTraceID), contentJSON, "", false, 400, "malformed JSON body"},
		{"not gzip", "", valid, contentProto, "gzip", false, 400, "reading the request body"},
		{"truncated gzip", "", gz(t, valid)[:40], contentProto, "gzip", false, 400, "reading the request body"},
		{"oversize by length", "", bytes.Repeat([]byte{0}, 1<<20+1), contentProto, "", false, 413, "larger than 1048576 bytes"},
		{"oversize chunked", "", bytes.Repeat([]byte{0}, 1<<20+1), contentProto, "", true, 413, "larger than 1048576 bytes"},
		{"oversize gzip on the wire", "", gz(t, randomBytes(1<<20+1024)), contentProto, "gzip", true, 413, "larger than"},
		{"gzip bomb", "", bomb, contentProto, "gzip", false, 413, "larger than 1048576 bytes"},
		{"json of empty spans", "", emptySpans, contentJSON, "", false, 413, "JSON body has more than 65536 objects and arrays"},
		{"json nested too deep", "", []byte(strings.Repeat("[", 300) + strings.Repeat("]", 300)), contentJSON, "", false, 400, "nested deeper than 256 levels"},
		{"get", http.MethodGet, nil, contentProto, "", false, 405, "method GET not allowed"},
		{"put json", http.MethodPut, valid, contentJSON, "", false, 405, "method PUT not allowed"},
		{"text", "", valid, "text/plain", "", false, 415, `content type "text/plain" not supported`},
		{"no content type", "", valid, "", "", false, 415, "not supported"},
		{"brotli", "", valid, contentProto, "br", false, 415, `content encoding "br" not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestReceiver(t, testConfig{MaxBodyBytes: 1 << 20})
			method := cmpOr(tt.method, http.MethodPost)
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length from NewRequest
			}
			req := httptest.NewRequest(method, "/v1/traces", body)
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			if tt.ce != "" {
				req.Header.Set("Content-Encoding", tt.ce)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)

			require.Equal(t, tt.status, w.Code, w.Body.String())
			_, msg := rpcStatus(t, w)
			assert.Contains(t, msg, tt.contains)
			if tt.status == 405 {
				assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
			}
			assert.Zero(t, r.Stats().Environments["blue"].Held)
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func TestReceiveErrorBodies(t *testing.T) {
	r := newTestReceiver(t, testConfig{})
	w := post(r, []byte{0x0a, 0xff}, contentProto, "")
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, contentProto, w.Header().Get("Content-Type"))
	code, _ := rpcStatus(t, w)
	assert.Equal(t, rpcInvalidArgument, code)

	w = post(r, []byte("{"), contentJSON+"; charset=utf-8", "")
	require.Equal(t, http.StatusBadRequest, w.Code)
	assert.Equal(t, contentJSON, w.Header().Get("Content-Type"))
	code, _ = rpcStatus(t, w)
	assert.Equal(t, rpcInvalidArgument, code)
}

// Deep nesting must not exhaust the stack: both decoders bound their recursion.
func TestReceiveDeepNesting(t *testing.T) {
	r := newTestReceiver(t, testConfig{})
	const depth = 5_000
	js := `{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":` +
		strings.Repeat(`{"kvlistValue":{"values":[{"key":"k","value":`, depth) + `{}` + strings.Repeat(`}]}}`, depth) + `}]}}]}`
	w := post(r, []byte(js), contentJSON, "")
	assert.Equal(t, http.StatusBadRequest, w.Code)

	// KeyValue{"k", AnyValue{kvlist_value: KeyValueList{values: KeyValue{…}}}}, inside out.
	var list []byte
	for range 1_000 {
		anyValue := append([]byte{0x32}, varint(len(list))...)
		kv := append([]byte{0x0a, 0x01, 'k', 0x12}, varint(len(anyValue)+len(list))...)
		kv = append(append(kv, anyValue...), list...)
		list = field1(kv)
	}
	// list is also a Resource (attributes = 1); wrap it in ResourceSpans and the request. The
	// reader does not look into attribute values it does not need, so this is a request with
	// no spans.
	w = post(r, field1(field1(list)), contentProto, "")
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Zero(t, r.Stats().Environments["blue"].Accepted)
}

// field1 encodes b as a length-delimited field 1.
func field1(b []byte) []byte {
	return append(append([]byte{0x0a}, varint(len(b))...), b...)
}

func TestOperationAndErrors(t *testing.T) {
	tests := []struct {
		name   string
		span   string
		attrs  map[string]any
		failed bool
		op     string
		isErr  bool
	}{
		{"span name", "SELECT orders", nil, false, "SELECT orders", false},
		{"route and method", "handler", map[string]any{"http.route": "/orders/{id}", "http.request.method": "GET"}, false, "GET /orders/{id}", false},
		{"route and old method", "GET", map[string]any{"http.route": "/orders/{id}", "http.method": "POST"}, false, "POST /orders/{id}", false},
		{"route only", "handler", map[string]any{"http.route": "/health"}, false, "/health", false},
		{"empty route", "handler", map[string]any{"http.route": "", "http.request.method": "GET"}, false, "handler", false},
		{"no name", "", nil, false, "(unnamed)", false},
		{"status error", "charge", nil, true, "charge", true},
		{"5xx int", "x", map[string]any{"http.response.status_code": 503}, false, "x", true},
		{"5xx old string", "x", map[string]any{"http.status_code": "502"}, false, "x", true},
		{"5xx double", "x", map[string]any{"http.response.status_code": 500.0}, false, "x", true},
		{"4xx", "x", map[string]any{"http.response.status_code": 404}, false, "x", false},
		{"garbage code", "x", map[string]any{"http.status_code": "oops"}, false, "x", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestReceiver(t, testConfig{})
			td := ptrace.NewTraces()
			sp{trace: i + 1, id: i + 1, name: tt.span, start: time.Second, dur: time.Millisecond, attrs: tt.attrs, failed: tt.failed}.
				add(resource(td, "service.version", "v1"))
			ingest(t, r, td)
			res, err := r.Fetch(t.Context(), OperationErrors{Operation: tt.op}, source.Env{Name: "blue"}, source.Window{})
			require.NoError(t, err)
			want := source.Counts{Total: 1}
			if tt.isErr {
				want.Errors = 1
			}
			assert.Equal(t, want, *res.Counts)
		})
	}
}

// Concurrent ingestion and queries: run with -race.
func TestReceiveConcurrent(t *testing.T) {
	r := newTestReceiver(t, testConfig{MaxSpans: 500})
	body := protoBody(t, twoEnvs("service.version"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_, _ = r.Fetch(ctx, OperationLatency{}, source.Env{Name: "blue"}, source.Window{})
			_ = r.Shape("blue", "green", source.Window{})
		}
	}()
	for range 4 {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			for range 100 {
				assert.Equal(t, http.StatusOK, post(r, body, contentProto, "").Code)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		<-done
		st := r.Stats()
		assert.Equal(t, EnvStats{Held: 500, Accepted: 1200, Evicted: 700}, st.Environments["blue"])
		assert.Equal(t, EnvStats{Held: 500, Accepted: 800, Evicted: 300}, st.Environments["green"])
	})
}

func varint(n int) []byte {
	var b []byte
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

func TestJSONShape(t *testing.T) {
	tests := []struct {
		name          string
		in            string
		depth, values int
	}{
		{"flat", `{"a":[1,2]}`, 2, 2},
		{"nested", `[[[{}]]]`, 4, 4},
		{"siblings", `[{},{},{}]`, 2, 4},
		{"brackets in strings", `{"a":"[[[[[[","b":"\"[[[[["}`, 1, 1},
		{"escaped backslash before a quote", `{"a":"\\","b":[[[[[1]]]]]}`, 6, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			depth, values := jsonShape([]byte(tt.in))
			assert.Equal(t, tt.depth, depth, "depth")
			assert.Equal(t, tt.values, values, "values")
		})
	}
}

// Attributes nested as deep as real instrumentation ever goes pass the JSON depth bound.
func TestReceiveNestedAttributes(t *testing.T) {
	r := newTestReceiver(t, testConfig{})
	td := ptrace.NewTraces()
	s := sp{trace: 1, id: 1, name: "op", start: time.Second, dur: time.Millisecond}.add(resource(td, "service.version", "v1"))
	m := s.Attributes()
	for range 60 {
		m = m.PutEmptyMap("k")
	}
	w := post(r, jsonBody(t, td), contentJSON, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, 1, r.Stats().Environments["blue"].Held)
}

// When every slot is taken, a request waits; one whose client gives up gets 503 and Retry-After.
func TestReceiveBusy(t *testing.T) {
	r := newTestReceiver(t, testConfig{MaxConcurrentRequests: 1})
	r.slots <- struct{}{}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/traces", bytes.NewReader(protoBody(t, twoEnvs("service.version"))))
	req.Header.Set("Content-Type", contentProto)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))

	<-r.slots
	assert.Equal(t, http.StatusOK, post(r, protoBody(t, twoEnvs("service.version")), contentProto, "").Code)
}

// Blue and green as two services: the attribute may be service.name itself.
func TestReceiveByServiceName(t *testing.T) {
	r := newTestReceiver(t, testConfig{Attribute: "service.name", Values: map[string]string{"checkout-blue": "blue", "checkout-green": "green"}})
	td := ptrace.NewTraces()
	sp{trace: 1, id: 1, name: "op", start: time.Second, dur: time.Millisecond}.add(resource(td, "service.name", "checkout-green"))
	ingest(t, r, td)
	res, err := r.Fetch(t.Context(), OperationErrors{Service: "checkout-green"}, source.Env{Name: "green"}, source.Window{})
	require.NoError(t, err)
	assert.Equal(t, source.Counts{Total: 1}, *res.Counts)
}
