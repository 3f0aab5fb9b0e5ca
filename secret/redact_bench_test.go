package secret

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRedact redacts a 64 KiB report holding a few secrets with a redactor of 20 secrets,
// the size of a large analysis: every output passes through this.
func BenchmarkRedact(b *testing.B) {
	var secrets []Secret
	for i := range 20 {
		secrets = append(secrets, Secret(fmt.Sprintf("s3cr3t-%02d/Value+with=chars&<%d>", i, i*7919)))
	}
	rd := NewRedactor(secrets...)
	var report strings.Builder
	for i := 0; report.Len() < 64<<10; i++ {
		fmt.Fprintf(&report, "step %d: GET http://green.internal/api/items/%d status (500) == 200 body: {\"error\":\"upstream timeout\"}\n", i, i)
		if i%50 == 0 {
			fmt.Fprintf(&report, "echo: %s\n", secrets[i%20].Reveal())
		}
	}
	text := report.String()
	_ = rd.Redact(text) // build the replacer outside the loop
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		_ = rd.Redact(text)
	}
}
