package traces

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/greenlight/greenlight/specs"
)

// t0 is the start of every test's timeline.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func traceID(n int) pcommon.TraceID {
	var id [16]byte
	id[0] = 0x4b
	binary.BigEndian.PutUint64(id[8:], uint64(n))
	return id
}

func spanID(n int) pcommon.SpanID {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(n))
	id[0] |= 0x80 // never empty
	return id
}

// resource adds a resource with attrs (strings) to td and returns the span slice of its scope.
func resource(td ptrace.Traces, attrs ...string) ptrace.SpanSlice {
	rs := td.ResourceSpans().AppendEmpty()
	for i := 0; i+1 < len(attrs); i += 2 {
		rs.Resource().Attributes().PutStr(attrs[i], attrs[i+1])
	}
	return rs.ScopeSpans().AppendEmpty().Spans()
}

// sp describes a span to add.
type sp struct {
	trace, id, parent int // parent 0: a root
	name              string
	start             time.Duration // after t0
	dur               time.Duration
	attrs             map[string]any
	failed            bool // status ERROR
}

func (s sp) add(spans ptrace.SpanSlice) ptrace.Span {
	out := spans.AppendEmpty()
	out.SetTraceID(traceID(s.trace))
	out.SetSpanID(spanID(s.id))
	if s.parent != 0 {
		out.SetParentSpanID(spanID(s.parent))
	}
	out.SetName(s.name)
	out.SetKind(ptrace.SpanKindServer)
	out.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.start)))
	out.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.start + s.dur)))
	if s.attrs != nil {
		if err := out.Attributes().FromRaw(s.attrs); err != nil {
			panic(err)
		}
	}
	if s.failed {
		out.Status().SetCode(ptrace.StatusCodeError)
	}
	return out
}

func protoBody(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return b
}

func jsonBody(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	require.NoError(t, err)
	return b
}

func gz(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return out.Bytes()
}

// post sends a body through ServeHTTP.
func post(r http.Handler, body []byte, contentType, contentEncoding string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// testConfig is a receiver's config and its one view's, as an analysis without a shared
// receiver has them.
type testConfig struct {
	Attribute             string
	Values                map[string]string
	Token                 specs.Secret
	MaxBodyBytes          int64
	MaxSpans              int
	MaxConcurrentRequests int
	ShapeFactor           float64
	ShapeMinTraces        int
}

// standalone is a receiver with one view: what an analysis has without a shared receiver.
type standalone struct {
	*Receiver
	*View
}

// Stats are the view's.
func (s *standalone) Stats() ViewStats { return s.View.Stats() }

// newStandalone builds a receiver with cfg's token and one view of cfg's values.
func newStandalone(cfg testConfig, logger *slog.Logger) (*standalone, error) {
	r, err := NewReceiver(Config{MaxBodyBytes: cfg.MaxBodyBytes, Token: cfg.Token, MaxSpans: cfg.MaxSpans,
		MaxConcurrentRequests: cfg.MaxConcurrentRequests}, logger)
	if err != nil {
		return nil, err
	}
	v, err := r.View(ViewConfig{Attribute: cfg.Attribute, Values: cfg.Values, ShapeFactor: cfg.ShapeFactor, ShapeMinTraces: cfg.ShapeMinTraces})
	if err != nil {
		return nil, err
	}
	return &standalone{r, v}, nil
}

func newTestReceiver(t testing.TB, cfg testConfig) *standalone {
	t.Helper()
	if cfg.Values == nil {
		cfg.Values = map[string]string{"v1": "blue", "v2": "green"}
	}
	r, err := newStandalone(cfg, nil)
	require.NoError(t, err)
	return r
}

// ingest sends td as protobuf and requires a full success.
func ingest(t testing.TB, r http.Handler, td ptrace.Traces) {
	t.Helper()
	w := post(r, protoBody(t, td), contentProto, "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	resp := ptraceotlp.NewExportResponse()
	require.NoError(t, resp.UnmarshalProto(w.Body.Bytes()))
	require.Zero(t, resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
}
