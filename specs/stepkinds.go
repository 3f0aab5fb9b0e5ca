package specs

import (
	"reflect"
	"sort"
	"strings"
)

// StepConfig is the configuration of one step kind. Each kind lives in its own file
// (step_http.go) and is listed once in stepKinds; smoke keeps its executors in a map with the
// same keys, and a test holds the two together.
type StepConfig interface {
	validate(d *decoder, s *Step)
	applyDefaults(df *Defaults)
}

// StepKind describes one step kind for decoding and for the JSON Schema.
type StepKind struct {
	New func() StepConfig
	Doc string
}

var stepKinds = map[string]StepKind{
	"http": {New: func() StepConfig { return &HTTPStep{} }, Doc: "An HTTP request."},
}

// StepKinds lists the registered step kind keys, sorted.
func StepKinds() []string {
	out := make([]string, 0, len(stepKinds))
	for k := range stepKinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func kindList() string {
	return strings.Join(StepKinds(), ", ")
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p) }
