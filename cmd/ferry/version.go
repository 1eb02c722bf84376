package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print ferry's version, commit, Go version and Helm SDK version",
		Example: "  ferry version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "ferry %s (commit %s)\ngo %s\nhelm SDK %s\n",
				version, commit, runtime.Version(), moduleVersion("helm.sh/helm/v3"))
			return nil
		},
	}
}

// moduleVersion reports the version of a module linked into this binary.
func moduleVersion(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return "not linked"
}
