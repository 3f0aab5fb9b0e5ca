package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/verdict"
)

// Snapshots (see the package comment): what a snapshot holds, how a run takes one and how a
// restored run resumes from it. Time keeps counting in wall time across a gap, so downtime
// counts toward maxDuration and the watch, and the checks' blocks continue from there; the
// observations a gap would have brought are never made, and the sequential tests continue from
// their saved wealth — the same process observed later (docs/judge.md, "Resuming after a
// restart").

// SnapshotVersion is the version of the Snapshot this build writes and reads.
const SnapshotVersion = 1

// DefaultSnapshotEvery is the run time between two saved snapshots of a running analysis.
const DefaultSnapshotEvery = 10 * time.Second

// ErrSnapshot marks a snapshot that cannot resume the analysis it is given to: of another
// version, another spec, other checks or check settings, other environments.
var ErrSnapshot = errors.New("snapshot cannot resume this analysis")

// SnapshotSink stores snapshots; the daemon's store implements it. The Engine calls it from a
// goroutine of its own: a slow or failing sink never holds up an analysis (a failure is logged
// and the next save carries a newer snapshot), and only the newest snapshot not yet saved
// waits for it.
type SnapshotSink interface {
	SaveSnapshot(ctx context.Context, s *Snapshot) error
}

