package specs

import (
	"os"
	"testing"
)

// BenchmarkLoad50 parses the 50-step benchmark suite. Compiled expressions are cached by source
// across loads, so this measures a warm cache: decoding, templates and validation. The first load
// of a process also compiles each distinct expression once (about 0.1 ms each).
func BenchmarkLoad50(b *testing.B) {
	data, _ := os.ReadFile("../bench/smoke/greenlight.yaml")
	for i := 0; i < b.N; i++ {
		if _, err := Parse("x.yaml", data, LoadOptions{LookupEnv: noEnv}); err != nil {
			b.Fatal(err)
		}
	}
}
