// Package release checks the release configuration, .goreleaser.yaml at the repository's
// root, with GoReleaser's own config package: a module of its own, so that GoReleaser's
// dependencies stay out of greenlight's. It holds no code, only the test:
//
//	cd tools/release && go test ./...
package release
