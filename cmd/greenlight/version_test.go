package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestVersionLine: the release build's commit and date are shown when set, and the line is as
// before when they are not.
func TestVersionLine(t *testing.T) {
	platform := runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	for _, tc := range []struct {
		name, version, commit, date, want string
	}{
		{"a release", "v1.4.0", "0123456789abcdef", "2026-11-30T10:00:00Z", "greenlight v1.4.0 (commit 0123456789abcdef, built 2026-11-30T10:00:00Z, " + platform + ")"},
		{"a version only", "v1.4.0", "", "", "greenlight v1.4.0 (" + platform + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			version, commit, date = tc.version, tc.commit, tc.date
			assert.Equal(t, tc.want, versionLine())
		})
	}
}
