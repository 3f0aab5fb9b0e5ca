package main

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/examples"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/smoke"
	"github.com/greenlight/greenlight/specs"
)

func newDemoCmd() *cobra.Command {
	var healthy bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the bundled example against a blue and a green app started on loopback",
		Long: `Demo starts two copies of the example app on loopback — blue (v1, the version serving
users) and green (v2, the candidate) sharing one database — and runs the bundled smoke suites
against both with the real engine: the checkout smoke test side by side on blue and green, and
a rollback rehearsal that writes on green and reads back on blue.

By default green carries a regression: it writes orders in a new format that blue cannot read,
so the smoke test and the rehearsal fail and the command exits 1. With --healthy green is
compatible and the command exits 0. Nothing outside the machine is contacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			store := app.NewStore()
			greenFormat := 2
			if healthy {
				greenFormat = 1
			}
			blue, err := app.Start(ctx, app.Config{Color: "blue", Version: "v1", Store: store, StrictRead: true})
			if err != nil {
				return &exitError{code: 4, err: fmt.Errorf("start blue: %w", err)}
			}
			defer blue.Close()
			green, err := app.Start(ctx, app.Config{Color: "green", Version: "v2", Store: store, OrderFormat: greenFormat})
			if err != nil {
				return &exitError{code: 4, err: fmt.Errorf("start green: %w", err)}
			}
			defer green.Close()

			docs, err := loadEmbedded()
			if err != nil {
				return &exitError{code: 4, err: err}
			}
			scenario := "green writes orders in a new format that blue cannot read (use --healthy for a compatible green)"
			if healthy {
				scenario = "green is compatible with blue"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "demo: blue v1 (serving users) at %s, green v2 (candidate) at %s, one shared database\ndemo: %s\n\n", blue.URL, green.URL, scenario)
			run := &smokeRun{
				docs:     docs,
				targets:  []smoke.Target{{Name: "blue", URL: blue.URL}, {Name: "green", URL: green.URL}},
				parallel: 1,
				output:   "text",
				stdout:   cmd.OutOrStdout(),
				stderr:   cmd.ErrOrStderr(),
			}
			return run.execute(ctx)
		},
	}
	cmd.Flags().BoolVar(&healthy, "healthy", false, "make green compatible with blue, so the demo passes")
	return cmd
}

// loadEmbedded loads the example suites bundled in the binary. The demo's login password is
// the example app's; it is still a secret, so it never appears in the output.
func loadEmbedded() (*specs.Documents, error) {
	lookup := func(name string) (string, bool) {
		if name == "SMOKE_PASS" {
			if v, ok := os.LookupEnv(name); ok {
				return v, true
			}
			return "testpass", true
		}
		return os.LookupEnv(name)
	}
	docs := &specs.Documents{}
	err := fs.WalkDir(examples.Suites, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(examples.Suites, path)
		if err != nil {
			return err
		}
		got, err := specs.Parse("examples/"+path, data, specs.LoadOptions{LookupEnv: lookup})
		if err != nil {
			return fmt.Errorf("bundled suite %s: %w", path, err)
		}
		docs.Suites = append(docs.Suites, got.Suites...)
		return nil
	})
	return docs, err
}
