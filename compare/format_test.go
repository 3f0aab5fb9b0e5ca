package compare

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A value that does not exist yet (NaN) reads "—" in reasons, whatever its unit: never "NaN%"
// or "+NaNpp".
func TestNoValueNeverReadsNaN(t *testing.T) {
	nan := math.NaN()
	for name, got := range map[string]string{
		"rate":       rateUnit.value(nan, 0),
		"rate diff":  rateUnit.diff(nan, 0),
		"seconds":    secondsUnit.value(nan, 0),
		"diff":       secondsUnit.diff(nan, 0),
		"plain":      plainUnit.value(nan, 0),
		"ratio":      fmtRatio(nan, 0),
		"prob":       probUnit.value(nan, 0),
		"prob diff":  probUnit.diff(nan, 0),
		"plain diff": plainUnit.diff(nan, 0),
	} {
		assert.Equal(t, "—", got, name)
	}
}
