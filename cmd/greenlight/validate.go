package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/analysis"
	"github.com/greenlight/greenlight/specs"
)

func newValidateCmd() *cobra.Command {
	var (
		vars   []string
		strict bool
	)
	cmd := &cobra.Command{
		Use:   "validate PATH...",
		Short: "Check spec files without running them",
		Long: `Validate loads every spec file (a folder means its .yaml/.yml files) and reports every
problem as file:line:col: message. Exit 0 when valid, 3 otherwise.

A secret whose environment variable is unset, or whose file does not exist, is a warning
(file:line:col: warning: …) so that specs can be checked where the secrets are not, such as a
pull request; --strict makes it an error, as it is for smoke and verify.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			overrides, err := parseVars(vars)
			if err != nil {
				return err
			}
			docs, err := specs.Load(args, specs.LoadOptions{Vars: overrides, AllowMissingSecrets: !strict})
			for _, w := range docs.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s\n", w.Pos, w.Msg)
			}
			if err != nil {
				return invalid("invalid spec:\n%s", err)
			}
			// The endpoints' kinds and settings, as greenlight serve checks them at start.
			if _, err := endpointConfigs(docs.Notifications); err != nil {
				return invalid("invalid notifications:\n%s", err)
			}
			steps := 0
			for _, s := range docs.Suites {
				steps += len(s.Steps)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s, %s, %s: valid\n", plural(len(docs.Suites), "suite"), plural(steps, "step"), plural(len(docs.Analyses), "analysis"))
			for _, a := range docs.Analyses {
				for _, w := range analysis.HistogramWarnings(a) {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&vars, "var", nil, "override a suite variable: NAME=VALUE (repeatable)")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat a secret that is not set (a warning by default) as an error")
	return cmd
}

// loadSpecs loads spec files; problems come back as an invalid-input error listing all of them.
func loadSpecs(paths []string, vars map[string]string) (*specs.Documents, error) {
	return loadSpecsOpts(paths, specs.LoadOptions{Vars: vars})
}

func loadSpecsOpts(paths []string, opts specs.LoadOptions) (*specs.Documents, error) {
	docs, err := specs.Load(paths, opts)
	if err != nil {
		return nil, invalid("invalid spec:\n%s", err)
	}
	return docs, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	if word == "analysis" {
		return fmt.Sprintf("%d analyses", n)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
