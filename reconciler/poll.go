package reconciler

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/ferry-gitops/ferry"
)

// poll follows the pipeline's branch until ctx ends: it reads the head on a
// jittered interval and at once after a nudge, and records a new head in the
// state for the first environment to take. Finding another replica in the
// fence ends the term through depose.
func (d *Daemon) poll(ctx context.Context, p *pipelineRun, depose context.CancelCauseFunc) {
	// An unreachable Git server is reported once, not at every poll.
	trouble := &problem{log: d.log, msg: "reading the branch head failed", recovered: "reading the branch head works again"}
	for {
		err := d.pollOnce(ctx, p)
		switch {
		case errors.Is(err, errDeposed):
			depose(err)
			return
		case err != nil && ctx.Err() == nil:
			trouble.failed(ctx, err, "pipeline", p.cfg.Name)
		case err == nil:
			trouble.ok(ctx, "pipeline", p.cfg.Name)
		}
		t := time.NewTimer(jitter(p.cfg.Source.Interval, 0.1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.nudge:
			t.Stop()
		case <-t.C:
		}
	}
}

// pollOnce reads the head, fetches a new one and records it. Reading the
// head costs one ref advertisement; nothing is fetched while it is unchanged.
func (d *Daemon) pollOnce(ctx context.Context, p *pipelineRun) error {
	head, err := p.source.Head(ctx)
	if err != nil {
		d.metrics.gitPolls.WithLabelValues(p.cfg.Name, pollError).Inc()
		return err
	}
	p.mu.Lock()
	same := head.SHA == p.lastHead
	p.mu.Unlock()
	if same {
		d.metrics.gitPolls.WithLabelValues(p.cfg.Name, pollUnchanged).Inc()
		return nil
	}
	if err := p.source.Fetch(ctx, head.SHA); err != nil {
		d.metrics.gitPolls.WithLabelValues(p.cfg.Name, pollError).Inc()
		return err
	}
	_, rev, err := p.source.Snapshot(ctx, head.SHA, "")
	if err != nil {
		d.metrics.gitPolls.WithLabelValues(p.cfg.Name, pollError).Inc()
		return err
	}
	d.metrics.gitPolls.WithLabelValues(p.cfg.Name, pollChanged).Inc()
	changed := false
	err = d.store.update(ctx, p.cfg.Name, func(st *pipelineState) error {
		if st.Leader != d.identity {
			return errDeposed
		}
		changed = st.Head.SHA != rev.SHA
		if changed {
			st.Head, st.HeadSeen = rev, time.Now()
			st.enqueue(ferry.Event{Kind: ferry.EventRevisionDetected, Time: st.HeadSeen, Pipeline: p.cfg.Name, Revision: rev})
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.lastHead = rev.SHA
	p.mu.Unlock()
	if changed {
		d.log.InfoContext(ctx, "new branch head", "pipeline", p.cfg.Name, "revision", rev.Short(), "subject", rev.Subject)
		p.kickOutbox()
		d.enqueue(envKey{p.cfg.Name, p.envs[0].cfg.Name})
	}
	return nil
}

// jitter spreads d uniformly over d×(1±f).
func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 + f*(2*rand.Float64()-1)))
}
