package emit

import "github.com/greenlight/greenlight/compare"

// Number is a float64 whose JSON keeps every value, in compare's exact form: NaN as null, +Inf
// and −Inf as the strings "Inf" and "-Inf", finite values as numbers.
type Number = compare.Number
