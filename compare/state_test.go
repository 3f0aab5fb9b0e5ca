package compare

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateful is what every check offers for snapshots.
type stateful interface {
	SaveState() ([]byte, error)
	RestoreState([]byte) error
	Evaluate() Outcome
}

// stateCase builds a check and feeds it one step of data; the same rng sequence feeds the
// original and the restored copy alike.
type stateCase struct {
	name string
	// before is how many steps are fed before the state is saved, after how many follow.
	before, after int
	build         func(t testing.TB) stateful
	step          func(t testing.TB, c stateful, rng *rand.Rand, i int)
}

func advance(c stateful, i int) {
	if a, ok := c.(interface{ Advance(time.Duration) }); ok {
		a.Advance(time.Duration(i) * time.Second)
	}
}

var blueGreen = Config{BaselineName: "blue", CandidateName: "green", Block: DefaultBlock}

func stateCases() []stateCase {
	latency := func(cfg Config, pct float64, th Threshold) func(t testing.TB) stateful {
		return func(t testing.TB) stateful {
			c, err := NewLatency(cfg, pct, th)
			require.NoError(t, err)
			return c
		}
	}
	latencyStep := func(perSecond int, slower float64) func(t testing.TB, c stateful, rng *rand.Rand, i int) {
		return func(t testing.TB, c stateful, rng *rand.Rand, i int) {
			advance(c, i)
			l := c.(*Latency)
			for range perSecond {
				require.NoError(t, l.Add(Baseline, lognormal(rng, 0.1, 0.4)))
				require.NoError(t, l.Add(Candidate, slower*lognormal(rng, 0.1, 0.4)))
			}
		}
	}
	errorRate := func(t testing.TB) stateful {
		c, err := NewErrorRate(blueGreen, Threshold{MaxIncrease: F(0.02), MaxRatio: F(2)})
		require.NoError(t, err)
		return c
	}
	return []stateCase{
		{name: "latency before its grid is placed", before: 4, after: 60, build: latency(Config{Block: time.Second}, 95, Threshold{MaxRatio: F(1.2)}),
			step: latencyStep(3, 1)},
		{name: "latency with a placed grid and exact sketches", before: 25, after: 40, build: latency(blueGreen, 95, Threshold{MaxRatio: F(1.2), MaxIncrease: F(0.01)}),
			step: latencyStep(50, 1.15)},
		{name: "latency past exact storage", before: 50, after: 30, build: latency(blueGreen, 99, Threshold{MaxRatio: F(1.1), Max: F(1), Direction: Either}),
			step: latencyStep(100, 1.3)},
		{name: "latency without blocks", before: 10, after: 10, build: latency(Config{}, 50, Threshold{MaxIncrease: F(0.005)}),
			step: latencyStep(20, 1)},
		{name: "error rate on pairs", before: 23, after: 60, build: errorRate,
			step: func(t testing.TB, c stateful, rng *rand.Rand, i int) {
				advance(c, i)
				e := c.(*ErrorRate)
				for range 10 {
					e.Add(Baseline, rng.Float64() < 0.02)
					e.Add(Candidate, rng.Float64() < 0.06)
				}
				if i%7 == 0 { // an event whose pair has not come yet
					e.Add(Candidate, rng.Float64() < 0.5)
				}
			}},
		{name: "error rate on counts", before: 5, after: 20, build: errorRate,
			step: func(t testing.TB, c stateful, rng *rand.Rand, i int) {
				e := c.(*ErrorRate)
				n := int64(100 * (i + 1))
				require.NoError(t, e.SetCounts(Baseline, n/50, n))
				require.NoError(t, e.SetCounts(Candidate, int64(rng.IntN(int(n/10))), n))
			}},
		{name: "values", before: 12, after: 30, build: func(t testing.TB) stateful {
			c, err := NewValues(blueGreen, Threshold{MaxRatio: F(1.1)})
			require.NoError(t, err)
			return c
		}, step: func(t testing.TB, c stateful, rng *rand.Rand, i int) {
			v := c.(*Values)
			require.NoError(t, v.Add(Baseline, 10+rng.NormFloat64()))
			if i%5 != 0 { // some intervals wait for their pair
				require.NoError(t, v.Add(Candidate, 12+rng.NormFloat64()))
			}
		}},
		{name: "shift", before: 30, after: 50, build: func(t testing.TB) stateful {
			c, err := NewShift(blueGreen, 0.6, Either)
			require.NoError(t, err)
			return c
		}, step: func(t testing.TB, c stateful, rng *rand.Rand, i int) {
			s := c.(*Shift)
			require.NoError(t, s.AddPair(lognormal(rng, 0.1, 0.3), lognormal(rng, 0.12, 0.3)))
			require.NoError(t, s.Add(Candidate, float64(i%3)))
		}},
		{name: "histogram latency", before: 3, after: 5, build: func(t testing.TB) stateful {
			c, err := NewHistogramLatency(blueGreen, 90, Threshold{MaxRatio: F(1.5)})
			require.NoError(t, err)
			return c
		}, step: func(t testing.TB, c stateful, rng *rand.Rand, i int) {
			h := c.(*HistogramLatency)
			le := []float64{0.05, 0.1, 0.25, 0.5, 1, math.Inf(1)}
			n := float64(100 * (i + 1))
			require.NoError(t, h.SetBuckets(Baseline, le, []float64{0.2 * n, 0.6 * n, 0.9 * n, 0.97 * n, n, n}))
			require.NoError(t, h.SetBuckets(Candidate, le, []float64{0.1 * n, 0.3 * n, 0.8 * n, 0.9 * n, n * (0.98 + rng.Float64()/100), n}))
		}},
	}
}

