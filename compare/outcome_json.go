package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// An outcome's numbers may be NaN (no value: nothing observed yet) or infinite (an interval not
// bounded on that side, a ratio over a zero baseline), which JSON cannot hold. The exact form,
// which the verdict writes, keeps them all: a finite number as a number, NaN as null, +Inf and
// −Inf as the strings "Inf" and "-Inf". Estimate and Effect write that form and read it, and
// also the older one where null stood for any non-finite value (read back as NaN).

// ExactEstimate is an Estimate whose JSON keeps NaN and infinities (see above).
type ExactEstimate Estimate

// ExactEffect is an Effect whose JSON keeps NaN and infinities (see above).
type ExactEffect Effect

// MarshalJSON writes the exact form.
func (e ExactEstimate) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N     int64  `json:"n"`
		Value Number `json:"value"`
		Lower Number `json:"lower"`
		Upper Number `json:"upper"`
	}{e.N, Number(e.Value), Number(e.Lower), Number(e.Upper)})
}

// UnmarshalJSON reads the exact form.
func (e *ExactEstimate) UnmarshalJSON(b []byte) error { return (*Estimate)(e).UnmarshalJSON(b) }

// MarshalJSON writes the exact form.
func (e ExactEffect) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Value Number `json:"value"`
		Lower Number `json:"lower"`
		Upper Number `json:"upper"`
	}{Number(e.Value), Number(e.Lower), Number(e.Upper)})
}

// UnmarshalJSON reads the exact form.
func (e *ExactEffect) UnmarshalJSON(b []byte) error { return (*Effect)(e).UnmarshalJSON(b) }

// UnmarshalJSON reads an estimate in the exact form or as MarshalJSON writes it. A missing
// number is NaN, as null is.
func (e *Estimate) UnmarshalJSON(b []byte) error {
	in := struct {
		N     int64  `json:"n"`
		Value Number `json:"value"`
		Lower Number `json:"lower"`
		Upper Number `json:"upper"`
	}{Value: Number(math.NaN()), Lower: Number(math.NaN()), Upper: Number(math.NaN())}
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	*e = Estimate{N: in.N, Value: float64(in.Value), Lower: float64(in.Lower), Upper: float64(in.Upper)}
	return nil
}

// UnmarshalJSON reads an effect in the exact form or as MarshalJSON writes it. A missing
// number is NaN, as null is.
func (e *Effect) UnmarshalJSON(b []byte) error {
	in := struct {
		Value Number `json:"value"`
		Lower Number `json:"lower"`
		Upper Number `json:"upper"`
	}{Value: Number(math.NaN()), Lower: Number(math.NaN()), Upper: Number(math.NaN())}
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("effect: %w", err)
	}
	*e = Effect{Value: float64(in.Value), Lower: float64(in.Lower), Upper: float64(in.Upper)}
	return nil
}

// Number is a float64 whose JSON keeps every value: NaN as null, +Inf and −Inf as the strings
// "Inf" and "-Inf" (also read: "+Inf", "NaN"), finite values as numbers. Whatever writes an
// outcome's numbers elsewhere (webhook payloads) uses it, so that every reader meets one form.
type Number float64

func (x Number) MarshalJSON() ([]byte, error) {
	v := float64(x)
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

func (x *Number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "null":
		*x = Number(math.NaN())
		return nil
	case `"Inf"`, `"+Inf"`:
		*x = Number(math.Inf(1))
		return nil
	case `"-Inf"`:
		*x = Number(math.Inf(-1))
		return nil
	case `"NaN"`:
		*x = Number(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("want a number, null, \"Inf\" or \"-Inf\", got %.40s", b)
	}
	*x = Number(v)
	return nil
}
