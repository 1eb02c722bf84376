package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/promote"
)

// act carries out an admission, apply, verification or rollback and returns
// the event that answers it, with chat events for the details (gate figures,
// resource summary). An error means the step could not be done now (Git or
// the cluster unreachable, ferry stopping) and is retried with backoff; a
// verdict on the revision is always an event.
func (d *Daemon) act(ctx context.Context, p *pipelineRun, e *envRun, s promote.State, a promote.Action) (promote.Event, []ferry.Event, error) {
	pr := a.Promotion
	answer := func(kind promote.EventKind) promote.Event {
		return promote.Event{Kind: kind, Revision: pr.Revision}
	}
	switch a.Kind {
	case promote.ActionAdmit:
		r, err := p.render(ctx, e, pr.Revision.SHA)
		var re *renderError
		if errors.As(err, &re) {
			now := time.Now()
			g := ferry.GateResult{Gate: "render", Verdict: ferry.VerdictFailed, Reason: err.Error(), Started: now, Ended: now}
			ev := answer(promote.EventAdmitted)
			ev.Gates = []ferry.GateResult{g}
			return ev, nil, nil
		}
		if err != nil {
			return promote.Event{}, nil, err
		}
		gates := d.admission(ctx, e, r)
		if err := ctx.Err(); err != nil {
			return promote.Event{}, nil, err
		}
		ev := answer(promote.EventAdmitted)
		ev.Gates = gates
		diff := ferry.Event{Kind: ferry.EventDiff, Summary: &r.Summary, Warnings: r.Warnings}
		// What runs now, rendered again (cached), lets chat show the
		// resource delta; unknown when it cannot be rendered any more.
		if s.Current.SHA != "" && s.Current.SHA != pr.Revision.SHA {
			if cur, err := p.render(ctx, e, s.Current.SHA); err == nil {
				diff.Previous = &cur.Summary
				diff.Diff = deploy.DiffRenders(cur, r).String()
			}
		}
		notes := []ferry.Event{d.note(p, e, pr, diff)}
		if len(gates) > 0 {
			notes = append(notes, d.note(p, e, pr, ferry.Event{Kind: ferry.EventGateResult, Gates: gates}))
		}
		return ev, notes, nil

	case promote.ActionApply:
		crashpoint(CrashIntentRecorded)
		r, err := p.render(ctx, e, pr.Revision.SHA)
		if err != nil {
			return promote.Event{}, nil, err
		}
		hctx, cancel := helmContext(ctx)
		stopCrashWatch := crashWhileApplying(hctx, e.cfg)
		helmRev, err := e.releaser.Apply(hctx, r, pr.Revision)
		stopCrashWatch()
		cancel()
		if transient(err) {
			return promote.Event{}, nil, fmt.Errorf("apply %s to %s: %w", pr.Revision.Short(), e.cfg.Name, err)
		}
		crashpoint(CrashHelmApplied)
		ev := answer(promote.EventApplied)
		ev.HelmRevision, ev.Err = helmRev, err
		return ev, nil, nil

	case promote.ActionVerify:
		r, err := p.render(ctx, e, pr.Revision.SHA)
		if err != nil {
			return promote.Event{}, nil, err
		}
		gates := d.verification(ctx, e, r)
		if err := ctx.Err(); err != nil {
			return promote.Event{}, nil, err
		}
		if passed(gates) && pr.HelmRevision > 0 {
			if err := e.releaser.MarkGood(ctx, pr.HelmRevision); err != nil {
				return promote.Event{}, nil, fmt.Errorf("mark Helm revision %d of %s good: %w", pr.HelmRevision, e.cfg.Name, err)
			}
		}
		ev := answer(promote.EventVerified)
		ev.Gates = gates
		return ev, []ferry.Event{d.note(p, e, pr, ferry.Event{Kind: ferry.EventGateResult, Gates: gates})}, nil

	case promote.ActionRollback:
		hctx, cancel := helmContext(ctx)
		err := e.releaser.Rollback(hctx)
		cancel()
		if transient(err) {
			return promote.Event{}, nil, fmt.Errorf("roll %s back to %s: %w", e.cfg.Name, a.RollbackTo.Short(), err)
		}
		ev := answer(promote.EventRolledBack)
		ev.Err = err
		return ev, nil, nil
	}
	return promote.Event{}, nil, fmt.Errorf("unknown action %s", a.Kind)
}

// admission runs the rendered-object admission gates the environment has.
func (d *Daemon) admission(ctx context.Context, e *envRun, r *ferry.Rendered) []ferry.GateResult {
	var gates []ferry.GateResult
	if e.policy != nil {
		g := timed(func() ferry.GateResult { return e.policy.Check(*r) })
		gates = append(gates, g)
		if e.cfg.Gates.Policy.QuotaFit {
			gates = append(gates, timed(func() ferry.GateResult { return promote.QuotaFit(ctx, e.cfg.Name, *r, e.releaser) }))
		}
	}
	d.metrics.gates(gates)
	return gates
}

// verification runs health, then the load test once healthy.
func (d *Daemon) verification(ctx context.Context, e *envRun, r *ferry.Rendered) []ferry.GateResult {
	hc := e.cfg.Gates.Health
	gates := []ferry.GateResult{timed(func() ferry.GateResult {
		return promote.HealthGate(ctx, e.releaser, *r, hc, healthInterval(hc.Timeout))
	})}
	crashpoint(CrashVerifying)
	if lt := e.cfg.Gates.LoadTest; lt != nil && gates[0].Verdict == ferry.VerdictPassed {
		gates = append(gates, timed(func() ferry.GateResult { return promote.LoadGate(ctx, *lt) }))
	}
	d.metrics.gates(gates)
	return gates
}

// passed reports whether every gate passed.
func passed(gates []ferry.GateResult) bool {
	for _, g := range gates {
		if g.Verdict != ferry.VerdictPassed {
			return false
		}
	}
	return true
}

// timed fills in a gate's start and end when it left them out.
func timed(run func() ferry.GateResult) ferry.GateResult {
	start := time.Now()
	g := run()
	if g.Started.IsZero() {
		g.Started = start
	}
	if g.Ended.IsZero() {
		g.Ended = time.Now()
	}
	return g
}

// healthInterval polls ten times over the timeout, between 100ms and 2s.
func healthInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 100*time.Millisecond), 2*time.Second)
}

// note fills in an event's common fields for promotion pr.
func (d *Daemon) note(p *pipelineRun, e *envRun, pr ferry.Promotion, ev ferry.Event) ferry.Event {
	ev.Time = time.Now()
	ev.Pipeline, ev.Environment, ev.Revision = p.cfg.Name, e.cfg.Name, pr.Revision
	ev.Promotion = &pr
	return ev
}