// TestStateRestoredJudgesAlike: for every kind of check, a check restored from a saved state
// and fed the same data as the original judges exactly as the original does, every number to
// the last bit, and ends with the same state.
func TestStateRestoredJudgesAlike(t *testing.T) {
	for _, tc := range stateCases() {
		t.Run(tc.name, func(t *testing.T) {
			// Step i's data come from its own seed: the original and the restored copy get the same.
			data := func(i int) *rand.Rand { return rand.New(rand.NewPCG(7, uint64(i))) }
			orig := tc.build(t)
			for i := range tc.before {
				tc.step(t, orig, data(i), i)
			}
			orig.Evaluate() // evaluating keeps caches and sorts values: none of that is state
			saved, err := orig.SaveState()
			require.NoError(t, err)
			restored := tc.build(t)
			require.NoError(t, restored.RestoreState(saved))
			again, err := restored.SaveState()
			require.NoError(t, err)
			assert.Equal(t, saved, again, "a restored check saves the state it was given")

			states := map[State]int{}
			for i := tc.before; i < tc.before+tc.after; i++ {
				tc.step(t, orig, data(i), i)
				tc.step(t, restored, data(i), i)
				want, got := orig.Evaluate(), restored.Evaluate()
				requireSameOutcome(t, want, got, "step %d", i)
				states[want.State]++
				if d, ok := orig.(interface{ Decide() State }); ok {
					require.Equal(t, d.Decide(), restored.(interface{ Decide() State }).Decide())
				}
			}
			t.Logf("state %d bytes; outcomes after restoring: %v", len(saved), states)
			a, err := orig.SaveState()
			require.NoError(t, err)
			b, err := restored.SaveState()
			require.NoError(t, err)
			assert.Equal(t, a, b, "both end in the same state")
		})
	}
}

// requireSameOutcome fails unless the outcomes are equal field by field, floats to the bit
// (NaN where the other has NaN).
func requireSameOutcome(t *testing.T, want, got Outcome, msg string, args ...any) {
	t.Helper()
	if !sameValue(reflect.ValueOf(want), reflect.ValueOf(got)) {
		t.Fatalf(msg+":\nwant %+v\ngot  %+v", append(args, want, got)...)
	}
}

