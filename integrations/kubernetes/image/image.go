// Package image builds greenlight's container image without a container runtime, with
// go-containerregistry: a static greenlight binary, the CA bundle and two writable folders on an
// empty base, written as an OCI image layout or an OCI archive (a tar of the layout). It knows
// nothing of Kubernetes; the manifests in deploy/kubernetes name the Repository it is pushed to.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Repository is where releases push the image; deploy/kubernetes names it.
const Repository = "ghcr.io/greenlight/greenlight"

// The image's layout and user. 65532 is the conventional "nonroot" of distroless images.
const (
	BinaryPath = "/greenlight"
	DataDir    = "/data"
	SpecsDir   = "/etc/greenlight/specs"
	CABundle   = "/etc/ssl/certs/ca-certificates.crt"
	Port       = 8080
	UID        = 65532
)

// Entrypoint and Cmd are the image's: `greenlight serve` on the specs folder and data volume
// a Deployment mounts, listening on every interface.
var (
	Entrypoint = []string{BinaryPath}
	Cmd        = []string{"serve", "--config", SpecsDir, "--data", DataDir, "--listen", fmt.Sprintf("0.0.0.0:%d", Port)}
)

// HostCABundles are where Linux distributions keep their CA bundle, in the order Options.CABundle
// defaults to: Debian and Ubuntu, Fedora and RHEL, openSUSE, Alpine.
var HostCABundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// Options say what goes into the image.
type Options struct {
	// Binary is a static (CGO_ENABLED=0) linux greenlight binary for Arch; see CompileBinary.
	Binary string
	// CABundle is the PEM file copied to /etc/ssl/certs; empty takes the first of HostCABundles.
	CABundle string
	// Arch is the binary's GOARCH (amd64, arm64).
	Arch string
	// Version and Revision label the image (org.opencontainers.image.version, .revision).
	Version, Revision string
	// Created is the image's creation time and every file's modification time; the zero time
	// is the Unix epoch, so the same inputs always give the same digest.
	Created time.Time
}

// Build assembles the image: one layer on an empty base.
func Build(o Options) (v1.Image, error) {
	if o.Arch == "" {
		return nil, errors.New("build image: no architecture")
	}
	created := o.Created.UTC()
	if o.Created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("build image: read binary: %w", err)
	}
	ca, err := readCABundle(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	layerTar, err := filesystem(created, bin, ca)
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("build image: layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "greenlight integrations/kubernetes/image", Comment: "greenlight binary, CA bundle, /tmp and /data"},
	})
	if err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build image: config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint:   Entrypoint,
		Cmd:          Cmd,
		User:         fmt.Sprintf("%d:%d", UID, UID),
		WorkingDir:   DataDir,
		Env:          []string{"SSL_CERT_FILE=" + CABundle, "TMPDIR=/tmp"},
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		Labels:       Labels(o, created),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("build image: config: %w", err)
	}
	return img, nil
}

// Labels are the image's OCI annotations-as-labels.
func Labels(o Options, created time.Time) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":         "greenlight",
		"org.opencontainers.image.description":   "Decides whether a blue-green deployment may be promoted: greenlight serve",
		"org.opencontainers.image.source":        "https://github.com/greenlight/greenlight",
		"org.opencontainers.image.url":           "https://github.com/greenlight/greenlight",
		"org.opencontainers.image.documentation": "https://github.com/greenlight/greenlight/blob/main/docs/operations.md",
		"org.opencontainers.image.created":       created.Format(time.RFC3339),
		"org.opencontainers.image.version":       o.Version,
	}
	if o.Version == "" {
		l["org.opencontainers.image.version"] = "dev"
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

func readCABundle(path string) ([]byte, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		return b, nil
	}
	for _, p := range HostCABundles {
		if b, err := os.ReadFile(p); err == nil {
			return b, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
	}
	return nil, fmt.Errorf("no CA bundle on this host (looked in %s); give one", strings.Join(HostCABundles, ", "))
}

// filesystem is the layer's tar: no shell, no package manager, nothing but what serve needs.
// /etc/passwd and /etc/group name the user, so tools that print it show "nonroot".
func filesystem(mtime time.Time, bin, ca []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	type entry struct {
		name     string
		mode     int64
		uid      int
		contents []byte // nil: a folder
	}
	dir := func(name string, mode int64, uid int) entry { return entry{name: name, mode: mode, uid: uid} }
	file := func(name string, mode int64, b []byte) entry { return entry{name: name, mode: mode, contents: b} }
	entries := []entry{
		dir("data/", 0o700, UID),
		dir("etc/", 0o755, 0),
		file("etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")),
		file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n")),
		dir("etc/ssl/", 0o755, 0),
		dir("etc/ssl/certs/", 0o755, 0),
		file(strings.TrimPrefix(CABundle, "/"), 0o644, ca),
		file(strings.TrimPrefix(BinaryPath, "/"), 0o755, bin),
		dir("tmp/", 0o1777, UID),
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatPAX}
		if e.contents == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.contents))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.contents); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLayout writes img as an OCI image layout into dir (created if missing), tagged ref in
// its index (org.opencontainers.image.ref.name), as `skopeo copy oci:DIR:TAG` and
// `crane push` read it.
func WriteLayout(dir, ref string, img v1.Image) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref}))
	}
	if err := p.AppendImage(img, opts...); err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	return nil
}

// WriteArchive writes img as an OCI archive: the OCI image layout in one tar file, as
// `skopeo copy oci-archive:FILE` and `podman load` read it.
func WriteArchive(path, ref string, img v1.Image) error {
	tmp, err := os.MkdirTemp("", "greenlight-oci-")
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := WriteLayout(tmp, ref, img); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == tmp {
			return err
		}
		rel, err := filepath.Rel(tmp, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime = 0, 0, "", "", time.Unix(0, 0)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	return nil
}

// CompileBinary builds root's ./cmd/greenlight for linux/arch as a static binary at out:
// CGO_ENABLED=0 (the image has no C library), -trimpath (no build machine's paths in it), and
// the version stamped when one is given.
func CompileBinary(ctx context.Context, root, arch, version, out string) error {
	ldflags := "-s -w"
	if version != "" {
		ldflags += " -X main.version=" + version
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/greenlight")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/greenlight: %w\n%s", err, b)
	}
	return nil
}
