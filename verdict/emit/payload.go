package emit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/secret"
	"github.com/greenlight/greenlight/verdict"
)

// APIVersion is the payload's version (data.apiVersion). A change that removes or renames a
// field, or changes its meaning, comes with a new version; added fields do not.
const APIVersion = "greenlight/v1"

// Event is what happened to an analysis, as the daemon (or a one-shot run) reports it.
type Event struct {
	Type EventType
	Time time.Time
	// Analysis identifies the analysis; Verdict is set for decided, watch_regression, aborted
	// and overridden; Smoke for smoke_done (and taken from the verdict otherwise); Message is
	// free text (who aborted and why).
	Analysis Analysis
	Verdict  *verdict.Verdict
	Smoke    *verdict.Report
	Message  string
}

// Analysis identifies an analysis in an event.
type Analysis struct {
	ID        string
	Spec      string // the Analysis spec's name
	Baseline  verdict.Environment
	Candidate verdict.Environment
	Labels    map[string]string
	StartedAt time.Time
}

// LinkTemplates are the configured URLs of an analysis for people and tools, with "{id}"
// standing for its id, such as "https://greenlight.example.com/api/v1/analyses/{id}". An
// empty template gives no link.
type LinkTemplates struct {
	API       string
	Dashboard string
}

// Payload is the JSON body of every event (docs/webhook.schema.json).
type Payload struct {
	Type      EventType `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data is the event's content.
type Data struct {
	APIVersion string       `json:"apiVersion"`
	Analysis   AnalysisData `json:"analysis"`
	Message    string       `json:"message,omitempty"`
	Smoke      *Smoke       `json:"smoke,omitempty"`
	Verdict    *VerdictData `json:"verdict,omitempty"`
	Links      *Links       `json:"links,omitempty"`
}

// AnalysisData identifies the analysis and its two sides.
type AnalysisData struct {
	ID        string            `json:"id"`
	Spec      string            `json:"spec"`
	Baseline  Environment       `json:"baseline"`
	Candidate Environment       `json:"candidate"`
	Labels    map[string]string `json:"labels,omitempty"`
	StartedAt *time.Time        `json:"startedAt,omitempty"`
}

// Environment is one side: its name and base URL.
type Environment struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Smoke summarises the smoke gate.
type Smoke struct {
	Status verdict.Status `json:"status"`
	Counts SmokeCounts    `json:"counts"`
	Suites []SmokeSuite   `json:"suites"`
}

// SmokeCounts counts the smoke gate's steps by status.
type SmokeCounts struct {
	Steps   int `json:"steps"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errored int `json:"errored"`
	Skipped int `json:"skipped"`
}

// SmokeSuite is one suite's run on one environment, with the steps that did not pass.
type SmokeSuite struct {
	Name        string         `json:"name"`
	Environment string         `json:"environment"`
	Status      verdict.Status `json:"status"`
	Error       string         `json:"error,omitempty"`
	Failed      []SmokeStep    `json:"failed,omitempty"`
}

// SmokeStep is a step that failed or could not run.
type SmokeStep struct {
	Name   string         `json:"name"`
	Status verdict.Status `json:"status"`
	Error  string         `json:"error,omitempty"`
}

// VerdictData is the decision with everything that explains it.
type VerdictData struct {
	Decision   verdict.Decision `json:"decision"`
	Reason     string           `json:"reason"`
	Phase      verdict.Phase    `json:"phase,omitempty"`
	Undecided  bool             `json:"undecided"`
	DurationMs float64          `json:"durationMs"`
	WatchMs    float64          `json:"watchMs,omitempty"`
	ExitCode   int              `json:"exitCode"`
	Counts     Counts           `json:"counts"`
	Checks     []Check          `json:"checks"`
	Advisories []string         `json:"advisories,omitempty"`
	Diagnosis  []string         `json:"diagnosis,omitempty"`
	Override   *Override        `json:"override,omitempty"`
}

// Counts counts the checks by state.
type Counts struct {
	Pass         int `json:"pass"`
	Fail         int `json:"fail"`
	Inconclusive int `json:"inconclusive"`
}

