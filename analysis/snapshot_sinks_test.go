package analysis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/internal/memnet"
	"github.com/greenlight/greenlight/specs"
	"github.com/greenlight/greenlight/verdict"
)

// TestSlowAndFailingSinksNeverSlowTheRun: with a sink that always fails, or one that blocks
// until the analysis is over, the analysis decides exactly as without one — the same decision,
// reason and moment; the failing sink is tried again at every save, and the blocked one, once
// free, gets the newest snapshot: the verdict's.
func TestSlowAndFailingSinksNeverSlowTheRun(t *testing.T) {
	sc := snapScenario{policy: "minDuration: 1s, maxDuration: 40s", blue: jittered(4), green: jittered(8)}
	// newSink builds the sink inside the bubble, where what it waits on must be made.
	run := func(t *testing.T, newSink func() SnapshotSink, afterVerdict func()) *verdict.Verdict {
		var v *verdict.Verdict
		inBubble(t, func(t *testing.T, n *memnet.Network) {
			blue, green := sc.serve(t, n)
			var sink SnapshotSink
			if newSink != nil {
				sink = newSink()
			}
			e := bubbleEngine(t, n, sink)
			id, _, err := e.Start(bubblePlan(t, n, sc.spec(t), blue, green), StartOptions{})
			require.NoError(t, err)
			v, err = e.Wait(t.Context(), id)
			require.NoError(t, err)
			if afterVerdict != nil {
				afterVerdict()
			}
			require.NoError(t, e.Shutdown(t.Context()))
		})
		return v
	}
	want := run(t, nil, nil)
	require.Equal(t, verdict.Rollback, want.Decision, want.Reason)
	require.Greater(t, want.Duration, 3*time.Second, "long enough for several snapshots")

	var mu sync.Mutex
	failed := 0
	failing := &memSink{save: func(context.Context, *Snapshot) error {
		mu.Lock()
		defer mu.Unlock()
		failed++
		return errors.New("disk full")
	}}
	got := run(t, func() SnapshotSink { return failing }, nil)
	assert.Equal(t, want.Decision, got.Decision)
	assert.Equal(t, want.Reason, got.Reason)
	assert.Equal(t, want.Duration, got.Duration)
	assert.GreaterOrEqual(t, failed, 4, "tried at the start, every second and at the verdict")

	var release chan struct{}
	calls := 0
	blocking := &memSink{save: func(ctx context.Context, _ *Snapshot) error {
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	got = run(t, func() SnapshotSink {
		release = make(chan struct{})
		return blocking
	}, func() { close(release) })
	assert.Equal(t, want.Decision, got.Decision)
	assert.Equal(t, want.Reason, got.Reason)
	assert.Equal(t, want.Duration, got.Duration)
	saved := blocking.snapshots(t)
	assert.Equal(t, 2, calls, "the first snapshot blocked, then only the newest waited")
	require.Len(t, saved, 2)
	assert.True(t, saved[1].Decided(), "the newest is the verdict's")
}

// TestRestoreRefusesAnotherAnalysis: a snapshot restores only into the analysis it was taken
// from — the same spec, environments, checks and check settings — and says why not; nothing
// starts.
func TestRestoreRefusesAnotherAnalysis(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		sc := snapScenario{policy: "minDuration: 1h, maxDuration: 2h", blue: jittered(4), green: jittered(4)}
		blue, green := sc.serve(t, n)
		e := bubbleEngine(t, n, nil)
		id, _, err := e.Start(bubblePlan(t, n, sc.spec(t), blue, green), StartOptions{Key: "k"})
		require.NoError(t, err)
		time.Sleep(3 * time.Second) // fake time: three seconds of probes
		running, err := e.Snapshot(id)
		require.NoError(t, err)
		require.Equal(t, verdict.PhaseAnalysis, running.Phase)
		require.NoError(t, e.Abort(id, "done"))
		_, err = e.Wait(t.Context(), id)
		require.NoError(t, err)
		decided, err := e.Snapshot(id)
		require.NoError(t, err)
		require.True(t, decided.Decided())
		running = roundTrip(t, running)

		change := func(f func(a *specs.Analysis)) *Plan {
			a := sc.spec(t)
			f(a)
			return bubblePlan(t, n, a, blue, green)
		}
		e2 := bubbleEngine(t, n, nil)
		defer func() { require.NoError(t, e2.Shutdown(t.Context())) }()
		for _, tc := range []struct {
			name string
			plan *Plan
			snap func() *Snapshot
			want string
		}{
			{"a check renamed", change(func(a *specs.Analysis) { a.Checks[1].Name = "p95-latency" }), nil,
				"snapshot cannot resume this analysis: the snapshot's checks are errors, p95; the analysis's are errors, p95-latency"},
			{"a check removed", change(func(a *specs.Analysis) { a.Checks = a.Checks[:1] }), nil,
				"the snapshot's checks are errors, p95; the analysis's are errors"},
			{"another percentile", change(func(a *specs.Analysis) { a.Checks[1].Latency.Percentile = 99 }), nil,
				`check "p95": check state of a different configuration: percentile=95 saved, percentile=99 here`},
			{"another limit", change(func(a *specs.Analysis) { two := specs.Percent(0.02); a.Checks[0].ErrorRate.MaxIncrease = &two }), nil,
				`check "errors": check state of a different configuration: maxIncrease=0.05 saved, maxIncrease=0.02 here`},
			{"another spec", change(func(a *specs.Analysis) { a.Metadata.Name = "other" }), nil,
				`it is of analysis "test", not "other"`},
			{"a decided snapshot of another spec", change(func(a *specs.Analysis) { a.Metadata.Name = "other" }), func() *Snapshot { return decided },
				`it is of analysis "test", not "other"`},
			{"roles swapped", func() *Plan {
				p, err := Compile(Options{Analysis: sc.spec(t), Envs: map[string]string{"blue": blue, "green": green}, Baseline: "green", Candidate: "blue"})
				require.NoError(t, err)
				return p
			}(), nil, "it compares green (candidate) with blue (baseline), the analysis blue with green"},
			{"another version", bubblePlan(t, n, sc.spec(t), blue, green), func() *Snapshot {
				s := *running
				s.Version = 2
				return &s
			}, "version 2, this build reads version 1"},
			{"a corrupted state", bubblePlan(t, n, sc.spec(t), blue, green), func() *Snapshot {
				s := *running
				s.Checks = append([]CheckSnapshot(nil), s.Checks...)
				s.Checks[1].State = s.Checks[1].State[:40]
				return &s
			}, `check "p95": invalid check state`},
		} {
			s := running
			if tc.snap != nil {
				s = tc.snap()
			}
			_, err := e2.Restore(tc.plan, s, StartOptions{})
			require.ErrorIs(t, err, ErrSnapshot, tc.name)
			t.Logf("%s: %v", tc.name, err)
			assert.Contains(t, err.Error(), tc.want, tc.name)
			_, err = e2.Get(id)
			assert.ErrorIs(t, err, ErrNotFound, "%s: nothing started", tc.name)
		}
		// The same analysis twice, or its key taken: refused.
		p := bubblePlan(t, n, sc.spec(t), blue, green)
		require.NoError(t, e.Shutdown(t.Context()))
		_, err = e.Restore(p, running, StartOptions{})
		assert.ErrorIs(t, err, ErrShuttingDown)
		got, err := e2.Restore(p, decided, StartOptions{})
		require.NoError(t, err)
		_, err = e2.Restore(p, decided, StartOptions{})
		assert.ErrorIs(t, err, ErrExists)
		other := *running
		other.ID = "another"
		_, err = e2.Restore(p, &other, StartOptions{})
		assert.ErrorIs(t, err, ErrExists, "key k is taken")
		_, err = e2.Restore(p, &other, StartOptions{Key: "k2"})
		assert.ErrorIs(t, err, ErrSnapshot, "saved under another key")
		v, err := e2.Wait(t.Context(), got)
		require.NoError(t, err)
		assert.Equal(t, verdict.Interrupted, v.Decision)
	})
}