func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float()) || math.IsNaN(a.Float()) && math.IsNaN(b.Float())
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}

// TestSketchState: a sketch's values, exact or binned, come back as they were.
func TestSketchState(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 10, exactLimit + 500} {
		s := NewSketch()
		for range n {
			require.NoError(t, s.Add(lognormal(rng, 0.2, 1)))
		}
		require.NoError(t, s.Add(0)) // a zero, kept apart once binned
		data, err := s.SaveState()
		require.NoError(t, err)
		back := NewSketch()
		require.NoError(t, back.RestoreState(data))
		assert.Equal(t, s.Count(), back.Count())
		assert.Equal(t, s.Exact(), back.Exact())
		for _, q := range []float64{0, 0.01, 0.5, 0.95, 0.999, 1} {
			assert.Equal(t, s.Quantile(q), back.Quantile(q), "n=%d q=%v", n, q)
		}
	}
}

// TestStateOfAnotherConfigurationIsRefused: a state restores only into a check of the same
// kind and configuration, and says what differs; the check is left as it was.
func TestStateOfAnotherConfigurationIsRefused(t *testing.T) {
	mk := func(cfg Config, pct float64, th Threshold) *Latency {
		c, err := NewLatency(cfg, pct, th)
		require.NoError(t, err)
		return c
	}
	p95 := mk(blueGreen, 95, Threshold{MaxRatio: F(1.2)})
	for i := range 100 {
		require.NoError(t, p95.Add(Side(i%2), 0.1+float64(i)/1000))
	}
	saved, err := p95.SaveState()
	require.NoError(t, err)

	swapped := blueGreen
	swapped.BaselineName, swapped.CandidateName = "green", "blue"
	shared := blueGreen
	shared.Alpha = 0.005
	for _, tc := range []struct {
		name  string
		into  stateful
		wants []string
	}{
		{"another percentile", mk(blueGreen, 99, Threshold{MaxRatio: F(1.2)}), []string{"percentile=95 saved, percentile=99 here"}},
		{"another limit", mk(blueGreen, 95, Threshold{MaxRatio: F(1.25)}), []string{"maxRatio=1.2 saved, maxRatio=1.25 here"}},
		{"another level", mk(shared, 95, Threshold{MaxRatio: F(1.2)}), []string{"alpha=0.01 saved, alpha=0.005 here"}},
		{"roles swapped", mk(swapped, 95, Threshold{MaxRatio: F(1.2)}), []string{`environments="blue"/"green" saved, environments="green"/"blue" here`}},
		{"another name", mk(Config{Name: "p95-checkout", BaselineName: "blue", CandidateName: "green", Block: DefaultBlock}, 95, Threshold{MaxRatio: F(1.2)}),
			[]string{`name="" saved, name="p95-checkout" here`}},
		{"another kind", func() stateful {
			c, err := NewErrorRate(blueGreen, Threshold{MaxRatio: F(1.2)})
			require.NoError(t, err)
			return c
		}(), []string{"state of kind latency, this check is of kind error-rate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := tc.into.SaveState()
			require.NoError(t, err)
			err = tc.into.RestoreState(saved)
			require.ErrorIs(t, err, ErrStateMismatch)
			for _, w := range tc.wants {
				assert.Contains(t, err.Error(), w)
			}
			after, err := tc.into.SaveState()
			require.NoError(t, err)
			assert.Equal(t, before, after, "a refused state changes nothing")
		})
	}
}

