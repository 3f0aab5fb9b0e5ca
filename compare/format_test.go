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
		"rate":       rateUnit.value(nan),
		"rate diff":  rateUnit.diff(nan),
		"seconds":    secondsUnit.value(nan),
		"diff":       secondsUnit.diff(nan),
		"plain":      plainUnit.value(nan),
		"ratio":      fmtRatio(nan),
		"prob":       probUnit.value(nan),
		"prob diff":  probUnit.diff(nan),
		"plain diff": plainUnit.diff(nan),
	} {
		assert.Equal(t, "—", got, name)
	}
}
