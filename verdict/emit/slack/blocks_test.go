package slack

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestFitCutsOnBoundaries(t *testing.T) {
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"short enough", "abc", 3, "abc"},
		{"plain cut", "abcdef", 4, "abc…"},
		{"multi-byte characters count once", "ééééé", 4, "ééé…"},
		{"never half an entity", esc("ab<cd"), 6, "ab…"},
		{"a whole entity stays", esc("ab<cd"), 7, "ab&lt;…"},
		{"ampersand entity", esc("a&b&c"), 9, "a&amp;b…"},
		{"an earlier ampersand is not an open entity", esc("&") + "bcdefgh", 10, "&amp;bcde…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fit(tt.in, tt.limit)
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, utf8.RuneCountInString(got), tt.limit)
		})
	}
	assert.Equal(t, "&lt;!channel&gt; &amp;amp;", esc("<!channel> &amp;"))
}
