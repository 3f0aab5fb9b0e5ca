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

var _ source.Source = (*View)(nil)

// Fetch answers an OperationLatency or OperationErrors query (value or pointer) for env.Name
// over the window: spans whose start is in [w.Start, w.End); a zero bound is open. No matching
// span is a *source.Error wrapping source.ErrNoData (retryable: a later tick may bring some).
func (v *View) Fetch(ctx context.Context, q source.Query, env source.Env, w source.Window) (source.Result, error) {
	if err := ctx.Err(); err != nil {
		return source.Result{}, v.sourceError(env, "cancelled", true, err)
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
		return source.Result{}, v.sourceError(env, fmt.Sprintf("unsupported query %T", q), false, nil)
	}
	keys, ok := v.byEnv[env.Name]
	if !ok {
		return source.Result{}, v.sourceError(env, fmt.Sprintf("no %s value maps to environment %q (known: %s)",
			v.cfg.Attribute, env.Name, strings.Join(v.known, ", ")), false, ErrUnknownEnvironment)
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
		if refused := v.refusedText(); refused != "" {
			reason += " (" + refused + ")"
		}
		return v.sourceError(env, reason, true, source.ErrNoData)
	}
	var res source.Result
	var lat []float64
	var good float64
	var c source.Counts
	var evicted, evictedUntil int64
	full := false
	for _, ks := range keys {
		f, ok := filter(ks.names, op, svc, w)
		if ok {
			g := ks.ring
			g.mu.RLock()
			for i := range g.buf {
				if s := &g.buf[i]; f(s) {
					if latency {
						lat = append(lat, float64(s.dur)/1e9)
						if !s.err {
							good++
						}
						continue
					}
					c.Total++
					if s.err {
						c.Errors++
					}
				}
			}
			g.mu.RUnlock()
		}
		st := ks.ring.stats()
		evicted += st.evicted
		evictedUntil = max(evictedUntil, st.evictedUntil)
		full = full || ks.names.full()
	}
	if latency {
		if len(lat) == 0 {
			return source.Result{}, noData()
		}
		res.Latencies, res.OK = lat, &good
	} else {
		if c.Total == 0 {
			return source.Result{}, noData()
		}
		res.Counts = &c
	}
	if evicted > 0 && evictedUntil >= startNanos(w) {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%s: %d spans were evicted to stay within %d, some of them started in the window: the data covers part of it",
			env.Name, evicted, v.r.cfg.MaxSpans))
	}
	if refused := v.refusedText(); refused != "" {
		res.Warnings = append(res.Warnings, refused)
	}
	if full {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"more than %d distinct operation and service names: newer ones are counted as %s", maxNewNames, otherName))
	}
	return res, nil
}

// refusedText says how many requests were refused for their token since the view opened, or
// nothing: spans that never arrived explain missing data, and an outsider trying to feed the
// judge is news.
func (v *View) refusedText() string {
	switch n := v.refused(); n {
	case 0:
		return ""
	case 1:
		return "1 OTLP request refused: missing or wrong bearer token"
	default:
		return fmt.Sprintf("%d OTLP requests refused: missing or wrong bearer token", n)
	}
}

// filter returns the predicate of a query on one key, whose names are ns; ok is false when a
// named operation or service has never been seen there, so nothing can match.
func filter(ns *names, op, svc string, w source.Window) (func(*span) bool, bool) {
	from, to := startNanos(w), endNanos(w)
	opID, svcID := uint32(0), uint32(0)
	var ok bool
	if op != "" {
		if opID, ok = ns.lookup(op); !ok {
			return nil, false
		}
	}
	if svc != "" {
		if svcID, ok = ns.lookup(svc); !ok {
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

// sourceError builds the *source.Error of a query for one environment.
func (v *View) sourceError(env source.Env, reason string, retryable bool, err error) error {
	return &source.Error{Source: SourceName, Env: env.Name, Reason: reason, Retryable: retryable, Err: err}
}
