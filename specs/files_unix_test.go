//go:build unix

package specs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sparse makes a file of size bytes without writing them.
func sparse(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(size))
	require.NoError(t, f.Close())
	return path
}

func fifo(t *testing.T, path string) string {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	return path
}

func TestReadFileLimited(t *testing.T) {
	dir := t.TempDir()
	small := write(t, dir, "small.txt", "hello\n")
	cases := []struct {
		name, path string
		max        int64
		want       string // error text; "" for success
	}{
		{"regular", small, 64, ""},
		{"exactly the limit", small, 6, ""},
		{"larger than the limit", sparse(t, filepath.Join(dir, "big"), MaxSecretFileSize+1), MaxSecretFileSize, "is larger than 64 KiB, the limit for this kind of file"},
		{"folder", dir, 64, "is a folder, not a file"},
		{"fifo", fifo(t, filepath.Join(dir, "fifo")), 64, "is not a regular file (a device, pipe or socket)"},
		{"endless device", "/dev/zero", 64, "is not a regular file (a device, pipe or socket)"},
		{"missing", filepath.Join(dir, "missing"), 64, "no such file or folder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadFileLimited(tc.path, tc.max)
			if tc.want == "" {
				require.NoError(t, err)
				assert.Equal(t, "hello\n", string(b))
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.want, describeFSError(err))
		})
	}
}

// TestFilesASpecNamesAreBounded points every file a spec reads at something that would block or
// exhaust memory if read whole; each must be a positioned error, at once.
func TestFilesASpecNamesAreBounded(t *testing.T) {
	dir := t.TempDir()
	fifo(t, filepath.Join(dir, "fifo.yaml"))
	sparse(t, filepath.Join(dir, "huge.yaml"), MaxSpecFileSize+1)
	fifo(t, filepath.Join(dir, "schema.json"))
	sparse(t, filepath.Join(dir, "huge-secret"), MaxSecretFileSize+1)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "certs"), 0o755))
	suite := write(t, dir, "suite.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
secrets:
  endless: {file: /dev/zero}
  huge: {file: huge-secret}
defaults:
  tls: {caFile: certs}
steps:
  - name: a
    http: {url: /a}
    expect: ['schema("schema.json")']
`)
	analysis := write(t, dir, "analysis.yaml", `apiVersion: greenlight/v1
kind: Analysis
metadata: {name: a}
environments: {blue: {url: "http://b"}, green: {url: "http://g"}}
baseline: blue
candidate: green
sources:
  prometheus: {url: "http://prom:9090", caFile: /dev/zero}
checks:
  - name: errors
    errorRate:
      prometheus: {errors: "sum(x)", total: "sum(y)"}
      maxRatio: 1.5
`)
	_, err := Load([]string{filepath.Join(dir, "fifo.yaml"), filepath.Join(dir, "huge.yaml"), suite, analysis}, LoadOptions{LookupEnv: noEnv})
	require.Error(t, err)
	assert.Equal(t, strings.Join([]string{
		analysis + `:8:15: sources.prometheus.caFile "/dev/zero": is not a regular file (a device, pipe or socket)`,
		filepath.Join(dir, "fifo.yaml") + `: is not a regular file (a device, pipe or socket)`,
		filepath.Join(dir, "huge.yaml") + `: is larger than 4 MiB, the limit for this kind of file`,
		suite + `:5:12: secret "endless": secret file "/dev/zero": is not a regular file (a device, pipe or socket)`,
		suite + `:6:9: secret "huge": secret file "huge-secret": is larger than 64 KiB, the limit for this kind of file`,
		suite + `:8:8: tls: cannot read "certs": is a folder, not a file`,
		suite + `:12:14: schema "schema.json": is not a regular file (a device, pipe or socket)`,
	}, "\n"), err.Error())

	t.Run("parse refuses oversized data too", func(t *testing.T) {
		_, err := Parse("big.yaml", make([]byte, MaxSpecFileSize+1), LoadOptions{LookupEnv: noEnv})
		assert.EqualError(t, err, "big.yaml: is larger than 4 MiB, the limit for this kind of file")
	})
}

func TestSchemaRefsAreBounded(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "schema.json", `{"$ref": "file:///dev/zero"}`)
	write(t, dir, "suite.yaml", `apiVersion: greenlight/v1
kind: Suite
metadata: {name: s}
steps:
  - name: a
    http: {url: /a}
    expect: ['schema("schema.json")']
`)
	_, err := Load([]string{dir}, LoadOptions{LookupEnv: noEnv})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "suite.yaml:7:14: schema \"schema.json\": ")
	assert.Contains(t, err.Error(), "/dev/zero: is not a regular file")
}
