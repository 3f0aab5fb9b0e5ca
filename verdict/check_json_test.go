package verdict

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenlight/greenlight/compare"
)

// equalNaN is reflect.DeepEqual with NaN equal to NaN (DeepEqual never finds NaN equal to
// anything): a verdict read back must hold the same special values where they were.
func equalNaN(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalNaN(a.Elem(), b.Elem())
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
		}
		for i := range a.NumField() {
			if !equalNaN(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalNaN(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// TestVerdictJSONSpecialValues: a verdict whose outcomes hold NaN (no value), +Inf and −Inf in
// every number of every estimate and effect reads back from its JSON identically — an
// unbounded interval [0.00, ∞] stays unbounded, a missing value stays missing.
func TestVerdictJSONSpecialValues(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	specials := []float64{nan, inf, -inf}
	var checks []CheckResult
	for i, s := range specials {
		next := specials[(i+1)%3]
		ok := int64(i)
		r := 1.2
		checks = append(checks, CheckResult{
			Name: "c" + string(rune('a'+i)), Critical: i != 1, Source: "monitor m", Evidence: &Evidence{Observed: 10, Succeeded: &ok},
			Outcome: compare.Outcome{
				Check: "c", Kind: "latency", Metric: "p95", State: compare.Inconclusive, Reason: "r", Alpha: 0.01,
				Baseline:  compare.Estimate{N: 3, Value: s, Lower: next, Upper: s},
				Candidate: compare.Estimate{N: 0, Value: 0.25, Lower: 0, Upper: inf}, // [0.00, ∞]
				Ratio:     compare.Effect{Value: s, Lower: s, Upper: next},
				Diff:      compare.Effect{Value: -inf, Lower: nan, Upper: 1e-9},
				Statistic: &compare.Effect{Value: next, Lower: s, Upper: 0.5},
				Threshold: compare.Threshold{MaxRatio: &r, Direction: compare.Increase},
			},
		})
	}
	checks = append(checks, CheckResult{Name: "plain", Outcome: compare.Outcome{State: compare.Pass}})
	v := &Verdict{
		Analysis: "checkout", Decision: Inconclusive, Reason: "undecided", Phase: PhaseAnalysis, Undecided: true,
		Baseline: Environment{Name: "blue"}, Candidate: Environment{Name: "green"},
		StartedAt: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC), Duration: 90 * time.Second,
		Checks: checks,
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back Verdict
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("read back: %v\n%s", err, b)
	}
	if !equalNaN(reflect.ValueOf(*v), reflect.ValueOf(back)) {
		t.Errorf("the verdict read back differs:\nwrote %+v\nread  %+v\njson  %s", v.Checks, back.Checks, b)
	}
	for _, want := range []string{`"upper":"Inf"`, `"value":"-Inf"`, `"value":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	// The outcome's fields come first and in their order, then the check's own.
	var raw struct{ Checks []json.RawMessage }
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := "check kind metric state baseline candidate ratio difference statistic threshold alpha reason name critical source evidence"
	if got := strings.Join(topKeys(t, raw.Checks[0]), " "); got != want {
		t.Errorf("keys:\ngot  %s\nwant %s", got, want)
	}
}

// topKeys lists an object's keys in the order written.
func topKeys(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(obj)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", obj)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestOutcomeNumbersRead: the numbers of an outcome read from the exact form, from the form
// compare's own MarshalJSON writes (null for any non-finite value, read as NaN), and missing.
func TestOutcomeNumbersRead(t *testing.T) {
	var e compare.Estimate
	if err := json.Unmarshal([]byte(`{"n":4,"value":1.5,"lower":"-Inf","upper":"Inf"}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.N != 4 || e.Value != 1.5 || !math.IsInf(e.Lower, -1) || !math.IsInf(e.Upper, 1) {
		t.Errorf("exact form: %+v", e)
	}
	var f compare.Effect
	if err := json.Unmarshal([]byte(`{"value":null,"upper":2}`), &f); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(f.Value) || !math.IsNaN(f.Lower) || f.Upper != 2 {
		t.Errorf("null and missing are NaN: %+v", f)
	}
	// What compare writes on its own reads back exactly, infinities too.
	b, err := json.Marshal(compare.Effect{Value: 1, Lower: 0.5, Upper: math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Value != 1 || f.Lower != 0.5 || !math.IsInf(f.Upper, 1) {
		t.Errorf("compare's own form: %+v %v", f, err)
	}
	// The older form, null for any non-finite number, still reads (as NaN).
	if err := json.Unmarshal([]byte(`{"value":1,"lower":0.5,"upper":null}`), &f); err != nil || !math.IsNaN(f.Upper) {
		t.Errorf("older form: %+v %v", f, err)
	}
	for _, bad := range []string{`{"value":"infinity"}`, `{"value":true}`, `{"value":"1"}`} {
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
