// Package target is the HTTP service the probe benchmark aims at: a trivial handler that answers
// with a small JSON body and times itself, so that a prober's measured latency can be compared
// with the server's own handling time for the very same request.
//
// It owns the handler, the server-side timings and the small control API the benchmark drives
// (/-/record, /-/stats); it must not know about greenlight, blackbox_exporter or wrk.
package target

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MaxSamples bounds the timings kept while recording; requests beyond it are counted, not kept.
const MaxSamples = 1 << 20

// Body is what every probe request gets back.
var Body = []byte(`{"status":"ok"}`)

// Sample is the server's own timing of one recorded request.
type Sample struct {
	// ID names the request: the query parameter id when given, else the trace id of its W3C
	// traceparent header.
	ID string `json:"id"`
	// Nanos runs from the handler's entry to after the response was written and flushed to the
	// connection: request parsing before the handler and the kernel's share are not in it.
	Nanos int64 `json:"ns"`
}

// Stats is what GET /-/stats returns.
type Stats struct {
	PID      int      `json:"pid"`
	CPUNanos int64    `json:"cpu_ns"`   // the server process's user+system CPU time so far
	Requests int64    `json:"requests"` // probe requests served so far, recorded or not
	Dropped  int64    `json:"dropped"`  // recorded requests beyond MaxSamples
	Samples  []Sample `json:"samples,omitempty"`
}

// Server is the handler. The zero value is ready to use.
type Server struct {
	requests  atomic.Int64
	recording atomic.Bool
	inflight  atomic.Int64 // requests being timed for the record; stopping waits for them

	mu      sync.Mutex
	samples []Sample
	dropped int64
}

// ServeHTTP answers the control API under /-/ and every other path as a probe target. A probe
// request may carry delay=DURATION (waited before answering, at most a second) and id=NAME.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/-/record":
		s.record(w, r)
		return
	case "/-/stats":
		s.stats(w, r)
		return
	}
	start := time.Now()
	s.requests.Add(1)
	recording := false
	if s.recording.Load() { // counted, then checked again, so that stopping cannot miss it
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		recording = s.recording.Load()
	}
	var id string
	if r.URL.RawQuery != "" { // wrk's plain GETs skip the query parsing
		q := r.URL.Query()
		if d, err := time.ParseDuration(q.Get("delay")); err == nil && d > 0 && d <= time.Second {
			time.Sleep(d)
		}
		id = q.Get("id")
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(Body))}
	_, _ = w.Write(Body)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if !recording {
		return
	}
	elapsed := time.Since(start)
	if id == "" {
		id = TraceID(r.Header.Get("Traceparent"))
	}
	if id == "" {
		return
	}
	s.mu.Lock()
	if len(s.samples) < MaxSamples {
		s.samples = append(s.samples, Sample{ID: id, Nanos: int64(elapsed)})
	} else {
		s.dropped++
	}
	s.mu.Unlock()
}

// TraceID returns the trace id of a W3C traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"),
// or "" when the header is not one.
func TraceID(traceparent string) string {
	if len(traceparent) != 55 || traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-' {
		return ""
	}
	return traceparent[3:35]
}

// record handles POST /-/record?on=1 (clear the samples and start recording) and on=0 (stop).
func (s *Server) record(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Query().Get("on") {
	case "1":
		s.mu.Lock()
		s.samples, s.dropped = s.samples[:0], 0
		s.mu.Unlock()
		s.recording.Store(true)
	case "0":
		s.recording.Store(false)
		// A request that saw recording on may still be between its write and its sample: wait
		// for it (bounded), so that stats read after this call hold every recorded request.
		for deadline := time.Now().Add(time.Second); s.inflight.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Microsecond)
		}
	default:
		http.Error(w, "want on=1 or on=0", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stats handles GET /-/stats; samples=0 leaves the samples out.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st := Stats{PID: os.Getpid(), CPUNanos: int64(ProcessCPU()), Requests: s.requests.Load()}
	s.mu.Lock()
	st.Dropped = s.dropped
	if r.URL.Query().Get("samples") != "0" {
		st.Samples = append([]Sample(nil), s.samples...)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&st)
}
