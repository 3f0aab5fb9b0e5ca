package verdict

import (
	"bytes"
	"encoding/json"
	"sort"
	"testing"
	"unicode"
)

// goCasedKeys lists the object keys in a JSON document that do not start with a lower-case
// letter: the spec's keys are lower camel case (maxRatio), and so is every JSON output.
func goCasedKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if r := []rune(k); len(r) > 0 && !unicode.IsLower(r[0]) {
					seen[k] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestJSONKeysAreLowerCamel(t *testing.T) {
	v := fixtureVerdict(Rollback)
	n := int64(90)
	v.Checks[0].Threshold.Direction = "increase"
	v.Checks[0].Statistic = &v.Checks[0].Ratio
	v.Checks[0].Evidence = &Evidence{Observed: 100, Succeeded: &n}
	v.Checks[0].Warnings = []string{"partial data"}
	v.Checks[0].Error = "prometheus for green: HTTP 503"
	v.Diagnosis = []string{"blue unreachable"}
	v.Undecided = true
	v.Override = &Override{Decision: Promote, By: "ops", Why: "known flake", Was: Rollback, WasReason: "p95"}
	v.Smoke = &Report{Tool: "greenlight", Suites: []SuiteReport{{Name: "s", Environment: "green", Status: StatusFailed,
		Steps: []StepReport{{Name: "health", Kind: "http", Status: StatusFailed, StatusCode: 500, Attempts: 2,
			Conditions: []ConditionReport{{Expression: "status == 200", Detail: "status (500) == 200"}}, Captured: []string{"token"}}}}}}
	var b bytes.Buffer
	if err := WriteVerdictJSON(&b, v); err != nil {
		t.Fatal(err)
	}
	if keys := goCasedKeys(t, b.Bytes()); len(keys) > 0 {
		t.Errorf("verdict JSON has Go-cased keys %v:\n%s", keys, b.String())
	}
	if !bytes.Contains(b.Bytes(), []byte(`"maxRatio": 1.3`)) {
		t.Errorf("want the threshold as the spec writes it, maxRatio:\n%s", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, v.Smoke); err != nil {
		t.Fatal(err)
	}
	if keys := goCasedKeys(t, b.Bytes()); len(keys) > 0 {
		t.Errorf("smoke report JSON has Go-cased keys %v:\n%s", keys, b.String())
	}
}
