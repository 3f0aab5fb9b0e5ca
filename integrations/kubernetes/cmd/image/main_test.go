package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunWritesArchive: with -binary the command only packs; the archive is an OCI layout in a
// tar, tagged with the version, and SOURCE_DATE_EPOCH fixes its digest.
func TestRunWritesArchive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "greenlight")
	require.NoError(t, os.WriteFile(bin, []byte("\x7fELF stand-in"), 0o755))
	env := map[string]string{"SOURCE_DATE_EPOCH": "1772366400"}
	var digests []string
	for i, name := range []string{"a.tar", "b.tar"} {
		var stdout bytes.Buffer
		out := filepath.Join(dir, name)
		require.NoError(t, run(context.Background(), []string{"-o", out, "-binary", bin, "-arch", "arm64", "-version", "v1.4.0"}, func(k string) string { return env[k] }, &stdout))
		line := stdout.String()
		assert.True(t, strings.HasPrefix(line, out+": ghcr.io/greenlight/greenlight:v1.4.0 (sha256:"), line)
		assert.True(t, strings.HasSuffix(line, ", linux/arm64)\n"), line)
		digests = append(digests, line[strings.Index(line, "sha256:"):strings.Index(line, ",")])
		assert.ElementsMatch(t, []string{"oci-layout", "index.json", "blobs/", "blobs/sha256/"}, topLevel(t, out), "run %d", i)
	}
	assert.Equal(t, digests[0], digests[1])
}

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"argument", []string{"extra"}, "", `unexpected argument "extra"`},
		{"epoch", []string{"-binary", "x"}, "yesterday", `SOURCE_DATE_EPOCH "yesterday": not a number of seconds`},
		{"binary", []string{"-binary", filepath.Join(t.TempDir(), "missing")}, "", "build image: read binary: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, func(string) string { return tc.env }, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// topLevel lists the archive's entries outside the blobs.
func topLevel(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		require.NoError(t, err)
		if !strings.HasPrefix(h.Name, "blobs/sha256/") || h.Name == "blobs/sha256/" {
			names = append(names, h.Name)
		}
	}
}
