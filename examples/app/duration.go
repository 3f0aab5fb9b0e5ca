package app

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes as a Go duration string
// ("200ms"), so fault settings in JSON and on the command line look the same.
type Duration time.Duration

// String returns the duration in time.Duration's notation.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string such as "200ms" or "1.5s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