// TestSnapshotOnDemand: Engine.Snapshot in the smoke gate is of the smoke phase; in the
// analysis phase it holds the checks' evidence as of now.
func TestSnapshotOnDemand(t *testing.T) {
	inBubble(t, func(t *testing.T, n *memnet.Network) {
		// The candidate answers its smoke step in 4ms of fake time, which passes only once
		// everything else waits: the first snapshot is of the smoke gate.
		sc := snapScenario{policy: "minDuration: 1h, maxDuration: 2h", smoke: true, green: jittered(4)}
		blue, green := sc.serve(t, n)
		e := bubbleEngine(t, n, nil)
		defer func() { require.NoError(t, e.Shutdown(t.Context())) }()
		p := bubblePlan(t, n, sc.spec(t), blue, green)
		id, _, err := e.Start(p, StartOptions{})
		require.NoError(t, err)
		first, err := e.Snapshot(id)
		require.NoError(t, err)
		assert.Equal(t, verdict.PhaseSmoke, first.Phase)
		assert.Nil(t, first.Smoke)
		assert.Empty(t, first.Checks)

		time.Sleep(2 * time.Second)
		s, err := e.Snapshot(id)
		require.NoError(t, err)
		assert.Equal(t, verdict.PhaseAnalysis, s.Phase)
		assert.Equal(t, id, s.ID)
		require.NotNil(t, s.Smoke)
		assert.InDelta(t, 2*time.Second, s.Elapsed, float64(10*time.Millisecond))
		assert.Greater(t, s.checkSamples(t, p)[0], int64(100), "two seconds of probes every 10ms")
		st, err := e.Get(id)
		require.NoError(t, err)
		assert.Equal(t, st.LastSeq, s.LastSeq)

		// Restored from the smoke gate, it runs the gate again, then compares; its events follow
		// those a store says it kept.
		e2 := bubbleEngine(t, n, nil)
		defer func() { require.NoError(t, e2.Shutdown(t.Context())) }()
		_, err = e2.Restore(p, roundTrip(t, first), StartOptions{AfterSeq: first.LastSeq + 100})
		require.NoError(t, err)
		sub, err := e2.Subscribe(id, 0)
		require.NoError(t, err)
		defer sub.Close()
		var kinds []EventKind
		for len(kinds) < 5 {
			ev, _, err := sub.Next(t.Context())
			require.NoError(t, err)
			if len(kinds) == 0 {
				assert.Equal(t, first.LastSeq+101, ev.Seq)
			}
			if len(kinds) == 0 || kinds[len(kinds)-1] != ev.Kind {
				kinds = append(kinds, ev.Kind)
			}
		}
		assert.Equal(t, []EventKind{EventPhase, EventSmokeStep, EventSmokeDone, EventPhase, EventTick}, kinds)
	})
}

// TestTraceShapeState: the trace-shape check's streak of findings comes back, into a check
// that needs as many.
func TestTraceShapeState(t *testing.T) {
	ts := &traceShape{persist: 3, streak: 2}
	data, err := ts.SaveState()
	require.NoError(t, err)
	back := &traceShape{persist: 3}
	require.NoError(t, back.RestoreState(data))
	assert.Equal(t, 2, back.streak)
	assert.ErrorIs(t, (&traceShape{persist: 5}).RestoreState(data), compare.ErrStateMismatch)
	assert.ErrorIs(t, back.RestoreState([]byte(`{"v":1,"persist":3,"streak":-1}`)), compare.ErrState)
	assert.ErrorIs(t, back.RestoreState([]byte(`{"v":2,"persist":3}`)), compare.ErrState)
	assert.ErrorIs(t, back.RestoreState([]byte(`glcs`)), compare.ErrState)
	assert.Equal(t, 2, back.streak, "a refused state changes nothing")
}
