package analysis

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// memSink keeps every snapshot saved, as the JSON a store would hold; save, when set, is
// called first and may fail or block.
type memSink struct {
	mu    sync.Mutex
	saved [][]byte
	save  func(ctx context.Context, s *Snapshot) error
	// onSaved is told how many snapshots have been saved, after each.
	onSaved func(n int, s *Snapshot)
}

func (m *memSink) SaveSnapshot(ctx context.Context, s *Snapshot) error {
	if m.save != nil {
		if err := m.save(ctx, s); err != nil {
			return err
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.saved = append(m.saved, b)
	n := len(m.saved)
	m.mu.Unlock()
	if m.onSaved != nil {
		m.onSaved(n, s)
	}
	return nil
}

// snapshots reads back every snapshot saved.
func (m *memSink) snapshots(t *testing.T) []*Snapshot {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Snapshot, len(m.saved))
	for i, b := range m.saved {
		out[i] = new(Snapshot)
		require.NoError(t, json.Unmarshal(b, out[i]))
	}
	return out
}

// bubbleEngine is an Engine probing over n, saving snapshots to sink (nil: none) every second
// of run time.
func bubbleEngine(t *testing.T, n *memnet.Network, sink SnapshotSink) *Engine {
	t.Helper()
	runner := smoke.NewRunner("test", nil)
	runner.DialContext = n.DialContext
	next := 0
	o := EngineOptions{Runner: runner, SnapshotEvery: time.Second, NewID: func() string {
		next++
		return []string{"first", "second", "third"}[next-1]
	}}
	if sink != nil {
		o.Snapshots = sink
	}
	return NewEngine(o)
}

func bubblePlan(t *testing.T, n *memnet.Network, a *specs.Analysis, blue, green string) *Plan {
	t.Helper()
	p, err := Compile(Options{Analysis: a, Envs: map[string]string{"blue": blue, "green": green}, Tick: 100 * time.Millisecond,
		DialContext: n.DialContext})
	require.NoError(t, err)
	return p
}

// withSmoke adds the smoke gate to a spec built by spec.
func withSmoke(t *testing.T, a *specs.Analysis) *specs.Analysis {
	t.Helper()
	smokeDocs, err := specs.Parse("s.yaml", []byte(`apiVersion: greenlight/v1
kind: Suite
metadata: {name: smoke}
steps:
  - name: health
    http: {url: /health}
    expect: [status == 200]
`), specs.LoadOptions{})
	require.NoError(t, err)
	a.Smoke = []specs.SuiteRef{{Ref: "smoke"}}
	docs := &specs.Documents{Suites: append([]*specs.Suite{a.Monitor("journey").Resolved}, smokeDocs.Suites...), Analyses: []*specs.Analysis{a}}
	require.NoError(t, docs.Link(specs.LoadOptions{}))
	return a
}

// snapScenario is an analysis on the example app, served afresh in each bubble.
type snapScenario struct {
	name         string
	policy       string
	smoke        bool
	blue, green  app.Faults
	want         verdict.Decision
	wantPhase    verdict.Phase
	stopAfter    int    // periodic snapshots saved before the stop
	stopInPhase  string // the phase the stop must fall in
	restoreWhich string // "shutdown": the snapshot saved as the engine stopped; "periodic": the last one before (a crash); "on demand": Engine.Snapshot's
}

func (sc snapScenario) serve(t *testing.T, n *memnet.Network) (string, string) {
	_, blue := serveApp(t, n, "blue.test", app.Config{Faults: sc.blue, Seed: 1})
	_, green := serveApp(t, n, "green.test", app.Config{Faults: sc.green, Seed: 2})
	return blue, green
}

func (sc snapScenario) spec(t *testing.T) *specs.Analysis {
	a := spec(t, sc.policy, "")
	if sc.smoke {
		a = withSmoke(t, a)
	}
	return a
}

// TestRestoreReachesTheSameVerdict: an analysis stopped mid-way and resumed from a snapshot in a
// fresh Engine reaches the verdict the same analysis reaches uninterrupted on the same
// (simulated-clock) data: its checks resume with their evidence, its events are numbered after
// the snapshot's, the smoke gate does not run again, and its time counts from when it started.
func TestRestoreReachesTheSameVerdict(t *testing.T) {
	for _, sc := range []snapScenario{
		{name: "identical environments promote", policy: "minDuration: 8s, maxDuration: 40s", smoke: true,
			blue: jittered(4), green: jittered(4), want: verdict.Promote, wantPhase: verdict.PhaseAnalysis,
			stopAfter: 3, stopInPhase: "analysis", restoreWhich: "shutdown"},
		{name: "a latency regression rolls back", policy: "minDuration: 1s, maxDuration: 40s",
			blue: jittered(4), green: jittered(8), want: verdict.Rollback, wantPhase: verdict.PhaseAnalysis,
			stopAfter: 1, stopInPhase: "analysis", restoreWhich: "periodic"},
		{name: "a promote watched over", policy: "minDuration: 2s, maxDuration: 40s, watch: 6s",
			blue: jittered(4), green: jittered(4), want: verdict.Promote, wantPhase: verdict.PhaseWatch,
			stopAfter: 2, stopInPhase: "watch", restoreWhich: "on demand"},
	} {
		t.Run(sc.name, func(t *testing.T) {
			var whole *verdict.Verdict
			inBubble(t, func(t *testing.T, n *memnet.Network) {
				blue, green := sc.serve(t, n)
				e := bubbleEngine(t, n, &memSink{})
				id, _, err := e.Start(bubblePlan(t, n, sc.spec(t), blue, green), StartOptions{Key: "k"})
				require.NoError(t, err)
				whole, err = e.Wait(t.Context(), id)
				require.NoError(t, err)
				require.NoError(t, e.Shutdown(t.Context()))
			})
			require.Equal(t, sc.want, whole.Decision, whole.Reason)
			require.Equal(t, sc.wantPhase, whole.Phase, whole.Reason)
			t.Logf("uninterrupted: %s after %s: %s", whole.Decision, whole.Duration, whole.Reason)

			inBubble(t, func(t *testing.T, n *memnet.Network) {
				blue, green := sc.serve(t, n)
				stop := make(chan struct{})
				periodic := 0
				var lastPeriodic *Snapshot
				sink := &memSink{onSaved: func(_ int, s *Snapshot) {
					if s.Decided() || s.Elapsed < time.Second || string(s.Phase) != sc.stopInPhase {
						return
					}
					periodic++
					lastPeriodic = s
					if periodic == sc.stopAfter {
						close(stop)
					}
				}}
				e := bubbleEngine(t, n, sink)
				p := bubblePlan(t, n, sc.spec(t), blue, green)
				id, _, err := e.Start(p, StartOptions{Key: "k", Labels: map[string]string{"rollout": "r1"}})
				require.NoError(t, err)
				var ticked Event // the last tick before the stop
				sub, err := e.Subscribe(id, 0)
				require.NoError(t, err)
				go func() {
					for {
						ev, _, err := sub.Next(context.Background())
						if err != nil {
							return
						}
						if ev.Kind == EventTick {
							ticked = ev
						}
					}
				}()
				<-stop
				var onDemand *Snapshot
				if sc.restoreWhich == "on demand" {
					onDemand, err = e.Snapshot(id)
					require.NoError(t, err)
				}
				require.NoError(t, e.Shutdown(t.Context()))
				sub.Close()
				stopped, err := e.Wait(t.Context(), id)
				require.NoError(t, err)
				require.Equal(t, verdict.Interrupted, stopped.Decision, "stopped before the verdict: %s", stopped.Reason)

				all := sink.snapshots(t)
				from := all[len(all)-1]
				require.False(t, from.Decided(), "a shutdown saves the state, not the interruption")
				switch sc.restoreWhich {
				case "periodic":
					from = lastPeriodic
				case "on demand":
					from = roundTrip(t, onDemand)
				}
				require.Equal(t, sc.stopInPhase, string(from.Phase))
				assert.Equal(t, "first", from.ID)
				assert.Equal(t, "k", from.Key)
				assert.Equal(t, map[string]string{"rollout": "r1"}, from.Labels)
				if sc.smoke {
					require.NotNil(t, from.Smoke)
					assert.True(t, from.Smoke.Passed())
				}
				samples := from.checkSamples(t, p)

				// A fresh Engine, as after a restart.
				e2 := bubbleEngine(t, n, &memSink{})
				defer func() { require.NoError(t, e2.Shutdown(t.Context())) }()
				got, err := e2.Restore(bubblePlan(t, n, sc.spec(t), blue, green), from, StartOptions{})
				require.NoError(t, err)
				require.Equal(t, "first", got)
				sub2, err := e2.Subscribe(got, 0)
				require.NoError(t, err)
				v, err := e2.Wait(t.Context(), got)
				require.NoError(t, err)
				var events []Event
				for {
					ev, _, err := sub2.Next(t.Context())
					if err != nil {
						break
					}
					events = append(events, ev)
				}

				assert.Equal(t, whole.Decision, v.Decision, "uninterrupted: %s\nresumed: %s", whole.Reason, v.Reason)
				assert.Equal(t, whole.Phase, v.Phase)
				// The clock is fake and the apps' jitter seeded: resumed on the phase's beat, the
				// analysis decides at the very tick the uninterrupted one did.
				assert.Equal(t, whole.Duration, v.Duration, "decided at the same moment")
				assert.Equal(t, from.StartedAt.UnixNano(), v.StartedAt.UnixNano())
				t.Logf("resumed from %s into the %s phase (last tick %s): %s after %s: %s", sc.restoreWhich, from.Phase, ticked.Elapsed, v.Decision, v.Duration, v.Reason)
				if sc.smoke {
					require.NotNil(t, v.Smoke)
					assert.Equal(t, from.Smoke.Suites[0].StartedAt.UnixNano(), v.Smoke.Suites[0].StartedAt.UnixNano(), "the smoke gate's report is the one from before the stop")
				}
				require.NotEmpty(t, events)
				assert.Equal(t, from.LastSeq+1, events[0].Seq, "events are numbered after the snapshot's")
				assert.Equal(t, EventPhase, events[0].Kind)
				assert.Contains(t, events[0].Message, "resumed after ")
				for i, ev := range events {
					assert.Equal(t, from.LastSeq+1+uint64(i), ev.Seq)
					assert.NotEqual(t, EventSmokeStep, ev.Kind, "the smoke gate does not run again")
				}
				for _, ev := range events {
					if ev.Kind != EventTick || ev.Phase != from.Phase {
						continue
					}
					// The first tick after the restart has every observation from before it.
					for i, c := range ev.Checks {
						assert.GreaterOrEqual(t, min(c.Baseline.N, c.Candidate.N), samples[i], "%s: %s", c.Name, c.Reason)
						assert.Greater(t, samples[i], int64(20), "%s had evidence when it stopped", c.Name)
					}
					assert.Greater(t, ev.Elapsed, from.Elapsed, "the phase's time goes on")
					break
				}
				if sc.wantPhase == verdict.PhaseWatch {
					assert.Equal(t, 6*time.Second, v.Watch, "the watch ends when it would have: %s", v.Reason)
				}
			})
		})
	}
}

// checkSamples is, per check, the smaller side's sample count the snapshot's state holds.
func (s *Snapshot) checkSamples(t *testing.T, p *Plan) []int64 {
	t.Helper()
	srcs, err := buildSources(p.o.Analysis, sourceEnv{})
	require.NoError(t, err)
	defer srcs.close()
	checks, err := newChecks(p.o.Analysis, [2]string{s.Baseline, s.Candidate}, srcs)
	require.NoError(t, err)
	require.NoError(t, restoreChecks(checks, s.Checks))
	out := make([]int64, len(checks))
	for i, c := range checks {
		o := c.eval.Evaluate()
		out[i] = min(o.Baseline.N, o.Candidate.N)
	}
	return out
}

// roundTrip is a snapshot as a store gives it back.
func roundTrip(t *testing.T, s *Snapshot) *Snapshot {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	back := new(Snapshot)
	require.NoError(t, json.Unmarshal(b, back))
	return back
}

// TestDecidedSnapshotReadsBackIdentically: the snapshot saved at the verdict survives a JSON
// round trip whole, and restored into a fresh Engine the analysis is decided, without running,
// with the identical verdict and its verdict event under the same sequence number. (The verdict
// here holds finite numbers only: how its JSON carries infinities and NaN is the verdict
// package's.)
func TestDecidedSnapshotReadsBackIdentically(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		sc := snapScenario{policy: "minDuration: 1s, maxDuration: 40s", blue: jittered(4), green: jittered(8)}
		blue, green := sc.serve(t, n)
		sink := &memSink{}
		e := bubbleEngine(t, n, sink)
		a := sc.spec(t)
		a.Checks = a.Checks[1:] // p95 alone
		p := bubblePlan(t, n, a, blue, green)
		id, _, err := e.Start(p, StartOptions{Key: "k"})
		require.NoError(t, err)
		v, err := e.Wait(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, verdict.Rollback, v.Decision, v.Reason)
		require.NoError(t, e.Shutdown(t.Context()))
		st, err := e.Get(id)
		require.NoError(t, err)

		all := sink.snapshots(t)
		final := all[len(all)-1]
		require.True(t, final.Decided())
		assert.Equal(t, st.LastSeq, final.LastSeq, "the verdict event is the last one")
		assert.Empty(t, final.Checks, "a decided analysis keeps its verdict, not its checks' evidence")
		again := roundTrip(t, final)
		requireSame(t, final, again)
		requireSame(t, v, again.Verdict)

		sink2 := &memSink{}
		e2 := bubbleEngine(t, n, sink2)
		got, err := e2.Restore(p, again, StartOptions{})
		require.NoError(t, err)
		back, err := e2.Wait(t.Context(), got)
		require.NoError(t, err)
		requireSame(t, v, back)
		st2, err := e2.Get(got)
		require.NoError(t, err)
		assert.Equal(t, verdict.Rollback, st2.State)
		assert.Equal(t, "k", st2.Key)
		assert.Equal(t, final.LastSeq, st2.LastSeq)

		sub, err := e2.Subscribe(got, 0)
		require.NoError(t, err)
		ev, skipped, err := sub.Next(t.Context())
		require.NoError(t, err)
		assert.Equal(t, EventVerdict, ev.Kind)
		assert.Equal(t, final.LastSeq, ev.Seq)
		assert.Equal(t, final.LastSeq-1, skipped, "the events before the verdict were not kept")
		requireSame(t, v, ev.Verdict)

		snap, err := e2.Snapshot(got)
		require.NoError(t, err)
		snap.At = final.At
		requireSame(t, final, roundTrip(t, snap))

		// Decided, it stays decided: nothing to abort; an override is recorded, and saved.
		assert.ErrorIs(t, e2.Abort(got, "no"), ErrDecided)
		_, err = e2.Override(got, verdict.Promote, "carol", "a known noisy neighbour")
		require.NoError(t, err)
		require.NoError(t, e2.Shutdown(t.Context()))
		saved := sink2.snapshots(t)
		require.Len(t, saved, 1, "restoring saves nothing; the override does")
		require.NotNil(t, saved[0].Verdict.Override)
		assert.Equal(t, "carol", saved[0].Verdict.Override.By)
		assert.Equal(t, verdict.Rollback, saved[0].Verdict.Override.Was)
	})
}

// requireSame fails unless a and b are equal, NaN where the other has NaN and instants equal
// whatever their location: what reading back a JSON copy can promise.
func requireSame(t *testing.T, a, b any) {
	t.Helper()
	if !same(reflect.ValueOf(a), reflect.ValueOf(b)) {
		wa, _ := json.Marshal(a)
		wb, _ := json.Marshal(b)
		t.Fatalf("they differ:\n%s\n%s", wa, wb)
	}
}

func same(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float64:
		return a.Float() == b.Float() || math.IsNaN(a.Float()) && math.IsNaN(b.Float())
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return same(a.Elem(), b.Elem())
	case reflect.Struct:
		if t, ok := a.Interface().(time.Time); ok {
			return t.Equal(b.Interface().(time.Time))
		}
		for i := range a.NumField() {
			if !same(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() || a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() && a.Len() > 0 {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if !same(a.MapIndex(k), b.MapIndex(k)) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}
