// Command image writes greenlight's container image as an OCI archive, without a container
// runtime: it builds ./cmd/greenlight of the repository as a static linux binary (or takes
// -binary) and puts it on an empty base with the CA bundle (see package image).
//
//	cd integrations/kubernetes
//	go run ./cmd/image -version v1.4.0 -arch amd64 -o greenlight-v1.4.0-amd64.oci.tar
//	skopeo copy oci-archive:greenlight-v1.4.0-amd64.oci.tar docker://ghcr.io/greenlight/greenlight:v1.4.0
//
// SOURCE_DATE_EPOCH, when set, is the image's creation time (the Unix epoch otherwise), so the
// same commit gives the same digest.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/greenlight/greenlight/integrations/kubernetes/image"
	"github.com/greenlight/greenlight/integrations/kubernetes/internal/repo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fl := flag.NewFlagSet("image", flag.ContinueOnError)
	out := fl.String("o", "greenlight.oci.tar", "the OCI archive to write")
	arch := fl.String("arch", runtime.GOARCH, "the image's architecture (GOARCH: amd64, arm64)")
	version := fl.String("version", "", "the release (stamped into the binary, labelled, and the archive's tag)")
	revision := fl.String("revision", "", "the commit (label org.opencontainers.image.revision)")
	binary := fl.String("binary", "", "a static linux greenlight binary to use instead of building one")
	ca := fl.String("ca-bundle", "", "the PEM CA bundle to copy (default: this host's)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	created := time.Unix(0, 0)
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: not a number of seconds", s)
		}
		created = time.Unix(sec, 0)
	}
	if *binary == "" {
		root, err := repo.Root()
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "greenlight-image-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*binary = filepath.Join(tmp, "greenlight")
		if err := image.CompileBinary(ctx, root, *arch, *version, *binary); err != nil {
			return err
		}
	}
	img, err := image.Build(image.Options{Binary: *binary, CABundle: *ca, Arch: *arch, Version: *version, Revision: *revision, Created: created})
	if err != nil {
		return err
	}
	tag := *version
	if tag == "" {
		tag = "dev"
	}
	ref := image.Repository + ":" + tag
	if err := image.WriteArchive(*out, ref, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("image digest: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %s (%s, linux/%s)\n", *out, ref, digest, *arch)
	return nil
}
