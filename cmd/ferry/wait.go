package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/server/api"
)

// historyLookback is how many recent promotions --wait reads to find the
// one it follows once it has ended.
const historyLookback = 50

// waitFlags are --wait and --timeout of the commands that start promotions.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) bind(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "follow the promotion until it ends, printing each phase; exit 1 unless it succeeds")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Minute, "give up waiting after this long (ferry carries on)")
}

// follow polls env until the promotion of sha ends, printing a line to
// progress each time its phase or reason changes. It returns the ended
// promotion, or an exitError when it ended in anything but Succeeded.
// Promotions of sha that had already ended when follow started are not the
// one asked about and are skipped.
func (f *clientFlags) follow(ctx context.Context, c *api.Client, w waitFlags, pipeline, env, sha string, progress io.Writer) (ferry.Promotion, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	before, err := c.History(ctx, pipeline, env, historyLookback)
	if err != nil {
		return ferry.Promotion{}, fmt.Errorf("read history of %s: %w", env, explain(err))
	}
	ended := map[string]bool{}
	for _, p := range before {
		if p.Phase.IsTerminal() {
			ended[p.ID] = true
		}
	}
	short := ferry.Revision{SHA: sha}.Short()
	last, phase := "", "not started"
	for {
		p, err := f.lookup(ctx, c, pipeline, env, sha, ended)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return ferry.Promotion{}, err
		}
		if p != nil {
			line := fmt.Sprintf("%s %s: %s", env, short, p.Phase)
			if p.Reason != "" {
				line += ": " + p.Reason
			}
			if line != last {
				fmt.Fprintln(progress, line)
				last, phase = line, string(p.Phase)
			}
			if p.Phase.IsTerminal() {
				if p.Phase != ferry.PhaseSucceeded {
					return *p, exitError{code: 1, msg: fmt.Sprintf("%s %s ended %s", env, short, p.Phase)}
				}
				return *p, nil
			}
		}
		timer := time.NewTimer(f.deps.poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ferry.Promotion{}, fmt.Errorf("%s %s still %s after %s; ferry carries on (see `ferry status`)", env, short, phase, w.timeout)
		case <-timer.C:
		}
	}
}

// lookup finds the promotion of sha: the environment's active one, else
// the newest in its history that had not ended before follow started.
func (f *clientFlags) lookup(ctx context.Context, c *api.Client, pipeline, env, sha string, ended map[string]bool) (*ferry.Promotion, error) {
	st, err := c.Environment(ctx, pipeline, env)
	if err != nil {
		return nil, fmt.Errorf("read status of %s: %w", env, explain(err))
	}
	if st.Active != nil && st.Active.Revision.SHA == sha {
		return st.Active, nil
	}
	hist, err := c.History(ctx, pipeline, env, historyLookback)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", env, explain(err))
	}
	for i := range hist {
		if hist[i].Revision.SHA == sha && !ended[hist[i].ID] {
			return &hist[i], nil
		}
	}
	return nil, nil
}
