package main

import (
	"context"
	"net/url"
	"slices"
	"time"

	"github.com/greenlight/greenlight/bench/probe/target"
)

// overheadResult compares what a prober measured for each request with the target's own timing
// of the same request, matched by id (a trace id, or the id query parameter).
type overheadResult struct {
	Prober    string  `json:"prober"`
	Rate      float64 `json:"probes_per_s,omitempty"` // 0: blackbox_exporter's sequential probes
	Delay     string  `json:"delay"`                  // the target's fixed delay per request
	Measure   string  `json:"measure"`                // which of the prober's figures
	Matched   int     `json:"matched"`
	Unmatched int     `json:"unmatched"` // measured requests the target has no timing for
	Measured  dist    `json:"measured"`
	Server    dist    `json:"server"`
	Overhead  dist    `json:"overhead"` // measured − server, request by request
	// For greenlight: pair latencies (synthetic.Probe.Latency) found among the traced steps'
	// latencies, which shows that the traced figure is the one the engine reports.
	PairsChecked int `json:"pairs_checked,omitempty"`
	PairsFound   int `json:"pairs_found,omitempty"`

	measured map[string]time.Duration
}

// match fills the distributions from the target's samples.
func (o *overheadResult) match(samples []target.Sample) {
	server := make(map[string]time.Duration, len(samples))
	for _, s := range samples {
		server[s.ID] = time.Duration(s.Nanos)
	}
	var m, sv, d []int64
	for id, got := range o.measured {
		st, ok := server[id]
		if !ok {
			o.Unmatched++
			continue
		}
		m = append(m, int64(got))
		sv = append(sv, int64(st))
		d = append(d, int64(got-st))
	}
	o.Matched = len(d)
	o.Measured, o.Server, o.Overhead = distOf(m), distOf(sv), distOf(d)
}

// overhead runs the engine as s says, on /health with the target's delay, with every step's
// trace id recorded, and matches each step with the target's timing of it.
func (e *engine) overhead(ctx context.Context, s engineSpec, delay time.Duration) (*overheadResult, error) {
	s.path, s.trace = delayed("/health", delay), true
	if err := e.server.Record(ctx, true); err != nil {
		return nil, err
	}
	res, err := e.run(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := e.server.Record(ctx, false); err != nil {
		return nil, err
	}
	st, err := e.server.Stats(ctx, true)
	if err != nil {
		return nil, err
	}
	o := &overheadResult{
		Prober:   "greenlight",
		Rate:     s.offered(),
		Delay:    delay.String(),
		Measure:  "Probe.Latency (1-step suite: = StepProbe.Latency)",
		measured: map[string]time.Duration{},
	}
	var traced []int64
	for _, t := range e.tracedSteps() {
		o.measured[t.traceID] = t.latency
		traced = append(traced, int64(t.latency))
	}
	o.match(st.Samples)
	slices.Sort(traced)
	for _, l := range res.latencies {
		o.PairsChecked++
		if _, ok := slices.BinarySearch(traced, l); ok {
			o.PairsFound++
		}
	}
	return o, nil
}

// delayed adds the target's delay parameter to path.
func delayed(path string, delay time.Duration) string {
	if delay <= 0 {
		return path
	}
	return path + sep(path) + "delay=" + url.QueryEscape(delay.String())
}
