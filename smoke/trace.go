package smoke

import (
	"crypto/rand"
	"encoding/hex"
)

// newTraceID returns a W3C trace id: 16 random bytes, hex, never all zero.
func newTraceID() string { return randomHex(16) }

// newSpanID returns a W3C parent (span) id: 8 random bytes, hex.
func newSpanID() string { return randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	for {
		_, _ = rand.Read(b)
		for _, c := range b {
			if c != 0 {
				return hex.EncodeToString(b)
			}
		}
	}
}

// traceparent builds the W3C header, sampled, so that traces of synthetic requests are kept.
func traceparent(traceID string) string {
	return "00-" + traceID + "-" + newSpanID() + "-01"
}
