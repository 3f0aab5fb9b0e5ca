package traces

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/greenlight/greenlight/analysis/source"
)

// SourceName is the name of this source in errors and specs.
const SourceName = "traces"

// ErrUnknownEnvironment marks a query for an environment no configured attribute value maps to:
// a configuration mistake, so no later tick will bring data.
var ErrUnknownEnvironment = errors.New("unknown environment")

// OperationLatency asks for the durations (seconds) of the spans of one operation, or of all
// spans when Operation is empty, that started in the window. Shape latencies.
type OperationLatency struct {
	Operation string
	Service   string // optional: only spans from resources with this service.name
}

// Shape implements source.Query.
func (OperationLatency) Shape() source.Shape { return source.ShapeLatencies }

// OperationErrors asks for the error and total counts of the spans of one operation, or of all
// spans when Operation is empty, that started in the window. Shape counts.
type OperationErrors struct {
	Operation string
	Service   string // optional: only spans from resources with this service.name
}

// Shape implements source.Query.
func (OperationErrors) Shape() source.Shape { return source.ShapeCounts }

var _ source.Source = (*Receiver)(nil)

// Fetch answers an OperationLatency or OperationErrors query (value or pointer) for env.Name
// over the window: spans whose start is in [w.Start, w.End); a zero bound is open. No matching
// span is a *source.Error wrapping source.ErrNoData (retryable: a later tick may bring some).
func (r *Receiver) Fetch(ctx context.Context, q source.Query, env source.Env, w source.Window) (source.Result, error) {
	if err := ctx.Err(); err != nil {
		return source.Result{}, r.sourceError(env, "cancelled", true, err)
	}
	var op, svc string
	var latency bool
	switch p := q.(type) {
	case *OperationLatency:
		if p != nil {
			q = *p
		}
	case *OperationErrors:
		if p != nil {
			q = *p
		}
	}
	switch q := q.(type) {
	case OperationLatency:
		op, svc, latency = q.Operation, q.Service, true
	case OperationErrors:
		op, svc = q.Operation, q.Service
	default:
		return source.Result{}, r.sourceError(env, fmt.Sprintf("unsupported query %T", q), false, nil)
	}
	idx, ok := r.byEnv[env.Name]
	if !ok {
		return source.Result{}, r.sourceError(env, fmt.Sprintf("no %s value maps to environment %q (known: %s)",
			r.cfg.Attribute, env.Name, strings.Join(r.known, ", ")), false, ErrUnknownEnvironment)
	}

	what := "spans"
	if op != "" {
		what = fmt.Sprintf("spans of operation %q", op)
	}
	if svc != "" {
		what += fmt.Sprintf(" from service %q", svc)
	}
	noData := func() error {
		reason := fmt.Sprintf("no %s in the window %s", what, windowText(w))
		if refused := r.refusedText(); refused != "" {
			reason += " (" + refused + ")"
		}
		return r.sourceError(env, reason, true, source.ErrNoData)
	}
	f, ok := r.filter(op, svc, w)
	if !ok { // the name was never seen
		return source.Result{}, noData()
	}

	g := r.rings[idx]
	var res source.Result
	if latency {
		var lat []float64
		var ok float64
		g.mu.RLock()
		for i := range g.buf {
			if s := &g.buf[i]; f(s) {
				lat = append(lat, float64(s.dur)/1e9)
				if !s.err {
					ok++
				}
			}
		}
		g.mu.RUnlock()
		if len(lat) == 0 {
			return source.Result{}, noData()
		}
		res.Latencies, res.OK = lat, &ok
	} else {
		var c source.Counts
		g.mu.RLock()
		for i := range g.buf {
			if s := &g.buf[i]; f(s) {
				c.Total++
				if s.err {
					c.Errors++
				}
			}
		}
		g.mu.RUnlock()
		if c.Total == 0 {
			return source.Result{}, noData()
		}
		res.Counts = &c
	}
	if st := g.stats(); st.evicted > 0 && st.evictedUntil >= startNanos(w) {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%s: %d spans were evicted to stay within %d, some of them started in the window: the data covers part of it",
			env.Name, st.evicted, r.cfg.MaxSpans))
	}
	if refused := r.refusedText(); refused != "" {
		res.Warnings = append(res.Warnings, refused)
	}
	if r.names.full(idx) {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"more than %d distinct operation and service names: newer ones are counted as %s", r.names.budget, otherName))
	}
	return res, nil
}

// refusedText says how many requests were refused for their token, or nothing: spans that
// never arrived explain missing data, and an outsider trying to feed the judge is news.
func (r *Receiver) refusedText() string {
	switch n := r.refused.Load(); n {
	case 0:
		return ""
	case 1:
		return "1 OTLP request refused: missing or wrong bearer token"
	default:
		return fmt.Sprintf("%d OTLP requests refused: missing or wrong bearer token", n)
	}
}

// filter returns the predicate of a query; ok is false when a named operation or service has
// never been seen, so nothing can match.
func (r *Receiver) filter(op, svc string, w source.Window) (func(*span) bool, bool) {
	from, to := startNanos(w), endNanos(w)
	opID, svcID := uint32(0), uint32(0)
	var ok bool
	if op != "" {
		if opID, ok = r.names.lookup(op); !ok {
			return nil, false
		}
	}
	if svc != "" {
		if svcID, ok = r.names.lookup(svc); !ok {
			return nil, false
		}
	}
	return func(s *span) bool {
		return s.start >= from && s.start < to &&
			(op == "" || s.op == opID) && (svc == "" || s.svc == svcID)
	}, true
}

func startNanos(w source.Window) int64 {
	if w.Start.IsZero() {
		return minNanos
	}
	return w.Start.UnixNano()
}

func endNanos(w source.Window) int64 {
	if w.End.IsZero() {
		return maxNanos
	}
	return w.End.UnixNano()
}

const (
	minNanos = -1 << 63
	maxNanos = 1<<63 - 1
)

func windowText(w source.Window) string {
	ts := func(t time.Time, open string) string {
		if t.IsZero() {
			return open
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return "[" + ts(w.Start, "-∞") + ", " + ts(w.End, "+∞") + ")"
}

// fail1 builds the *source.Error of a query for one environment.
func (r *Receiver) sourceError(env source.Env, reason string, retryable bool, err error) error {
	return &source.Error{Source: SourceName, Env: env.Name, Reason: reason, Retryable: retryable, Err: err}
}
