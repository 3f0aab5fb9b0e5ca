package verdict

import (
	"encoding/json"

	"github.com/greenlight/greenlight/compare"
)

// MarshalJSON writes the check's outcome with its numbers in compare's exact form — NaN as
// null, infinities as "Inf" and "-Inf" — so that a verdict reads back identically: an
// unbounded interval [0.00, ∞] stays one. The fields and their order are the outcome's, then
// the check's own; the numbers are written by the fields declared here, which hide the
// outcome's fields of the same names, and every other field of the outcome comes as it is.
func (c CheckResult) MarshalJSON() ([]byte, error) {
	type plain CheckResult
	o := c.Outcome
	var stat *compare.ExactEffect
	if o.Statistic != nil {
		s := compare.ExactEffect(*o.Statistic)
		stat = &s
	}
	return json.Marshal(struct {
		Check     string                `json:"check"`
		Kind      string                `json:"kind"`
		Metric    string                `json:"metric"`
		State     compare.State         `json:"state"`
		Baseline  compare.ExactEstimate `json:"baseline"`
		Candidate compare.ExactEstimate `json:"candidate"`
		Ratio     compare.ExactEffect   `json:"ratio"`
		Diff      compare.ExactEffect   `json:"difference"`
		Statistic *compare.ExactEffect  `json:"statistic,omitempty"`
		plain
		DecidedMs float64 `json:"decidedAfterMs,omitempty"`
	}{o.Check, o.Kind, o.Metric, o.State, compare.ExactEstimate(o.Baseline), compare.ExactEstimate(o.Candidate),
		compare.ExactEffect(o.Ratio), compare.ExactEffect(o.Diff), stat, plain(c), millis(c.Decided)})
}

// UnmarshalJSON reads what MarshalJSON writes, the decision time from milliseconds.
func (c *CheckResult) UnmarshalJSON(data []byte) error {
	type plain CheckResult
	var in struct {
		plain
		DecidedMs float64 `json:"decidedAfterMs"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*c = CheckResult(in.plain)
	c.Decided = fromMillis(in.DecidedMs)
	return nil
}
