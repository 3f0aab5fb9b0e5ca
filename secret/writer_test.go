package secret

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWriterRedactsAcrossWrites: a secret split over two writes is still redacted, and text
// after the last newline comes out on Flush.
func TestWriterRedactsAcrossWrites(t *testing.T) {
	var out strings.Builder
	w := NewWriter(&out, NewRedactor("hunter2-password"))
	for _, part := range []string{"login with hun", "ter2-pass", "word\nthen hunter2-", "password"} {
		_, err := w.Write([]byte(part))
		assert.NoError(t, err)
	}
	assert.Equal(t, "login with <secret>\n", out.String())
	w.Flush()
	assert.Equal(t, "login with <secret>\nthen <secret>", out.String())
}
