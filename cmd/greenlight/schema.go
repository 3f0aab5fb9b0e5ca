package main

import (
	"github.com/spf13/cobra"

	"github.com/greenlight/greenlight/specs"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the spec language",
		Long: `Schema prints a JSON Schema (draft 2020-12) of greenlight's YAML language. Save it and
point yaml-language-server at it for completion and inline errors in editors:

  greenlight schema > greenlight.schema.json
  # first line of a spec file:
  # yaml-language-server: $schema=./greenlight.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := specs.Schema()
			if err != nil {
				return &exitError{code: 4, err: err}
			}
			_, err = cmd.OutOrStdout().Write(append(b, '\n'))
			return err
		},
	}
}
