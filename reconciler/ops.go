package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry"
)

// lookup finds a pipeline and environment by name, or wraps ferry.ErrNotFound.
func (d *Daemon) lookup(pipeline, env string) (*pipelineRun, *envRun, error) {
	p, ok := d.pipelines[pipeline]
	if !ok {
		return nil, nil, fmt.Errorf("pipeline %q: %w", pipeline, ferry.ErrNotFound)
	}
	e := p.env(env)
	if e == nil {
		return nil, nil, fmt.Errorf("environment %q of pipeline %s: %w", env, pipeline, ferry.ErrNotFound)
	}
	return p, e, nil
}

// Status reports every environment of every pipeline, in file order and
// promotion order, as the shared state has it.
func (d *Daemon) Status(ctx context.Context) ([]ferry.EnvironmentStatus, error) {
	var out []ferry.EnvironmentStatus
	for _, name := range d.order {
		p := d.pipelines[name]
		st, _, err := d.store.load(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, e := range p.envs {
			es := st.env(e.cfg.Name)
			s := ferry.EnvironmentStatus{
				Pipeline: name, Environment: e.cfg.Name, From: e.cfg.From,
				Current: es.Current, Paused: es.Paused,
			}
			switch {
			case es.Active != nil:
				a := *es.Active
				s.Active, s.Phase, s.Since = &a, a.Phase, a.Updated
				if a.Phase == ferry.PhaseWaiting {
					s.WaitingFor = a.Reason
				}
			case len(es.History) > 0:
				h := es.History[len(es.History)-1]
				s.Last, s.Phase, s.Since = &h, h.Phase, h.Ended
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// History returns an environment's promotions, newest first: the active and
// queued ones, then the ended ones the state keeps. limit <= 0 means all.
func (d *Daemon) History(ctx context.Context, pipeline, env string, limit int) ([]ferry.Promotion, error) {
	if _, _, err := d.lookup(pipeline, env); err != nil {
		return nil, err
	}
	st, _, err := d.store.load(ctx, pipeline)
	if err != nil {
		return nil, err
	}
	es := st.env(env)
	var out []ferry.Promotion
	for i := len(es.Queue) - 1; i >= 0; i-- {
		out = append(out, es.Queue[i])
	}
	if es.Active != nil {
		out = append(out, *es.Active)
	}
	for i := len(es.History) - 1; i >= 0; i-- {
		out = append(out, es.History[i])
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Audit returns the writes made to an environment through the daemon's
// operations, newest first. limit <= 0 means all that are kept.
func (d *Daemon) Audit(ctx context.Context, pipeline, env string, limit int) ([]ferry.AuditEntry, error) {
	if _, _, err := d.lookup(pipeline, env); err != nil {
		return nil, err
	}
	st, _, err := d.store.load(ctx, pipeline)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(st.env(env).Audit)
	slices.Reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Decide records an approval or rejection of a revision waiting in an
// environment; the leader acts on it. It works on any replica. Errors are
// fit to show the person: ferry.ErrNotFound for an unknown pipeline or
// environment, ferry.ErrForbidden when a.Actor is not an approver there,
// ferry.ErrConflict when the revision is not waiting there (a.Revision may
// be an abbreviated SHA of at least 7 characters).
func (d *Daemon) Decide(ctx context.Context, a ferry.Approval) error {
	_, e, err := d.lookup(a.Pipeline, a.Environment)
	if err != nil {
		return err
	}
	rule := e.cfg.Approval
	if rule == nil {
		return fmt.Errorf("%s needs no approval: %w", e.cfg.Name, ferry.ErrConflict)
	}
	if a.Actor == "" || (len(rule.Approvers) > 0 && !slices.Contains(rule.Approvers, a.Actor)) {
		return fmt.Errorf("you are not an approver for %s: %w", e.cfg.Name, ferry.ErrForbidden)
	}
	if len(a.Revision) < 7 {
		return fmt.Errorf("revision %q is too short: give at least 7 characters of the SHA: %w", a.Revision, ferry.ErrConflict)
	}
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	err = d.store.update(ctx, a.Pipeline, func(st *pipelineState) error {
		es := st.env(a.Environment)
		sha, ok := waitingSHA(es, a.Revision)
		if !ok {
			return fmt.Errorf("%s is not waiting for approval in %s: %w", short(a.Revision), e.cfg.Name, ferry.ErrConflict)
		}
		a.Revision = sha
		es.Decisions = append(es.Decisions, a)
		action := "approve"
		if a.Rejected {
			action = "reject"
		}
		es.audit(ferry.AuditEntry{Time: a.Time, Actor: a.Actor, Pipeline: a.Pipeline, Environment: a.Environment,
			Action: action, Revision: sha, Detail: a.Reason})
		return nil
	})
	if err != nil {
		return err
	}
	d.enqueue(envKey{a.Pipeline, a.Environment})
	return nil
}

// waitingSHA finds the full SHA of a waiting promotion (active or queued)
// whose SHA starts with rev.
func waitingSHA(es *envState, rev string) (string, bool) {
	if a := es.Active; a != nil && a.Phase == ferry.PhaseWaiting && strings.HasPrefix(a.Revision.SHA, rev) {
		return a.Revision.SHA, true
	}
	for _, q := range es.Queue {
		if strings.HasPrefix(q.Revision.SHA, rev) {
			return q.Revision.SHA, true
		}
	}
	return "", false
}

// Promote asks for revision sha (at least 7 characters) to be promoted to an
// environment by actor. The revision must have succeeded in the environment
// it takes revisions from (ferry.ErrConflict otherwise, and for the first
// environment, which follows the branch, and for a paused one).
func (d *Daemon) Promote(ctx context.Context, pipeline, env, sha, actor string) error {
	_, e, err := d.lookup(pipeline, env)
	if err != nil {
		return err
	}
	if e.cfg.From == "" {
		return fmt.Errorf("%s follows the branch %s; push to the branch instead: %w", env, d.pipelines[pipeline].cfg.Source.Branch, ferry.ErrConflict)
	}
	if len(sha) < 7 {
		return fmt.Errorf("revision %q is too short: give at least 7 characters of the SHA: %w", sha, ferry.ErrConflict)
	}
	if actor == "" {
		return fmt.Errorf("promote needs an actor: %w", ferry.ErrForbidden)
	}
	now := time.Now()
	err = d.store.update(ctx, pipeline, func(st *pipelineState) error {
		es := st.env(env)
		if es.Paused {
			return fmt.Errorf("%s is paused; resume it first: %w", env, ferry.ErrConflict)
		}
		rev, ok := succeededIn(st.env(e.cfg.From), sha)
		if !ok {
			return fmt.Errorf("%s has not succeeded in %s: %w", short(sha), e.cfg.From, ferry.ErrConflict)
		}
		es.Requests = append(es.Requests, request{Revision: rev, Actor: actor, Time: now})
		es.audit(ferry.AuditEntry{Time: now, Actor: actor, Pipeline: pipeline, Environment: env, Action: "promote", Revision: rev.SHA})
		return nil
	})
	if err != nil {
		return err
	}
	d.enqueue(envKey{pipeline, env})
	return nil
}

// succeededIn finds a revision starting with sha that succeeded in es.
func succeededIn(es *envState, sha string) (ferry.Revision, bool) {
	if strings.HasPrefix(es.LastSucceeded.SHA, sha) {
		return es.LastSucceeded, true
	}
	for i := len(es.History) - 1; i >= 0; i-- {
		h := es.History[i]
		if h.Phase == ferry.PhaseSucceeded && strings.HasPrefix(h.Revision.SHA, sha) {
			return h.Revision, true
		}
	}
	return ferry.Revision{}, false
}

// SetPaused pauses or resumes an environment. A paused environment takes no
// new revisions; a promotion already applying or verifying there finishes.
func (d *Daemon) SetPaused(ctx context.Context, pipeline, env string, paused bool, actor string) error {
	if _, _, err := d.lookup(pipeline, env); err != nil {
		return err
	}
	if actor == "" {
		return fmt.Errorf("pause needs an actor: %w", ferry.ErrForbidden)
	}
	action := "resume"
	if paused {
		action = "pause"
	}
	now := time.Now()
	err := d.store.update(ctx, pipeline, func(st *pipelineState) error {
		es := st.env(env)
		es.Paused = paused
		es.audit(ferry.AuditEntry{Time: now, Actor: actor, Pipeline: pipeline, Environment: env, Action: action})
		return nil
	})
	if err != nil {
		return err
	}
	d.enqueue(envKey{pipeline, env})
	return nil
}

// Nudge asks for the pipeline's branch head to be read now (a verified
// webhook arrived). On the leader it wakes the poller at once; any replica
// also records it in the shared state, so the leader hears of it wherever
// the webhook landed. It never blocks for long and reports nothing: a
// webhook is only a hint.
func (d *Daemon) Nudge(pipeline string) {
	p, ok := d.pipelines[pipeline]
	if !ok {
		return
	}
	if d.IsLeader() {
		select {
		case p.nudge <- struct{}{}:
		default:
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.store.update(ctx, pipeline, func(st *pipelineState) error { st.Nudges++; return nil }); err != nil {
		d.log.Warn("recording a webhook nudge failed", "pipeline", pipeline, "err", err)
	}
}
