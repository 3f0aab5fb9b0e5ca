// Package examples holds runnable spec files and the example app (examples/app) used by the
// tests, the documentation and `greenlight demo`. It imports nothing of greenlight's.
package examples

import "embed"

// Suites are the example suites, embedded so that `greenlight demo` runs anywhere.
//
//go:embed suites/*.yaml
var Suites embed.FS
