package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; otherwise it comes from
// the module's build information. The release build (.goreleaser.yaml) also sets commit and
// date (-X main.commit=… -X main.date=…), which `greenlight version` shows when they are set.
var (
	version = ""
	commit  = ""
	date    = ""
)

func appVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
}

// versionLine is what `greenlight version` prints: the version, then the commit and build date
// when the build set them, the Go version and the platform.
func versionLine() string {
	var about []string
	if commit != "" {
		about = append(about, "commit "+commit)
	}
	if date != "" {
		about = append(about, "built "+date)
	}
	about = append(about, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("greenlight %s (%s)", appVersion(), strings.Join(about, ", "))
}