// Snapshot is an analysis's state at one moment, enough to resume it: JSON in and out.
type Snapshot struct {
	Version int               `json:"version"`
	ID      string            `json:"id"`
	Key     string            `json:"key,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Spec is the analysis's metadata.name; Baseline and Candidate the environments' names.
	Spec      string    `json:"spec"`
	Baseline  string    `json:"baseline"`
	Candidate string    `json:"candidate"`
	StartedAt time.Time `json:"startedAt"`
	// Phase is the phase running (smoke, analysis, watch), or the one the verdict was reached
	// in; PhaseStart when it began and Elapsed how long it had run when the snapshot was taken.
	Phase      verdict.Phase `json:"phase"`
	PhaseStart time.Time     `json:"phaseStart"`
	Elapsed    time.Duration `json:"elapsedNs"`
	// Checks are the phase's checks, in the spec's order.
	Checks []CheckSnapshot `json:"checks,omitempty"`
	// Reach counts the phase's probes that could not reach the baseline and the candidate.
	Reach [2]ReachSnapshot `json:"reach"`
	// Smoke is the smoke gate's report, once past it: a resumed analysis does not run it again.
	Smoke *verdict.Report `json:"smoke,omitempty"`
	// Promoted is the watch state: in the watch phase, the promote being watched over.
	Promoted *verdict.Verdict `json:"promoted,omitempty"`
	// Verdict is set once the analysis is decided: restored, it comes back decided with it.
	Verdict *verdict.Verdict `json:"verdict,omitempty"`
	// LastSeq is the sequence number of the last event published before the snapshot.
	LastSeq uint64 `json:"lastSeq"`
	// At is when the snapshot was taken.
	At time.Time `json:"at"`
}

// CheckSnapshot is one check's state.
type CheckSnapshot struct {
	Name string `json:"name"`
	// State is the compare check's statistical state (compare's SaveState).
	State []byte `json:"state"`
	// Evidence is what the check's data showed of the candidate working (the evidence floor).
	Evidence verdict.Evidence `json:"evidence"`
	// SourceErrors is how many polls of its source failed in a row, SourceError the last
	// failure; Warnings the last poll's warnings.
	SourceErrors int      `json:"sourceErrors,omitempty"`
	SourceError  string   `json:"sourceError,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}

// ReachSnapshot counts one side's probes that could not reach its environment, by reason.
type ReachSnapshot struct {
	Probes      int64            `json:"probes"`
	Unreachable int64            `json:"unreachable"`
	Reasons     map[string]int64 `json:"reasons,omitempty"`
}

// Decided reports whether the snapshot holds a verdict.
func (s *Snapshot) Decided() bool { return s.Verdict != nil }

// snapshotting is how an Engine's run saves and resumes; the zero value (Run) does neither.
type snapshotting struct {
	from  *Snapshot     // resume from here (Engine.Restore)
	every time.Duration // run time between two saves; 0: none but at phase changes
	// took receives each snapshot the run takes: the Engine stamps it with the analysis's
	// identity and last event, keeps it, and saves it when save is set.
	took func(s *Snapshot, save bool)
	// serve lets Engine.Snapshot ask the monitor loop for a snapshot while it runs; the
	// function it returns withdraws the offer.
	serve func(reqs chan chan snapReply) (withdraw func())
}

type snapReply struct {
	s   *Snapshot
	err error
}

// take takes a snapshot and hands it to the Engine; a failure is logged and the run goes on.
func (r *run) take() {
	if r.o.snaps.took == nil {
		return
	}
	s, err := r.snapshot()
	if err != nil {
		r.o.Logger.Error("snapshot not taken", "err", err)
		return
	}
	r.o.snaps.took(s, true)
}

// snapshot is the run's state now. Everything in it is its own: the sink may still be writing
// it out while the run goes on.
func (r *run) snapshot() (*Snapshot, error) {
	s := &Snapshot{Version: SnapshotVersion, Spec: r.a.Metadata.Name, Baseline: r.base.Name, Candidate: r.cand.Name,
		StartedAt: r.started, Phase: r.phase, PhaseStart: r.phaseStart, Elapsed: time.Since(r.phaseStart)}
	if r.phase == verdict.PhaseSmoke {
		return s, nil
	}
	if r.v.Smoke != nil {
		s.Smoke = cloneReport(r.v.Smoke)
		s.Smoke.Redact(r.redact.Redact)
	}
	if r.phase == verdict.PhaseWatch {
		s.Promoted = cloneVerdict(r.v)
		s.Promoted.Redact(r.redact.Redact)
	}
	for i, c := range r.reach {
		s.Reach[i] = ReachSnapshot{Probes: c.probes, Unreachable: c.unreachable}
		if len(c.reasons) > 0 {
			s.Reach[i].Reasons = map[string]int64{}
			for k, n := range c.reasons {
				s.Reach[i].Reasons[r.redact.Redact(k)] += n
			}
		}
	}
	for _, c := range r.checks {
		st, err := c.eval.(stateful).SaveState()
		if err != nil {
			return nil, fmt.Errorf("check %q: %w", c.spec.Name, err)
		}
		cs := CheckSnapshot{Name: c.spec.Name, State: st, Evidence: cloneEvidence(c.ev), SourceErrors: c.consecutive, SourceError: c.srcErr}
		for _, w := range c.warnings {
			cs.Warnings = append(cs.Warnings, r.redact.Redact(w))
		}
		s.Checks = append(s.Checks, cs)
	}
	return s, nil
}

// stateful is what every check's evaluator offers for snapshots.
type stateful interface {
	SaveState() ([]byte, error)
	RestoreState([]byte) error
}

// resume puts a snapshot's phase state into the run: the checks' states, their evidence and
// source streaks, the probes' reach.
func (r *run) resume(from *Snapshot, checks []*check) error {
	if err := restoreChecks(checks, from.Checks); err != nil {
		return err
	}
	for i, c := range from.Reach {
		r.reach[i] = reachCount{probes: c.Probes, unreachable: c.Unreachable, reasons: cloneCounts(c.Reasons)}
	}
	return nil
}

func cloneCounts(m map[string]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// restoreChecks puts each check's saved state into checks built for the same analysis, in the
// same order.
func restoreChecks(checks []*check, saved []CheckSnapshot) error {
	names := func(n int, name func(int) string) string {
		out := make([]string, n)
		for i := range out {
			out[i] = name(i)
		}
		return strings.Join(out, ", ")
	}
	have := names(len(saved), func(i int) string { return saved[i].Name })
	want := names(len(checks), func(i int) string { return checks[i].spec.Name })
	if have != want || len(saved) != len(checks) {
		return fmt.Errorf("%w: the snapshot's checks are %s; the analysis's are %s", ErrSnapshot, have, want)
	}
	for i, c := range checks {
		cs := saved[i]
		ev := cs.Evidence
		switch {
		case cs.SourceErrors < 0, ev.Observed < 0, ev.Succeeded != nil && (*ev.Succeeded < 0 || *ev.Succeeded > ev.Observed):
			return fmt.Errorf("%w: check %q: impossible counts", ErrSnapshot, cs.Name)
		}
		if err := c.eval.(stateful).RestoreState(cs.State); err != nil {
			return fmt.Errorf("%w: check %q: %w", ErrSnapshot, cs.Name, err)
		}
		c.ev = cloneEvidence(ev)
		c.consecutive, c.srcErr, c.warnings = cs.SourceErrors, cs.SourceError, slices.Clone(cs.Warnings)
	}
	return nil
}

// CheckSnapshot says whether s can resume this plan, before anything runs: the same spec, the
// same environments, and for a running analysis the same checks, each of which must take its
// saved state.
func (p *Plan) CheckSnapshot(s *Snapshot) error {
	switch {
	case s == nil:
		return fmt.Errorf("%w: no snapshot", ErrSnapshot)
	case s.Version != SnapshotVersion:
		return fmt.Errorf("%w: version %d, this build reads version %d", ErrSnapshot, s.Version, SnapshotVersion)
	case s.ID == "":
		return fmt.Errorf("%w: it names no analysis", ErrSnapshot)
	case s.Spec != p.Name():
		return fmt.Errorf("%w: it is of analysis %q, not %q", ErrSnapshot, s.Spec, p.Name())
	}
	base, cand, _, err := resolveTargets(p.o.Analysis, p.o, p.o.Redactor())
	if err != nil {
		return err
	}
	if s.Baseline != base.Name || s.Candidate != cand.Name {
		return fmt.Errorf("%w: it compares %s (candidate) with %s (baseline), the analysis %s with %s",
			ErrSnapshot, s.Candidate, s.Baseline, cand.Name, base.Name)
	}
	if s.Decided() {
		return nil
	}
	switch s.Phase {
	case verdict.PhaseSmoke:
		return nil
	case verdict.PhaseAnalysis:
	case verdict.PhaseWatch:
		if s.Promoted == nil || s.Promoted.Decision != verdict.Promote {
			return fmt.Errorf("%w: a watch without the promote it watches over", ErrSnapshot)
		}
	default:
		return fmt.Errorf("%w: unknown phase %q", ErrSnapshot, s.Phase)
	}
	if s.PhaseStart.IsZero() || s.StartedAt.IsZero() {
		return fmt.Errorf("%w: it says not when the analysis and its phase began", ErrSnapshot)
	}
	srcs, err := buildSources(p.o.Analysis, p.o.sourceEnv(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer srcs.close()
	checks, err := newChecks(p.o.Analysis, [2]string{base.Name, cand.Name}, srcs)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return restoreChecks(checks, s.Checks)
}

// The trace-shape check's state is its streak of evaluations with findings; its last outcome
// comes back with the next poll of the spans.
type traceShapeState struct {
	Version int `json:"v"`
	Persist int `json:"persist"`
	Streak  int `json:"streak"`
}

func (t *traceShape) SaveState() ([]byte, error) {
	return json.Marshal(traceShapeState{Version: 1, Persist: t.persist, Streak: t.streak})
}

func (t *traceShape) RestoreState(data []byte) error {
	var s traceShapeState
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%w: %v", compare.ErrState, err)
	}
	switch {
	case s.Version != 1:
		return fmt.Errorf("%w: version %d", compare.ErrState, s.Version)
	case s.Persist != t.persist:
		return fmt.Errorf("%w: saved with persist %d; this check has %d", compare.ErrStateMismatch, s.Persist, t.persist)
	case s.Streak < 0:
		return fmt.Errorf("%w: streak %d", compare.ErrState, s.Streak)
	}
	t.streak = s.Streak
	return nil
}

func cloneEvidence(e verdict.Evidence) verdict.Evidence {
	if e.Succeeded != nil {
		n := *e.Succeeded
		e.Succeeded = &n
	}
	return e
}

// cloneVerdict copies a verdict deeply enough that redacting or overriding either leaves the
// other as it was.
func cloneVerdict(v *verdict.Verdict) *verdict.Verdict {
	if v == nil {
		return nil
	}
	cp := *v
	cp.Checks = slices.Clone(v.Checks)
	for i := range cp.Checks {
		cp.Checks[i].Warnings = slices.Clone(cp.Checks[i].Warnings)
	}
	cp.Diagnosis = slices.Clone(v.Diagnosis)
	cp.Smoke = cloneReport(v.Smoke)
	if v.Override != nil {
		o := *v.Override
		cp.Override = &o
	}
	return &cp
}

// cloneReport copies a smoke report deeply enough that redacting either leaves the other as it
// was.
func cloneReport(r *verdict.Report) *verdict.Report {
	if r == nil {
		return nil
	}
	cp := *r
	cp.Suites = slices.Clone(r.Suites)
	for i := range cp.Suites {
		s := &cp.Suites[i]
		s.Steps = slices.Clone(s.Steps)
		for j := range s.Steps {
			s.Steps[j].Conditions = slices.Clone(s.Steps[j].Conditions)
			s.Steps[j].Captured = slices.Clone(s.Steps[j].Captured)
		}
	}
	return &cp
}
