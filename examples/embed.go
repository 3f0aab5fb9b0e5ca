// Package examples holds runnable spec files and the example app (examples/app) used by the
// tests, the documentation and `greenlight demo`. It imports nothing of greenlight's.
package examples

import "embed"

// Specs are the example suites and analyses, embedded so that `greenlight demo` runs anywhere.
//
//go:embed suites/*.yaml analyses/*.yaml
var Specs embed.FS
