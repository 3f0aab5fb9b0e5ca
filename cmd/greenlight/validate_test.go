package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/verdict"
)

func writeSpec(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// TestFileWithoutDocuments: validate, smoke and verify agree that an empty or comment-only file
// is invalid input.
func TestFileWithoutDocuments(t *testing.T) {
	for name, content := range map[string]string{"empty.yaml": "", "comments.yaml": "# to do\n"} {
		path := writeSpec(t, name, content)
		for _, args := range [][]string{
			{"validate", path},
			{"smoke", path, "--target", "http://127.0.0.1:1"},
			{"verify", path},
		} {
			t.Run(name+" "+args[0], func(t *testing.T) {
				code, out, errOut := cli(t, args...)
				assert.Equal(t, verdict.ExitInvalid, code, out)
				assert.Contains(t, errOut, path+": no documents (empty or only comments)")
			})
		}
	}
}

// TestValidateWithoutSecrets: in a pull request the secrets are not there; validate warns and
// passes, --strict fails, and smoke still refuses to run without them.
func TestValidateWithoutSecrets(t *testing.T) {
	path := writeSpec(t, "s.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
secrets:
  password: {env: GREENLIGHT_TEST_UNSET_PR_SECRET}
steps:
  - name: login
    http: {url: /login, json: {password: '{{ secret "password" }}'}}
`)
	warning := path + `:5:13: warning: secret "password": secret environment variable "GREENLIGHT_TEST_UNSET_PR_SECRET" is not set`

	code, out, errOut := cli(t, "validate", path)
	assert.Equal(t, verdict.ExitPass, code, errOut)
	assert.Equal(t, "1 suite, 1 step, 0 analyses: valid\n", out)
	assert.Equal(t, warning+"\n", errOut)

	code, _, errOut = cli(t, "validate", "--strict", path)
	assert.Equal(t, verdict.ExitInvalid, code)
	assert.Contains(t, errOut, path+`:5:13: secret "password": secret environment variable "GREENLIGHT_TEST_UNSET_PR_SECRET" is not set`)
	assert.NotContains(t, errOut, "warning")

	broken := writeSpec(t, "broken.yaml", "apiVersion: greenlight/v1\nkind: Suite\nmetadata: {name: b}\nsteps: [{name: a, http: {url: /, metod: GET}}]\n")
	code, _, errOut = cli(t, "validate", path, broken)
	assert.Equal(t, verdict.ExitInvalid, code)
	assert.Contains(t, errOut, warning+"\n", "warnings are shown with the errors")
	assert.Contains(t, errOut, broken+`:4:34: unknown field "metod"`)

	code, _, errOut = cli(t, "smoke", path, "--target", "http://127.0.0.1:1")
	assert.Equal(t, verdict.ExitInvalid, code)
	assert.Contains(t, errOut, path+`:5:13: secret "password": secret environment variable "GREENLIGHT_TEST_UNSET_PR_SECRET" is not set`)
}