// Check is one check's outcome: both sides' estimates, the effect with the interval the check
// is sure of, the samples, the threshold and the reason with the resolved values. Numbers are
// in compare's exact form: NaN (no value yet) as null, unbounded interval ends as "Inf"/"-Inf".
type Check struct {
	Name       string                `json:"name"`
	Critical   bool                  `json:"critical"`
	Kind       string                `json:"kind"`
	Metric     string                `json:"metric"`
	State      compare.State         `json:"state"`
	Source     string                `json:"source"`
	Baseline   compare.ExactEstimate `json:"baseline"`
	Candidate  compare.ExactEstimate `json:"candidate"`
	Ratio      compare.ExactEffect   `json:"ratio"`
	Difference compare.ExactEffect   `json:"difference"`
	Statistic  *compare.ExactEffect  `json:"statistic,omitempty"`
	Threshold  Threshold             `json:"threshold"`
	Alpha      Number                `json:"alpha"`
	Reason     string                `json:"reason"`
	Error      string                `json:"error,omitempty"`
	Warnings   []string              `json:"warnings,omitempty"`
	Evidence   *Evidence             `json:"evidence,omitempty"`
}

// Threshold is what the check allows.
type Threshold struct {
	MaxRatio    *Number           `json:"maxRatio,omitempty"`
	MaxIncrease *Number           `json:"maxIncrease,omitempty"`
	Max         *Number           `json:"max,omitempty"`
	Direction   compare.Direction `json:"direction,omitempty"`
}

// Evidence counts what the check saw of the candidate itself.
type Evidence struct {
	Observed  int64  `json:"observed"`
	Succeeded *int64 `json:"succeeded,omitempty"`
}

// Override is a decision made by hand.
type Override struct {
	Decision  verdict.Decision `json:"decision"`
	By        string           `json:"by"`
	Why       string           `json:"why"`
	At        time.Time        `json:"at"`
	Was       verdict.Decision `json:"was"`
	WasReason string           `json:"wasReason"`
}

// Links lead to the analysis in the API and on the dashboard.
type Links struct {
	API       string `json:"api,omitempty"`
	Dashboard string `json:"dashboard,omitempty"`
}

// NewPayload builds the payload of an event. It copies what it takes from the event, which
// is left as it was.
func NewPayload(ev Event, links LinkTemplates) (*Payload, error) {
	if !ev.Type.Valid() {
		return nil, fmt.Errorf("payload: unknown event type %q", ev.Type)
	}
	if ev.Analysis.ID == "" {
		return nil, errors.New("payload: the event names no analysis")
	}
	a := ev.Analysis
	d := Data{
		APIVersion: APIVersion,
		Analysis: AnalysisData{
			ID: a.ID, Spec: a.Spec,
			Baseline:  Environment{Name: a.Baseline.Name, URL: a.Baseline.URL},
			Candidate: Environment{Name: a.Candidate.Name, URL: a.Candidate.URL},
		},
		Message: ev.Message,
	}
	if len(a.Labels) > 0 {
		d.Analysis.Labels = make(map[string]string, len(a.Labels))
		for k, v := range a.Labels {
			d.Analysis.Labels[k] = v
		}
	}
	if !a.StartedAt.IsZero() {
		at := a.StartedAt.UTC()
		d.Analysis.StartedAt = &at
	}
	smoke := ev.Smoke
	if v := ev.Verdict; v != nil {
		d.Verdict = verdictData(v)
		if smoke == nil {
			smoke = v.Smoke
		}
	}
	if smoke != nil {
		d.Smoke = smokeData(smoke)
	}
	l := Links{API: link(links.API, a.ID), Dashboard: link(links.Dashboard, a.ID)}
	if l != (Links{}) {
		d.Links = &l
	}
	return &Payload{Type: ev.Type, Timestamp: ev.Time.UTC(), Data: d}, nil
}

func link(template, id string) string {
	if template == "" {
		return ""
	}
	return strings.ReplaceAll(template, "{id}", url.PathEscape(id))
}

