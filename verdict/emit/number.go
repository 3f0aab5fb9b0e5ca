package emit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Number is a float64 whose JSON keeps every value, as compare's exact form does: NaN as
// null, +Inf and −Inf as the strings "Inf" and "-Inf", finite values as numbers.
type Number float64

// MarshalJSON writes the exact form.
func (n Number) MarshalJSON() ([]byte, error) {
	v := float64(n)
	switch {
	case math.IsNaN(v):
		return []byte("null"), nil
	case math.IsInf(v, 1):
		return []byte(`"Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads the exact form.
func (n *Number) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "null":
		*n = Number(math.NaN())
		return nil
	case `"Inf"`:
		*n = Number(math.Inf(1))
		return nil
	case `"-Inf"`:
		*n = Number(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("want a number, null, \"Inf\" or \"-Inf\", got %.40s", b)
	}
	*n = Number(v)
	return nil
}
