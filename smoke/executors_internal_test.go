package smoke

import (
	"slices"
	"testing"

	"github.com/greenlight/greenlight/specs"
	"github.com/stretchr/testify/assert"
)

// TestExecutorsMatchStepKinds holds the two registries together: a step kind that specs accepts
// must have an executor, and an executor must not exist for a kind specs rejects.
func TestExecutorsMatchStepKinds(t *testing.T) {
	var keys []string
	for k, exec := range executors {
		assert.NotNil(t, exec, k)
		keys = append(keys, k)
	}
	slices.Sort(keys)
	assert.Equal(t, specs.StepKinds(), keys, "executors and specs.StepKinds(): add the missing executor or kind")
}
