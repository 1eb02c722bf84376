package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/deploy"
)

func newDiffCmd() *cobra.Command {
	var f renderFlags
	cmd := &cobra.Command{
		Use:   "diff ENV",
		Short: "Compare what ferry would apply to an environment with its live release (exit 0 same, 2 differs)",
		Long: `Render the environment with the capabilities of its cluster, read the live
objects of its release, and print what applying would change (Secret values
masked) and the resources the release asks of its namespace. Exits 0 when
nothing would change and 2 when something would.`,
		Example: `  ferry diff prod -f ferry.yaml
  ferry diff staging --dir .   # the work tree against what runs in staging
  ferry diff prod --revision 1a2b3c4; [ $? -eq 2 ] && echo "prod would change"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, e, err := f.target(args[0])
			if err != nil {
				return err
			}
			cluster, err := environmentCluster(e)
			if err != nil {
				return err
			}
			spec := deploy.SpecFor(p, e)
			if spec.Capabilities, err = cluster.Capabilities(ctx); err != nil {
				return err
			}
			files, err := f.source(ctx, p)
			if err != nil {
				return err
			}
			r, err := deploy.Render(ctx, files, spec)
			if err != nil {
				return err
			}
			live, err := cluster.LiveObjects(ctx, r)
			if err != nil {
				return err
			}
			if err := cluster.Quota(ctx, r.Namespace, &r.Summary); err != nil {
				return err
			}
			printWarnings(cmd.ErrOrStderr(), r.Warnings)
			changes := deploy.Diff(live, r)
			out := cmd.OutOrStdout()
			io.WriteString(out, changes.String())
			printSummary(out, e.Name, r.Summary)
			if !changes.Empty() {
				return exitError{code: 2}
			}
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

// printSummary prints the resources asked for, one line, with quota use
// where the namespace has a quota.
func printSummary(w io.Writer, env string, s ferry.ResourceSummary) {
	keys := make([]string, 0, len(s.Requested))
	for k := range s.Requested {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		part := k + "=" + amount(k, s.Requested[k])
		if hard, ok := s.Quota[k]; ok && hard > 0 {
			part += fmt.Sprintf(" (%.0f %% of quota)", 100*float64(s.Requested[k])/float64(hard))
		}
		parts = append(parts, part)
	}
	fmt.Fprintf(w, "%s: %s\n", env, strings.Join(parts, ", "))
}

// amount formats millicores as CPUs and everything else as the number.
func amount(key string, v int64) string {
	if strings.HasSuffix(key, "cpu") {
		return fmt.Sprintf("%g", float64(v)/1000)
	}
	return fmt.Sprint(v)
}
