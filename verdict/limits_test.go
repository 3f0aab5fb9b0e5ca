package verdict_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/compare"
	"github.com/greenlight/greenlight/internal/judged"
	"github.com/greenlight/greenlight/verdict"
)

// TestLimitsMatchJudges: a failed check has a limit its interval lies surely outside, a passed
// one has every interval within, an undecided one neither.
func TestLimitsMatchJudges(t *testing.T) {
	seen := map[compare.State]int{}
	outcomes, err := judged.Outcomes()
	require.NoError(t, err)
	for _, c := range outcomes {
		t.Run(c.Name, func(t *testing.T) {
			ls := c.Limits()
			require.NotEmpty(t, ls, c.Reason)
			violated, satisfied := false, true
			for _, l := range ls {
				violated = violated || l.Violated()
				satisfied = satisfied && l.Satisfied()
			}
			seen[c.State]++
			switch c.State {
			case compare.Fail:
				assert.True(t, violated, c.Reason)
			case compare.Pass:
				assert.True(t, satisfied, c.Reason)
				assert.False(t, violated, c.Reason)
			default:
				assert.False(t, violated, c.Reason)
				assert.False(t, satisfied, c.Reason)
			}
		})
	}
	// The table covers every state it means to.
	assert.Positive(t, seen[compare.Fail])
	assert.Positive(t, seen[compare.Pass])
	assert.Positive(t, seen[compare.Inconclusive])
}

func TestLimitsOfUnjudgedChecks(t *testing.T) {
	assert.Empty(t, verdict.CheckResult{Outcome: compare.Outcome{Kind: "trace-shape"}}.Limits())
}
