package traces

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/greenlight/greenlight/analysis/source"
)

// realistic builds a 100-span request as an SDK batch exporter sends it: 10 checkout traces of
// 10 spans (server root, 6 database calls, 2 HTTP client calls, 1 internal span) with the
// attributes current instrumentation puts on them.
func realistic(version string, firstTrace int, at time.Duration) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "checkout")
	ra.PutStr("service.version", version)
	ra.PutStr("deployment.environment.name", "production")
	ra.PutStr("host.name", "checkout-7f9c6d5b8-x2k4q")
	ra.PutStr("k8s.pod.name", "checkout-7f9c6d5b8-x2k4q")
	ra.PutStr("k8s.namespace.name", "shop")
	ra.PutStr("telemetry.sdk.name", "opentelemetry")
	ra.PutStr("telemetry.sdk.language", "go")
	ra.PutStr("telemetry.sdk.version", "1.38.0")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	spans := ss.Spans()
	for tr := firstTrace; tr < firstTrace+10; tr++ {
		root := tr * 16
		start := at + time.Duration(tr)*time.Millisecond
		s := sp{trace: tr, id: root, parent: root + 15, name: "GET /checkout", start: start, dur: 42 * time.Millisecond, attrs: map[string]any{
			"http.request.method": "GET", "http.route": "/checkout", "http.response.status_code": 200,
			"url.path": "/checkout", "url.scheme": "https", "server.address": "shop.example.com",
			"user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) greenlight-probe/1.0", "network.protocol.version": "1.1",
		}}.add(spans)
		s.SetKind(ptrace.SpanKindServer)
		for j := 1; j <= 6; j++ {
			c := sp{trace: tr, id: root + j, parent: root, name: "SELECT orders", start: start + time.Duration(j)*time.Millisecond, dur: 2 * time.Millisecond,
				attrs: map[string]any{"db.system.name": "postgresql", "db.namespace": "shop", "db.operation.name": "SELECT",
					"db.query.text":  "SELECT id, total, status FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20",
					"server.address": "orders-db.shop.svc", "server.port": 5432}}.add(spans)
			c.SetKind(ptrace.SpanKindClient)
		}
		for j := 7; j <= 8; j++ {
			c := sp{trace: tr, id: root + j, parent: root, name: "GET", start: start + time.Duration(j)*time.Millisecond, dur: 8 * time.Millisecond,
				attrs: map[string]any{"http.request.method": "GET", "url.full": "http://inventory.shop.svc:8080/inventory?sku=12345",
					"server.address": "inventory.shop.svc", "server.port": 8080, "http.response.status_code": 200}}.add(spans)
			c.SetKind(ptrace.SpanKindClient)
		}
		sp{trace: tr, id: root + 9, parent: root, name: "render receipt", start: start + 30*time.Millisecond, dur: 3 * time.Millisecond}.add(spans).
			SetKind(ptrace.SpanKindInternal)
	}
	return td
}

func benchmarkReceive(b *testing.B, body []byte, contentType, contentEncoding string) {
	r := newTestReceiver(b, testConfig{})
	// Warm the name table and grow the ring so the loop measures steady state.
	if w := post(r, body, contentType, contentEncoding); w.Code != http.StatusOK {
		b.Fatal(w.Code, w.Body.String())
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	req := httptest.NewRequest(http.MethodPost, "/v1/traces", nil)
	req.Header.Set("Content-Type", contentType)
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	rd := bytes.NewReader(body)
	for b.Loop() {
		rd.Reset(body)
		req.Body = readCloser{rd}
		req.ContentLength = int64(len(body))
		w := discard{h: http.Header{}}
		r.ServeHTTP(&w, req)
		if w.code != http.StatusOK {
			b.Fatal(w.code)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "spans/s")
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkReceiveProtobuf: one realistic 100-span protobuf request per op.
func BenchmarkReceiveProtobuf(b *testing.B) {
	benchmarkReceive(b, protoBody(b, realistic("v1", 1, time.Second)), contentProto, "")
}

func BenchmarkReceiveProtobufGzip(b *testing.B) {
	benchmarkReceive(b, gz(b, protoBody(b, realistic("v1", 1, time.Second))), contentProto, "gzip")
}

func BenchmarkReceiveJSON(b *testing.B) {
	benchmarkReceive(b, jsonBody(b, realistic("v1", 1, time.Second)), contentJSON, "")
}

// BenchmarkReceiveProtobufParallel: the same request from every core at once, into one
// environment's ring.
func BenchmarkReceiveProtobufParallel(b *testing.B) {
	r := newTestReceiver(b, testConfig{})
	body := protoBody(b, realistic("v1", 1, time.Second))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", nil)
		req.Header.Set("Content-Type", contentProto)
		rd := bytes.NewReader(body)
		for pb.Next() {
			rd.Reset(body)
			req.Body = readCloser{rd}
			req.ContentLength = int64(len(body))
			w := discard{h: http.Header{}}
			r.ServeHTTP(&w, req)
			if w.code != http.StatusOK {
				b.Error(w.code)
				return
			}
		}
	})
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkMemory100kSpans reports the heap a receiver holds for 100,000 spans of one
// environment, measured with runtime.MemStats after a GC before and after ingesting them.
func BenchmarkMemory100kSpans(b *testing.B) {
	const n = 100_000
	bodies := make([][]byte, n/100)
	for i := range bodies {
		bodies[i] = protoBody(b, realistic("v1", 10*i+1, time.Duration(i)*time.Millisecond))
	}
	var held uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := newTestReceiver(b, testConfig{MaxSpans: n})
		for _, body := range bodies {
			if w := post(r, body, contentProto, ""); w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := r.Stats().Environments["blue"].Held; got != n {
			b.Fatalf("held %d spans", got)
		}
		held = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(r)
	}
	b.ReportMetric(float64(held), "bytes/100k-spans")
	b.ReportMetric(float64(held)/n, "bytes/span")
}

// fullReceiver holds 200,000 spans in blue and in green: the default bound, full.
func fullReceiver(b *testing.B) *standalone {
	r := newTestReceiver(b, testConfig{})
	for i := range 2000 {
		ingest(b, r, realistic("v1", 10*i+1, time.Duration(i)*time.Millisecond))
		ingest(b, r, realistic("v2", 10*i+1, time.Duration(i)*time.Millisecond))
	}
	return r
}

// BenchmarkFetch: one query over a full ring (200,000 spans), as an analysis tick runs it.
func BenchmarkFetch(b *testing.B) {
	r := fullReceiver(b)
	for _, q := range []source.Query{OperationLatency{Operation: "GET /checkout"}, OperationErrors{}} {
		b.Run(fmt.Sprintf("%T", q), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Fetch(b.Context(), q, source.Env{Name: "blue"}, source.Window{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkShape: a shape comparison of two full rings (2 × 200,000 spans, 2 × 20,000 traces).
func BenchmarkShape(b *testing.B) {
	r := fullReceiver(b)
	b.ReportAllocs()
	for b.Loop() {
		if rep := r.Shape("blue", "green", source.Window{}); rep.Insufficient != "" {
			b.Fatal(rep.Insufficient)
		}
	}
}
