package verdict

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"
)

// WriteJSON writes r as indented JSON. Field order is fixed; durations are "durationMs"
// numbers in milliseconds rounded to three decimals. Besides the model's fields the top
// level carries "status" ("passed" or "failed", as [Report.Passed]) and "counts" (as
// [Report.Counts]), so that a pipeline can branch on the file without recomputing them;
// both are derived and ignored when the JSON is read back.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// The *JSON shadow types fix the field order and put durationMs next to the times.

type reportJSON struct {
	Tool       string    `json:"tool"`
	Version    string    `json:"version"`
	StartedAt  time.Time `json:"startedAt"`
	DurationMs float64   `json:"durationMs"`
	Status     Status    `json:"status"`
	// Interrupted: a signal stopped the run before every step ran (status is then "failed").
	Interrupted bool          `json:"interrupted,omitempty"`
	Counts      *countsJSON   `json:"counts,omitempty"`
	Suites      []SuiteReport `json:"suites"`
	// Problems: the input was invalid and nothing ran (status is then "error").
	Problems []string `json:"problems,omitempty"`
}

type countsJSON struct {
	Steps   int `json:"steps"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errored int `json:"errored"`
	Skipped int `json:"skipped"`
}

type suiteJSON struct {
	Name        string       `json:"name"`
	File        string       `json:"file,omitempty"`
	Environment string       `json:"environment"`
	URL         string       `json:"url,omitempty"`
	Status      Status       `json:"status"`
	StartedAt   time.Time    `json:"startedAt"`
	DurationMs  float64      `json:"durationMs"`
	Error       string       `json:"error,omitempty"`
	Steps       []StepReport `json:"steps"`
}

type stepJSON struct {
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Environment string            `json:"environment,omitempty"`
	Status      Status            `json:"status"`
	Always      bool              `json:"always,omitempty"`
	DurationMs  float64           `json:"durationMs"`
	Attempts    int               `json:"attempts,omitempty"`
	Request     string            `json:"request,omitempty"`
	StatusCode  int               `json:"statusCode,omitempty"`
	TraceID     string            `json:"traceId,omitempty"`
	Error       string            `json:"error,omitempty"`
	Conditions  []ConditionReport `json:"conditions,omitempty"`
	Captured    []string          `json:"captured,omitempty"`
}

// MarshalJSON implements [json.Marshaler]; see [WriteJSON] for the format.
func (r Report) MarshalJSON() ([]byte, error) {
	p, f, e, s := r.Counts()
	status := StatusFailed
	switch {
	case len(r.Problems) > 0:
		status = StatusError
	case r.Passed():
		status = StatusPassed
	}
	suites := r.Suites
	if suites == nil {
		suites = []SuiteReport{}
	}
	return marshal(reportJSON{
		Tool:        r.Tool,
		Version:     r.Version,
		StartedAt:   r.StartedAt,
		DurationMs:  millis(r.Duration),
		Status:      status,
		Interrupted: r.Interrupted,
		Counts:      &countsJSON{Steps: p + f + e + s, Passed: p, Failed: f, Errored: e, Skipped: s},
		Suites:      suites,
		Problems:    r.Problems,
	})
}

// UnmarshalJSON implements [json.Unmarshaler]; the derived "status" and "counts" are
// ignored.
func (r *Report) UnmarshalJSON(data []byte) error {
	var v reportJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*r = Report{
		Tool:        v.Tool,
		Version:     v.Version,
		StartedAt:   v.StartedAt,
		Duration:    fromMillis(v.DurationMs),
		Suites:      v.Suites,
		Interrupted: v.Interrupted,
		Problems:    v.Problems,
	}
	return nil
}

// MarshalJSON implements [json.Marshaler].
func (s SuiteReport) MarshalJSON() ([]byte, error) {
	steps := s.Steps
	if steps == nil {
		steps = []StepReport{}
	}
	return marshal(suiteJSON{
		Name:        s.Name,
		File:        s.File,
		Environment: s.Environment,
		URL:         s.URL,
		Status:      s.Status,
		StartedAt:   s.StartedAt,
		DurationMs:  millis(s.Duration),
		Error:       s.Error,
		Steps:       steps,
	})
}

// UnmarshalJSON implements [json.Unmarshaler].
func (s *SuiteReport) UnmarshalJSON(data []byte) error {
	var v suiteJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*s = SuiteReport{
		Name:        v.Name,
		File:        v.File,
		Environment: v.Environment,
		URL:         v.URL,
		Status:      v.Status,
		StartedAt:   v.StartedAt,
		Duration:    fromMillis(v.DurationMs),
		Error:       v.Error,
		Steps:       v.Steps,
	}
	return nil
}

// MarshalJSON implements [json.Marshaler].
func (st StepReport) MarshalJSON() ([]byte, error) {
	return marshal(stepJSON{
		Name:        st.Name,
		Kind:        st.Kind,
		Environment: st.Environment,
		Status:      st.Status,
		Always:      st.Always,
		DurationMs:  millis(st.Duration),
		Attempts:    st.Attempts,
		Request:     st.Request,
		StatusCode:  st.StatusCode,
		TraceID:     st.TraceID,
		Error:       st.Error,
		Conditions:  st.Conditions,
		Captured:    st.Captured,
	})
}

// UnmarshalJSON implements [json.Unmarshaler].
func (st *StepReport) UnmarshalJSON(data []byte) error {
	var v stepJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*st = StepReport{
		Name:        v.Name,
		Kind:        v.Kind,
		Environment: v.Environment,
		Status:      v.Status,
		Always:      v.Always,
		Duration:    fromMillis(v.DurationMs),
		Attempts:    v.Attempts,
		Request:     v.Request,
		StatusCode:  v.StatusCode,
		TraceID:     v.TraceID,
		Error:       v.Error,
		Conditions:  v.Conditions,
		Captured:    v.Captured,
	}
	return nil
}

// marshal is json.Marshal without HTML escaping: reports are read by people and tools,
// never embedded in a page, and "a -> b" reads better than "a -\u003e b". The nested
// Marshalers use it too, so a whole report comes out unescaped through WriteJSON.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1e3
}

func fromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}
