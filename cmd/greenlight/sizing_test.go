package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

// TestSizingHeadline keeps docs/sizing.md's headline figure what plan computes with the real
// judge: an identical zero-error candidate passes a maxIncrease: 1% error check, fed 10 pairs a
// second, after 61 seconds — about 610 requests a side — at falseRollbackRate 1%, and after 87
// seconds (about 870) at 0.1%.
func TestSizingHeadline(t *testing.T) {
	page := string(readFile(t, "../../docs/sizing.md"))
	for _, c := range []struct {
		level, half, requests string
	}{
		{"1%", "1m1s", "about 610"},
		{"0.1%", "1m27s", "about 870"},
	} {
		t.Run(c.level, func(t *testing.T) {
			a := writeAnalysis(t, fmt.Sprintf(`apiVersion: greenlight/v1
kind: Analysis
metadata: {name: sizing}
environments: {blue: {url: "http://b"}, green: {url: "http://g"}}
baseline: blue
candidate: green
monitors:
  - {name: m, every: 100ms, step: {http: {url: /}}}
checks:
  - {name: errors, errorRate: {from: m, maxIncrease: 1%%}}
policy: {minDuration: 1s, maxDuration: 60m, falseRollbackRate: %s}
`, c.level))
			code, out, errOut := cli(t, "plan", a, "--rate", "m=10", "--runs", "10")
			require.Equal(t, verdict.ExitPass, code, out+errOut)
			identical := ""
			for line := range strings.SplitSeq(out, "\n") {
				if strings.Contains(line, "identical:") {
					identical = line
					break
				}
			}
			assert.Contains(t, identical, "promote 100.0% (half by "+c.half+")", out)
			assert.Contains(t, page, c.requests, "docs/sizing.md states the figure")
		})
	}
}
