package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTokens(t *testing.T) {
	good := "# name scope token\n\nci   write  ci-token-0123456789\noncall admin admin-token-0123456789\n"
	tokens, err := ParseTokens(strings.NewReader(good), "tokens.txt")
	require.NoError(t, err)
	assert.Equal(t, 2, tokens.Len())
	tok, ok, given := tokens.authenticate("Bearer admin-token-0123456789")
	assert.True(t, ok)
	assert.True(t, given)
	assert.Equal(t, "oncall", tok.Name)
	assert.Equal(t, ScopeAdmin, tok.Scope)
	_, ok, given = tokens.authenticate("bearer  ci-token-0123456789 ")
	assert.True(t, ok, "the scheme is case-insensitive; spaces around the token do not count")
	assert.True(t, given)
	_, ok, given = tokens.authenticate("Basic Y2k6eA==")
	assert.False(t, ok)
	assert.False(t, given)
	_, ok, given = tokens.authenticate("Bearer ci-token-012345678")
	assert.False(t, ok, "a prefix of a token is not the token")
	assert.True(t, given)

	cases := []struct{ name, text, want string }{
		{"too few fields", "ci write\n", "tokens.txt:1: want NAME SCOPE TOKEN (2 fields found)"},
		{"unknown scope", "ci root ci-token-0123456789\n", `tokens.txt:1: scope "root": want read, write or admin`},
		{"short token", "# x\nci read short\n", "tokens.txt:2: token ci: shorter than 16 characters"},
		{"same name", "ci read ci-token-0123456789\nci write other-token-0123456789\n", "tokens.txt:2: token ci: the name is given twice"},
		{"same token", "ci read ci-token-0123456789\ncd write ci-token-0123456789\n", "tokens.txt:2: token cd: the same token as ci"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokens(strings.NewReader(tc.text), "tokens.txt")
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.NotContains(t, err.Error(), "0123456789", "an error never quotes a token")
		})
	}
}