func verdictData(v *verdict.Verdict) *VerdictData {
	out := &VerdictData{
		Decision: v.Decision, Reason: v.Reason, Phase: v.Phase, Undecided: v.Undecided,
		DurationMs: millis(v.Duration), WatchMs: millis(v.Watch), ExitCode: int(v.ExitCode()),
		Checks:     make([]Check, 0, len(v.Checks)),
		Advisories: verdict.Advisories(v.Checks),
		Diagnosis:  append([]string(nil), v.Diagnosis...),
	}
	for _, c := range v.Checks {
		switch c.State {
		case compare.Pass:
			out.Counts.Pass++
		case compare.Fail:
			out.Counts.Fail++
		default:
			out.Counts.Inconclusive++
		}
		out.Checks = append(out.Checks, check(c))
	}
	if o := v.Override; o != nil {
		out.Override = &Override{Decision: o.Decision, By: o.By, Why: o.Why, At: o.At.UTC(), Was: o.Was, WasReason: o.WasReason}
	}
	return out
}

func check(c verdict.CheckResult) Check {
	o := c.Outcome
	out := Check{
		Name: c.Name, Critical: c.Critical, Kind: o.Kind, Metric: o.Metric, State: o.State, Source: c.Source,
		Baseline: compare.ExactEstimate(o.Baseline), Candidate: compare.ExactEstimate(o.Candidate),
		Ratio: compare.ExactEffect(o.Ratio), Difference: compare.ExactEffect(o.Diff),
		Threshold: Threshold{
			MaxRatio: number(o.Threshold.MaxRatio), MaxIncrease: number(o.Threshold.MaxIncrease),
			Max: number(o.Threshold.Max), Direction: o.Threshold.Direction,
		},
		Alpha: Number(o.Alpha), Reason: o.Reason, Error: c.Error,
		Warnings: append([]string(nil), c.Warnings...),
	}
	if o.Statistic != nil {
		s := compare.ExactEffect(*o.Statistic)
		out.Statistic = &s
	}
	if e := c.Evidence; e != nil {
		out.Evidence = &Evidence{Observed: e.Observed}
		if e.Succeeded != nil {
			n := *e.Succeeded
			out.Evidence.Succeeded = &n
		}
	}
	return out
}

func number(f *float64) *Number {
	if f == nil {
		return nil
	}
	n := Number(*f)
	return &n
}

func smokeData(r *verdict.Report) *Smoke {
	p, f, e, s := r.Counts()
	status := verdict.StatusFailed
	if r.Passed() {
		status = verdict.StatusPassed
	}
	out := &Smoke{Status: status, Counts: SmokeCounts{Steps: p + f + e + s, Passed: p, Failed: f, Errored: e, Skipped: s}, Suites: []SmokeSuite{}}
	for _, su := range r.Suites {
		ss := SmokeSuite{Name: su.Name, Environment: su.Environment, Status: su.Status, Error: su.Error}
		for _, st := range su.Steps {
			if st.Status == verdict.StatusFailed || st.Status == verdict.StatusError {
				ss.Failed = append(ss.Failed, SmokeStep{Name: st.Name, Status: st.Status, Error: st.Error})
			}
		}
		out.Suites = append(out.Suites, ss)
	}
	return out
}

func millis(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}

// Encode builds an event's payload, removes every secret rd knows from each of its texts —
// URLs, reasons, errors, labels, messages — and returns its JSON: the bytes every attempt at
// every endpoint sends.
func Encode(ev Event, links LinkTemplates, rd *secret.Redactor) ([]byte, error) {
	p, err := NewPayload(ev, links)
	if err != nil {
		return nil, err
	}
	if !rd.Empty() {
		p.Redact(rd.Redact)
	}
	return p.Marshal()
}

// Marshal returns the payload's JSON, without HTML escaping ("a -> b" stays readable).
func (p *Payload) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// maxPayload bounds what Decode reads: payloads are built here, but a store row may have been
// altered.
const maxPayload = 8 << 20

// Decode reads a payload from its JSON.
func Decode(b []byte) (*Payload, error) {
	if len(b) > maxPayload {
		return nil, fmt.Errorf("decode payload: %d bytes, more than %d", len(b), maxPayload)
	}
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode payload: %w", err)
	}
	if !p.Type.Valid() {
		return nil, fmt.Errorf("decode payload: unknown event type %q", p.Type)
	}
	return &p, nil
}
