package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greenlight/greenlight/integrations/kubernetes/image"
	"github.com/greenlight/greenlight/integrations/kubernetes/internal/repo"
)

const testVersion = "v1.2.3-test"

// binary is cmd/greenlight built as the image carries it, once for all tests.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := repo.Root()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "greenlight-image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "greenlight")
	if err := image.CompileBinary(context.Background(), root, runtime.GOARCH, testVersion, binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// TestImageArchive builds the image, writes it as an OCI archive, reads it back from the archive
// and checks what a cluster would run: the entrypoint and command, a non-root user, a
// filesystem of exactly the expected files (no shell), and a binary that runs on its own.
func TestImageArchive(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	img, err := image.Build(image.Options{Binary: binary, Arch: runtime.GOARCH, Version: testVersion, Revision: "0123456789ab", Created: created})
	require.NoError(t, err)
	dir := t.TempDir()
	archive := filepath.Join(dir, "greenlight.tar")
	ref := image.Repository + ":" + testVersion
	require.NoError(t, image.WriteArchive(archive, ref, img))

	back := readArchive(t, archive, ref)
	want, err := img.Digest()
	require.NoError(t, err)
	got, err := back.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, got, "the archive holds the image built")

	t.Run("config", func(t *testing.T) {
		cf, err := back.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, "linux", cf.OS)
		assert.Equal(t, runtime.GOARCH, cf.Architecture)
		assert.Equal(t, []string{"/greenlight"}, cf.Config.Entrypoint)
		assert.Equal(t, []string{"serve", "--config", "/etc/greenlight/specs", "--data", "/data", "--listen", "0.0.0.0:8080"}, cf.Config.Cmd)
		assert.Equal(t, "65532:65532", cf.Config.User, "non-root, numeric so runAsNonRoot can verify it")
		assert.Equal(t, "/data", cf.Config.WorkingDir)
		assert.Equal(t, map[string]struct{}{"8080/tcp": {}}, cf.Config.ExposedPorts)
		assert.Contains(t, cf.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
		assert.Equal(t, created, cf.Created.Time.UTC())
		for k, v := range map[string]string{
			"org.opencontainers.image.title":    "greenlight",
			"org.opencontainers.image.source":   "https://github.com/greenlight/greenlight",
			"org.opencontainers.image.version":  testVersion,
			"org.opencontainers.image.revision": "0123456789ab",
			"org.opencontainers.image.created":  "2026-03-01T12:00:00Z",
		} {
			assert.Equal(t, v, cf.Config.Labels[k], k)
		}
		m, err := back.Manifest()
		require.NoError(t, err)
		assert.Equal(t, "application/vnd.oci.image.manifest.v1+json", string(m.MediaType))
		require.Len(t, m.Layers, 1)
		assert.Equal(t, "application/vnd.oci.image.layer.v1.tar+gzip", string(m.Layers[0].MediaType))
	})

	files := extract(t, back)
	t.Run("filesystem", func(t *testing.T) {
		var names []string
		for name := range files {
			names = append(names, name)
		}
		assert.ElementsMatch(t, []string{
			"data", "etc", "etc/group", "etc/passwd", "etc/ssl", "etc/ssl/certs",
			"etc/ssl/certs/ca-certificates.crt", "greenlight", "tmp",
		}, names)
		for _, sh := range []string{"bin/sh", "bin", "usr/bin/env", "bin/busybox"} {
			assert.NotContains(t, files, sh, "no shell, no tools: nothing to exec into")
		}
		assert.Equal(t, file{mode: 0o700, uid: 65532, gid: 65532, dir: true}, files["data"].meta())
		assert.Equal(t, file{mode: 0o1777, uid: 65532, gid: 65532, dir: true}, files["tmp"].meta())
		assert.Equal(t, file{mode: 0o755}, files["greenlight"].meta(), "root owns the binary: the user cannot replace it")
		pool := x509.NewCertPool()
		assert.True(t, pool.AppendCertsFromPEM(files["etc/ssl/certs/ca-certificates.crt"].body), "the CA bundle is PEM certificates")
		assert.Contains(t, string(files["etc/passwd"].body), "nonroot:x:65532:65532:")
	})

	t.Run("binary", func(t *testing.T) {
		bin := files["greenlight"].body
		f, err := elf.NewFile(bytes.NewReader(bin))
		require.NoError(t, err)
		for _, p := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, p.Type, "static: the image has no dynamic loader or C library")
		}
		path := filepath.Join(t.TempDir(), "greenlight")
		require.NoError(t, os.WriteFile(path, bin, 0o755))
		cmd := exec.Command(path, "version")
		cmd.Env = []string{} // as in the image: nothing from this machine's environment
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, fmt.Sprintf("greenlight %s (%s, linux/%s)\n", testVersion, runtime.Version(), runtime.GOARCH), string(out))
		assert.NotContains(t, string(bin), filepath.Dir(filepath.Dir(mustGetwd(t))), "-trimpath: no build folder in the binary")
	})
}

// TestImageReproducible: the same binary, bundle and time give the same digest, so a release's
// image can be rebuilt and compared.
func TestImageReproducible(t *testing.T) {
	o := image.Options{Binary: binary, Arch: runtime.GOARCH, Version: testVersion}
	a, err := image.Build(o)
	require.NoError(t, err)
	b, err := image.Build(o)
	require.NoError(t, err)
	da, err := a.Digest()
	require.NoError(t, err)
	db, err := b.Digest()
	require.NoError(t, err)
	assert.Equal(t, da, db)
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    image.Options
		want string
	}{
		{"no arch", image.Options{Binary: binary}, "build image: no architecture"},
		{"no binary", image.Options{Binary: filepath.Join(t.TempDir(), "missing"), Arch: "amd64"}, "build image: read binary: open "},
		{"no CA bundle", image.Options{Binary: binary, Arch: "amd64", CABundle: filepath.Join(t.TempDir(), "missing.pem")}, "build image: read CA bundle: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := image.Build(tc.o)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.want), err.Error())
		})
	}
}

// readArchive unpacks an OCI archive and returns the one image its index tags ref.
func readArchive(t *testing.T, archive, ref string) v1.Image {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		name := filepath.Join(dir, filepath.FromSlash(h.Name))
		require.True(t, strings.HasPrefix(name, dir+string(filepath.Separator)), h.Name)
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(name, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(name, b, 0o644))
	}
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	assert.Equal(t, ref, im.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	img, err := idx.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	return img
}

type entry struct {
	h    *tar.Header
	body []byte
}

type file struct {
	mode     int64
	uid, gid int
	dir      bool
}

func (e entry) meta() file {
	return file{mode: e.h.Mode, uid: e.h.Uid, gid: e.h.Gid, dir: e.h.Typeflag == tar.TypeDir}
}

// extract reads the image's flattened filesystem.
func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "/"), "/")] = entry{h: h, body: b}
	}
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return wd
}
