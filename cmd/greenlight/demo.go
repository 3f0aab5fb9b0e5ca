package main

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/examples"
	"github.com/greenlight/greenlight/examples/app"
	"github.com/greenlight/greenlight/specs"
)

// demoAnalysis is the bundled analysis the demo runs (examples/analyses/checkout.yaml).
const demoAnalysis = "checkout"

func newDemoCmd() *cobra.Command {
	var healthy bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the bundled release analysis against a blue and a green app on loopback",
		Long: `Demo starts two copies of the example app on loopback — blue (v1, serving users) and
green (v2, the candidate) — and runs the bundled checkout analysis against them with the real
engine: the smoke gate on green, then the checkout journey on blue and green at the same moments,
compared check by check every second, with live progress.

By default green carries a regression: its profile endpoint is three times slower and 3% of its
orders fail. The demo ends with the rollback verdict and its reasons (exit 1), usually within
half a minute. With --healthy green is as good as blue and the demo ends in promote (exit 0),
usually within a minute or two. Nothing outside the machine is contacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			store := app.NewStore()
			// Both apps export their spans to the analysis's trace receiver, on a free port. The
			// receiver stops with the analysis, before the apps' last flush: that is not news.
			otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
			traces, err := freeAddr()
			if err != nil {
				return &exitError{code: 4, err: err}
			}
			otlp := "http://" + traces + "/v1/traces"
			blueFaults, greenFaults, scenario := demoFaults(healthy)
			blue, err := app.Start(ctx, app.Config{Color: "blue", Version: "v1", Store: store, Faults: blueFaults, OTLPEndpoint: otlp})
			if err != nil {
				return &exitError{code: 4, err: fmt.Errorf("start blue: %w", err)}
			}
			defer blue.Close()
			// A fixed seed keeps the demo's smoke gate from hitting one of the 3% order failures
			// by chance: the regression is for the monitors to find.
			green, err := app.Start(ctx, app.Config{Color: "green", Version: "v2", Store: store, Faults: greenFaults, Seed: 1, OTLPEndpoint: otlp})
			if err != nil {
				return &exitError{code: 4, err: fmt.Errorf("start green: %w", err)}
			}
			defer green.Close()

			docs, err := loadEmbedded()
			if err != nil {
				return &exitError{code: 4, err: err}
			}
			a := docs.Analysis(demoAnalysis)
			if a == nil {
				return &exitError{code: 4, err: fmt.Errorf("bundled analysis %q is missing", demoAnalysis)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "demo: blue v1 (serving users) at %s, green v2 (candidate) at %s\ndemo: %s\n\n", blue.URL, green.URL, scenario)
			run := &verifyRun{
				opts:   analysis.Options{Analysis: a, Envs: map[string]string{"blue": blue.URL, "green": green.URL}, TracesListen: traces},
				output: "text",
				stdout: cmd.OutOrStdout(),
			}
			return run.execute(ctx)
		},
	}
	cmd.Flags().BoolVar(&healthy, "healthy", false, "make green as good as blue, so the demo promotes")
	return cmd
}

// demoFaults are the faults the demo injects into blue and green, and the sentence that says so.
//
// The verdict must be the same on a machine busy with other work. CPU contention delays some
// requests of both sides by tens of milliseconds: that widens the tail of both latencies alike
// (a profile 40% slower, p95 41ms against 30ms idle, measured 64ms against 52ms on a loaded
// 2-core machine, and never decided in two minutes) and pulls any ratio towards 1. So green's
// profile is three times slower, and the bundled analysis compares medians, which a few
// delayed requests hardly move. The orders' 3% failures do not depend on timing at all.
func demoFaults(healthy bool) (blue, green app.Faults, scenario string) {
	profile := func(latency, jitter time.Duration) app.Faults {
		return app.Faults{
			Latency: map[string]app.Duration{"/api/user/profile": app.Duration(latency)},
			Jitter:  map[string]app.Duration{"/api/user/profile": app.Duration(jitter)},
		}
	}
	blue = profile(20*time.Millisecond, 10*time.Millisecond)
	if healthy {
		return blue, blue, "green is as good as blue"
	}
	green = profile(60*time.Millisecond, 30*time.Millisecond)
	green.ErrorRate = map[string]float64{"/api/orders": 0.03}
	return blue, green, "green's profile is three times slower and 3% of its orders fail (--healthy for a good green)"
}

// loadEmbedded loads the example specs bundled in the binary. The demo's login password is the
// example app's; it is still a secret, so it never appears in the output.
func loadEmbedded() (*specs.Documents, error) {
	opts := specs.LoadOptions{LookupEnv: func(name string) (string, bool) {
		if name == "SMOKE_PASS" {
			if v, ok := os.LookupEnv(name); ok {
				return v, true
			}
			return "testpass", true
		}
		return os.LookupEnv(name)
	}}
	docs := &specs.Documents{}
	err := fs.WalkDir(examples.Specs, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(examples.Specs, path)
		if err != nil {
			return err
		}
		got, err := specs.Parse("examples/"+path, data, opts)
		if err != nil {
			return fmt.Errorf("bundled spec %s: %w", path, err)
		}
		docs.Suites = append(docs.Suites, got.Suites...)
		docs.Analyses = append(docs.Analyses, got.Analyses...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := docs.Link(opts); err != nil {
		return nil, fmt.Errorf("bundled specs: %w", err)
	}
	return docs, nil
}

// freeAddr finds a free loopback port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
