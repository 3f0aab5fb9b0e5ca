package main

import (
	"encoding/json"
	"sort"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// goCasedKeys lists the object keys of a JSON document that do not start with a lower-case
// letter: every JSON output uses the spec's lower-camel keys (maxRatio, never MaxRatio).
func goCasedKeys(t *testing.T, doc []byte) []string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(doc, &v))
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if r := []rune(k); len(r) > 0 && !unicode.IsLower(r[0]) {
					seen[k] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
