package analysis

import (
	"encoding/json"
	"time"
)

// MarshalJSON writes the plan with the spec's lower-camel keys and durations in milliseconds,
// as the verdict's JSON does (`greenlight plan -o json`).
func (f Forecast) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MinDuration  float64         `json:"minDurationMs"`
		MaxDuration  float64         `json:"maxDurationMs"`
		Checks       []CheckForecast `json:"checks"`
		Analysis     []Outcomes      `json:"analysis"`
		NotSimulated []string        `json:"notSimulated,omitempty"`
	}{ms(f.MinDuration), ms(f.MaxDuration), f.Checks, f.Analysis, f.NotSimulated})
}

// MarshalJSON writes the outcomes with lower-camel keys; a half time that was never reached
// (fewer than half of the runs got there) is null.
func (o Outcomes) MarshalJSON() ([]byte, error) {
	half := func(d time.Duration) *float64 {
		if d < 0 {
			return nil
		}
		v := ms(d)
		return &v
	}
	return json.Marshal(struct {
		Scenario     string   `json:"scenario"`
		Runs         int      `json:"runs"`
		Promote      float64  `json:"promote"`
		Rollback     float64  `json:"rollback"`
		Inconclusive float64  `json:"inconclusive"`
		PromoteHalf  *float64 `json:"promoteHalfMs"`
		RollbackHalf *float64 `json:"rollbackHalfMs"`
	}{o.Scenario, o.Runs, o.Promote, o.Rollback, o.Inconclusive, half(o.PromoteHalf), half(o.RollbackHalf)})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