// TestBadStatesAreRefused: truncated, corrupted and hostile states are errors — never a panic,
// never a huge allocation — and leave the check as it was.
func TestBadStatesAreRefused(t *testing.T) {
	c, err := NewLatency(blueGreen, 95, Threshold{MaxRatio: F(1.2)})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		c.Advance(time.Duration(i) * time.Second)
		for range 20 {
			require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 0.3)))
			require.NoError(t, c.Add(Candidate, lognormal(rng, 0.1, 0.3)))
		}
	}
	good, err := c.SaveState()
	require.NoError(t, err)
	fp := c.fingerprint()

	for n := 0; n < len(good); n += 1 + n/32 { // every short prefix, then a few hundred more
		err := c.RestoreState(good[:n])
		require.ErrorIs(t, err, ErrState, "truncated to %d of %d bytes", n, len(good))
	}

	// Bodies that decompress fine but say impossible things.
	var w stateWriter
	c.sk[Baseline].writeState(&w)
	c.q[Baseline].writeState(&w)
	side := w.b
	body := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	uv := func(v uint64) []byte { var w stateWriter; w.uvarint(v); return w.b }
	sv := func(v int64) []byte { var w stateWriter; w.varint(v); return w.b }
	fl := func(v float64) []byte { var w stateWriter; w.float(v); return w.b }
	for _, tc := range []struct {
		name, want string
		body       []byte
	}{
		{"empty", "truncated", nil},
		{"trailing bytes", "bytes left over", body(side, side, sv(7), []byte{1, 2, 3})},
		{"a huge length", "sketch values: length 1099511627776", body([]byte{0}, uv(1<<40))},
		{"a length past the end", "length 100 (at most 4096, 8 bytes left)", body([]byte{0}, uv(100), fl(1))},
		{"more values than bytes", "3 values in 8 bytes", body([]byte{0}, uv(3), fl(1))},
		{"a NaN latency", "bad value NaN", body([]byte{0}, uv(1), fl(math.NaN()))},
		{"a negative latency", "bad value -1", body([]byte{0}, uv(1), fl(-1))},
		{"a flag that is not one", "flag 7", body([]byte{7})},
		{"a negative count", "sketch count -5", body([]byte{1}, sv(-5))},
		{"a bin far off", "sketch offset", body([]byte{1}, sv(10), fl(0.1), fl(0.2), fl(0), sv(1<<40))},
		{"a negative block", "block -1", body(side, side, sv(-1))},
		{"a grid placed too early", "a grid placed after 3 observations", body([]byte{0}, uv(0), sv(3), []byte{1}, fl(0))},
		{"a grid centre at infinity", "grid centre +Inf", body([]byte{0}, uv(0), sv(30), []byte{1}, fl(math.Inf(1)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := sealState(kindLatency, fp, tc.body)
			require.NoError(t, err)
			err = c.RestoreState(data)
			require.ErrorIs(t, err, ErrState)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	// A wealth beyond the fixed-point range.
	var big stateWriter
	big.varint(40)
	big.boolean(true)
	big.float(0)
	big.varint(wealthCeiling + 1)
	data, err := sealState(kindLatency, fp, body([]byte{0}, uv(0), big.b))
	require.NoError(t, err)
	assert.ErrorContains(t, c.RestoreState(data), "wealth 2097152001 out of range")

	// A flate bomb: a small state that decompresses past the bound.
	bomb, err := sealState(kindLatency, fp, make([]byte, maxStateBytes+1))
	require.NoError(t, err)
	assert.Less(t, len(bomb), 64<<10)
	assert.ErrorContains(t, c.RestoreState(bomb), "once decompressed")

	assert.ErrorContains(t, c.RestoreState([]byte{'g', 'l', 'c', 's', stateVersion + 1, 1}), fmt.Sprintf("version %d, this build reads version %d", stateVersion+1, stateVersion))
	assert.ErrorContains(t, c.RestoreState([]byte{'g', 'l', 'c', 's', stateVersion - 1, 1}), fmt.Sprintf("version %d, this build reads version %d", stateVersion-1, stateVersion), "an older format is refused too: the analysis starts anew")
	assert.ErrorContains(t, c.RestoreState([]byte("{\"json\":1}")), "not a check state")

	after, err := c.SaveState()
	require.NoError(t, err)
	assert.Equal(t, good, after, "no bad state changed the check")
}

// TestStateIsBounded: the largest state a latency check can hold — both open blocks nearly
// full, sketches binned — stays well under a mebibyte, and restoring it costs no more.
func TestStateIsBounded(t *testing.T) {
	c, err := NewLatency(blueGreen, 99.9, Threshold{MaxRatio: F(1.2)})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(5, 6))
	for range 3*maxBlockObservations - 1 { // no Advance: blocks close by count alone
		require.NoError(t, c.Add(Baseline, lognormal(rng, 0.1, 1)))
		require.NoError(t, c.Add(Candidate, lognormal(rng, 0.1, 1)))
	}
	data, err := c.SaveState()
	require.NoError(t, err)
	t.Logf("largest latency state: %d bytes", len(data))
	assert.Less(t, len(data), 1<<20)
	back, err := NewLatency(blueGreen, 99.9, Threshold{MaxRatio: F(1.2)})
	require.NoError(t, err)
	require.NoError(t, back.RestoreState(data))
	requireSameOutcome(t, c.Evaluate(), back.Evaluate(), "restored")
}

// fuzzChecks are fresh checks of every kind, for the fuzzer to restore into.
func fuzzChecks() []stateful {
	must := func(c stateful, err error) stateful {
		if err != nil {
			panic(err)
		}
		return c
	}
	return []stateful{
		must(NewLatency(blueGreen, 95, Threshold{MaxRatio: F(1.2)})),
		must(NewErrorRate(blueGreen, Threshold{MaxIncrease: F(0.02), MaxRatio: F(2)})),
		must(NewValues(blueGreen, Threshold{MaxRatio: F(1.1)})),
		must(NewShift(blueGreen, 0.6, Either)),
		must(NewHistogramLatency(blueGreen, 90, Threshold{MaxRatio: F(1.5)})),
	}
}

func fuzzKinds() []stateKind {
	return []stateKind{kindLatency, kindErrorRate, kindValues, kindShift, kindHistogram}
}

// FuzzRestoreState: whatever the bytes — taken as a whole state, or as a body behind a valid
// header so that the fuzzer reaches the decoder of every kind — restoring never panics, and a
// state that restores can be evaluated, fed and saved again, and saves what it restored.
func FuzzRestoreState(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range stateCases() {
		c := tc.build(f)
		for i := range min(tc.before, 30) {
			tc.step(f, c, rng, i)
		}
		data, err := c.SaveState()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		if body, err := openState(data, stateKind(data[5]), fingerprintOf(c)); err == nil {
			f.Add(body)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, c := range fuzzChecks() {
			try := func(data []byte) {
				if err := c.RestoreState(data); err != nil {
					if !errors.Is(err, ErrState) && !errors.Is(err, ErrStateMismatch) {
						t.Fatalf("restore: an error of no known kind: %v", err)
					}
					return
				}
				saved, err := c.SaveState()
				if err != nil {
					t.Fatal(err)
				}
				fresh := fuzzChecks()[i]
				if err := fresh.RestoreState(saved); err != nil {
					t.Fatalf("a saved state does not restore: %v", err)
				}
				if again, _ := fresh.SaveState(); !bytes.Equal(again, saved) {
					t.Fatal("restoring and saving again changes the state")
				}
				c.Evaluate()
				switch c := c.(type) {
				case *Latency:
					c.Advance(time.Hour)
					_ = c.Add(Candidate, 0.2)
				case *ErrorRate:
					c.Add(Baseline, true)
					c.Advance(time.Hour)
				case *Values:
					_ = c.AddPair(1, 2)
				case *Shift:
					_ = c.AddPair(1, 2)
				}
				c.Evaluate()
			}
			try(data)
			sealed, err := sealState(fuzzKinds()[i], fingerprintOf(c), data)
			if err == nil {
				try(sealed)
			}
		}
	})
}

func fingerprintOf(c stateful) string {
	return c.(interface{ fingerprint() string }).fingerprint()
}
