package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

func newPromoteCmd() *cobra.Command { return promoteCmd(defaultClientDeps()) }

func promoteCmd(deps clientDeps) *cobra.Command {
	f := &clientFlags{deps: deps}
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "promote ENV REV",
		Short: "Bring a revision that passed upstream to an environment (a rollforward or a pin)",
		Example: `  ferry promote staging 1a2b3c4
  ferry promote prod 9f8e7d6 --wait -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			env := args[0]
			pipeline, err := f.resolvePipeline(cmd.Context(), c, env)
			if err != nil {
				return err
			}
			res, err := c.Promote(cmd.Context(), pipeline, env, api.PromoteRequest{Revision: args[1]})
			if err != nil {
				return fmt.Errorf("promote %s to %s: %w", ferry.Revision{SHA: args[1]}.Short(), env, explain(err))
			}
			return f.report(cmd, c, &w, pipeline, env, res)
		},
	}
	f.bind(cmd, true)
	w.bind(cmd)
	return cmd
}
