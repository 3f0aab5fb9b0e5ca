package app

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracing exports a server span per request (named "METHOD route", with http.route) and a
// database span per store access, over OTLP/HTTP, as an instrumented service would. The
// incoming traceparent (greenlight sends one with every probe) becomes the parent, so a probe
// and the spans it caused share a trace id.
type tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

func newTracing(cfg Config) (*tracing, error) {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(cfg.OTLPEndpoint))
	if err != nil {
		return nil, err
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.version", cfg.Version),
		attribute.String("deployment.environment.name", cfg.Color),
	)
	p := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(200*time.Millisecond)),
		sdktrace.WithResource(res),
	)
	return &tracing{provider: p, tracer: p.Tracer("examples/app"), prop: propagation.TraceContext{}}, nil
}

// instrument wraps a route's handler in a server span.
func (t *tracing) instrument(method, route string, h http.HandlerFunc) http.HandlerFunc {
	if t == nil {
		return h
	}
	name := method + " " + route
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.code))
		if rec.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.code))
		}
	}
}

// dbSpan records one store access under the request's span.
func (t *tracing) dbSpan(ctx context.Context, name string) func() {
	if t == nil {
		return func() {}
	}
	_, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	return func() { span.End() }
}

// shutdown flushes what is buffered.
func (t *tracing) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
