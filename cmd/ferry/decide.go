package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

func newApproveCmd() *cobra.Command { return approveCmd(defaultClientDeps()) }

func approveCmd(deps clientDeps) *cobra.Command {
	f := &clientFlags{deps: deps}
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "approve ENV [REV]",
		Short: "Approve the revision waiting for approval in an environment",
		Long: `Approve the revision waiting for approval in ENV. Without REV, approve what
waits now; with REV (a full SHA or a prefix), approve only that revision, so
an approval never lands on a newer revision than the one you checked.`,
		Example: `  ferry approve prod
  ferry approve prod 9f8e7d6 --wait`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.decide(cmd, args, api.DecisionRequest{}, &w)
		},
	}
	f.bind(cmd, true)
	w.bind(cmd)
	return cmd
}

func newRejectCmd() *cobra.Command { return rejectCmd(defaultClientDeps()) }

func rejectCmd(deps clientDeps) *cobra.Command {
	f := &clientFlags{deps: deps}
	reason := ""
	cmd := &cobra.Command{
		Use:   "reject ENV [REV] --reason TEXT",
		Short: "Reject the revision waiting for approval in an environment, saying why",
		Example: `  ferry reject prod --reason "p95 regressed in staging"
  ferry reject prod 9f8e7d6 --reason "wait for the DB migration"`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.decide(cmd, args, api.DecisionRequest{Reason: reason}, nil)
		},
	}
	f.bind(cmd, true)
	cmd.Flags().StringVar(&reason, "reason", "", "why the revision is rejected (required)")
	_ = cmd.MarkFlagRequired("reason") // only fails for an unknown flag name
	return cmd
}

// decide approves (req.Reason empty) or rejects args[1], or what waits in
// args[0] when no revision is given; w, when not nil, follows the promotion.
func (f *clientFlags) decide(cmd *cobra.Command, args []string, req api.DecisionRequest, w *waitFlags) error {
	ctx, env := cmd.Context(), args[0]
	reject := req.Reason != ""
	verb := "approve"
	if reject {
		verb = "reject"
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	pipeline, err := f.resolvePipeline(ctx, c, env)
	if err != nil {
		return err
	}
	if len(args) == 2 {
		req.Revision = args[1]
	} else if req.Revision, err = waitingNow(ctx, c, pipeline, env); err != nil {
		return err
	}
	req.Via = api.ViaCLI
	var res api.WriteResult
	if reject {
		res, err = c.Reject(ctx, pipeline, env, req)
	} else {
		res, err = c.Approve(ctx, pipeline, env, req)
	}
	if err != nil {
		return fmt.Errorf("%s %s in %s: %w", verb, ferry.Revision{SHA: req.Revision}.Short(), env, explain(err))
	}
	return f.report(cmd, c, w, pipeline, env, res)
}

// waitingNow returns the revision waiting in env, for approve and reject
// without a revision.
func waitingNow(ctx context.Context, c *api.Client, pipeline, env string) (string, error) {
	st, err := c.Environment(ctx, pipeline, env)
	if err != nil {
		return "", fmt.Errorf("status of %s: %w", env, explain(err))
	}
	if st.Active == nil || st.Active.Phase != ferry.PhaseWaiting {
		return "", fmt.Errorf("nothing waits in %s/%s (phase %s); name the revision to be explicit", pipeline, env, dash(string(st.Phase)))
	}
	return st.Active.Revision.SHA, nil
}

// report prints a write's result; with w.wait it then follows the
// promotion of the revision written about. In JSON, progress goes to
// stderr and stdout gets one document: the result, or the ended promotion.
func (f *clientFlags) report(cmd *cobra.Command, c *api.Client, w *waitFlags, pipeline, env string, res api.WriteResult) error {
	out := cmd.OutOrStdout()
	if w == nil || !w.wait {
		if f.json() {
			return writeJSONTo(out, res)
		}
		_, err := fmt.Fprintln(out, res.Message)
		return err
	}
	progress := out
	if f.json() {
		progress = cmd.ErrOrStderr()
	}
	fmt.Fprintln(progress, res.Message)
	p, err := f.follow(cmd.Context(), c, *w, pipeline, env, res.Revision, progress)
	if f.json() && p.ID != "" {
		if jerr := writeJSONTo(out, p); jerr != nil {
			return jerr
		}
	}
	return err
}
