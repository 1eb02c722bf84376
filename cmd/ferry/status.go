package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command { return statusCmd(defaultClientDeps()) }

func statusCmd(deps clientDeps) *cobra.Command {
	f := &clientFlags{deps: deps}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every environment's revision, phase and what it waits for",
		Example: `  ferry status
  ferry status --pipeline shop -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			sts, err := c.Environments(cmd.Context(), f.pipeline)
			if err != nil {
				return fmt.Errorf("status: %w", explain(err))
			}
			if f.json() {
				return writeJSONTo(cmd.OutOrStdout(), sts)
			}
			return printStatusTable(cmd.OutOrStdout(), sts, f.deps.now())
		},
	}
	f.bind(cmd, true)
	cmd.Flags().Lookup("pipeline").Usage = "show only this pipeline"
	return cmd
}
