package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newHistoryCmd() *cobra.Command { return historyCmd(defaultClientDeps()) }

func historyCmd(deps clientDeps) *cobra.Command {
	f := &clientFlags{deps: deps}
	limit := 0
	cmd := &cobra.Command{
		Use:   "history ENV",
		Short: "List an environment's promotions, newest first, with their gate results",
		Example: `  ferry history prod
  ferry history staging --limit 5 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return fmt.Errorf("--limit %d: want 1 or more (0 for the server's default)", limit)
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			pipeline, err := f.resolvePipeline(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			proms, err := c.History(cmd.Context(), pipeline, args[0], limit)
			if err != nil {
				return fmt.Errorf("history of %s: %w", args[0], explain(err))
			}
			if f.json() {
				return writeJSONTo(cmd.OutOrStdout(), proms)
			}
			return printHistoryTable(cmd.OutOrStdout(), proms, f.deps.now())
		},
	}
	f.bind(cmd, true)
	cmd.Flags().IntVar(&limit, "limit", 0, "most promotions to show (default: state.historyLimit)")
	return cmd
}
