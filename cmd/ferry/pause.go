package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newPauseCmd() *cobra.Command { return pauseCmd(defaultClientDeps(), true) }

func newResumeCmd() *cobra.Command { return pauseCmd(defaultClientDeps(), false) }

// pauseCmd builds `ferry pause` or, with paused false, `ferry resume`.
func pauseCmd(deps clientDeps, paused bool) *cobra.Command {
	f := &clientFlags{deps: deps}
	cmd := &cobra.Command{
		Use:     "pause ENV",
		Short:   "Stop promotions into an environment until it is resumed",
		Example: "  ferry pause prod\n  ferry pause live --pipeline blog",
	}
	if !paused {
		cmd.Use, cmd.Short = "resume ENV", "Let promotions into a paused environment again"
		cmd.Example = "  ferry resume prod"
	}
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		pipeline, err := f.resolvePipeline(cmd.Context(), c, args[0])
		if err != nil {
			return err
		}
		res, err := c.SetPaused(cmd.Context(), pipeline, args[0], paused)
		if err != nil {
			return fmt.Errorf("%s %s: %w", cmd.Name(), args[0], explain(err))
		}
		return f.report(cmd, c, nil, pipeline, args[0], res)
	}
	f.bind(cmd, true)
	return cmd
}
