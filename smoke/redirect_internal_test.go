package smoke

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		name, from, to string
		same           bool
	}{
		{"same host and port", "https://green.internal/a", "https://green.internal/b", true},
		{"host names ignore case", "https://Green.Internal/a", "https://green.internal/b", true},
		{"explicit default port", "https://green.internal:443/a", "https://green.internal/b", true},
		{"upgrade to https", "http://green.internal/a", "https://green.internal/b", true},
		{"downgrade to http", "https://green.internal/a", "http://green.internal/b", false},
		{"downgrade on an explicit port", "https://green.internal:8443/a", "http://green.internal:8443/b", false},
		{"another port", "http://127.0.0.1:8080/a", "http://127.0.0.1:9090/b", false},
		{"a subdomain", "https://green.internal/a", "https://evil.green.internal/b", false},
		{"another host", "https://green.internal/a", "https://elsewhere.example/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := url.Parse(tt.from)
			require.NoError(t, err)
			to, err := url.Parse(tt.to)
			require.NoError(t, err)
			assert.Equal(t, tt.same, sameOrigin(from, to))
		})
	}
}
