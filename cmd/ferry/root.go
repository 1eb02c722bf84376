package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ferry",
		Short: "ferry carries one Git revision of a Helm chart from dev to staging to production",
		Long: `ferry watches a Git repository holding a Helm chart and one values file per
environment, deploys each new revision to the first environment, verifies it,
and promotes that same revision through the next environments when their gates
pass, telling every step in chat.`,
		Example: `  ferry config validate -f ferry.yaml
  ferry render prod -f ferry.yaml
  FERRY_SERVER=http://ferry:8080 FERRY_TOKEN=... ferry status
  ferry approve prod --wait`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newRunCmd(),
		newConfigCmd(),
		newRenderCmd(), newDiffCmd(),
		newStatusCmd(), newHistoryCmd(), newApproveCmd(), newRejectCmd(), newPromoteCmd(), newPauseCmd(), newResumeCmd(),
	)
	return root
}
