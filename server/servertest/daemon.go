package servertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// Daemon implements the operations server.Daemon declares over the story.
// It is safe for concurrent use.
type Daemon struct {
	cfg *config.Config

	mu       sync.Mutex
	statuses []ferry.EnvironmentStatus
	history  map[string][]ferry.Promotion
	// steps holds, per "pipeline/env", the phases its active promotion
	// still goes through, one per Status call.
	steps  map[string][]ferry.Phase
	writes []string
	audit  []ferry.AuditEntry
	ready  bool
	leader bool
	block  bool
	panics bool
	// outcome is the phase started promotions end in.
	outcome ferry.Phase
}

// NewDaemon returns the story's daemon for cfg (from Config): ready,
// standby, with shop/prod waiting for approval of ShaB.
func NewDaemon(cfg *config.Config) *Daemon {
	approval := ferry.GateResult{Gate: ferry.GateApproval, Verdict: ferry.VerdictPending, Reason: "waiting for approval (0 of 1)"}
	waiting := &ferry.Promotion{
		ID: "shop-prod-2", Pipeline: "shop", Environment: "prod", Revision: ferry.Revision{SHA: ShaB, Subject: "raise web replicas to 4"},
		Phase: ferry.PhaseWaiting, Reason: "waiting for approval (0 of 1)", Actor: "ferry",
		Gates: []ferry.GateResult{approval}, Created: T0.Add(-10 * time.Minute), Updated: T0.Add(-10 * time.Minute),
	}
	health := ferry.GateResult{
		Gate: "health", Verdict: ferry.VerdictPassed, Reason: "4 of 4 objects healthy after 42s",
		Figures: []ferry.Figure{{Name: "ready", Value: "4/4"}, {Name: "took", Value: "42s"}},
	}
	succeeded := func(env, id, sha string, at time.Time) ferry.Promotion {
		return ferry.Promotion{
			ID: id, Pipeline: "shop", Environment: env, Revision: ferry.Revision{SHA: sha}, Phase: ferry.PhaseSucceeded,
			Actor: "ferry", Gates: []ferry.GateResult{health}, Created: at, Updated: at.Add(time.Minute), Ended: at.Add(time.Minute),
		}
	}
	return &Daemon{
		cfg:     cfg,
		ready:   true,
		outcome: ferry.PhaseSucceeded,
		steps:   map[string][]ferry.Phase{},
		statuses: []ferry.EnvironmentStatus{
			// Out of config order on purpose: the server sorts.
			{Pipeline: "blog", Environment: "live", Current: ferry.Revision{SHA: ShaC}, Phase: ferry.PhaseSucceeded, Since: T0.Add(-50 * time.Hour)},
			{Pipeline: "shop", Environment: "prod", From: "staging", Current: ferry.Revision{SHA: ShaA}, Phase: ferry.PhaseWaiting,
				Since: T0.Add(-10 * time.Minute), WaitingFor: "approval (0 of 1)", Active: waiting},
			{Pipeline: "shop", Environment: "dev", Current: ferry.Revision{SHA: ShaB}, Phase: ferry.PhaseSucceeded, Since: T0.Add(-30 * time.Minute)},
			{Pipeline: "shop", Environment: "staging", From: "dev", Current: ferry.Revision{SHA: ShaB}, Phase: ferry.PhaseSucceeded, Since: T0.Add(-20*time.Minute - 5*time.Second)},
		},
		history: map[string][]ferry.Promotion{
			"shop/dev": {
				succeeded("dev", "shop-dev-0", ShaC, T0.Add(-3*time.Hour)),
				succeeded("dev", "shop-dev-1", ShaA, T0.Add(-2*time.Hour)),
				succeeded("dev", "shop-dev-2", ShaB, T0.Add(-31*time.Minute)),
			},
			"shop/staging": {
				succeeded("staging", "shop-staging-1", ShaA, T0.Add(-90*time.Minute)),
				succeeded("staging", "shop-staging-2", ShaB, T0.Add(-21*time.Minute)),
			},
			"shop/prod": {succeeded("prod", "shop-prod-1", ShaA, T0.Add(-1*time.Hour)), *waiting},
		},
	}
}

// SetReady sets what Ready reports.
func (d *Daemon) SetReady(v bool) { d.mu.Lock(); d.ready = v; d.mu.Unlock() }

// SetLeader sets what IsLeader reports.
func (d *Daemon) SetLeader(v bool) { d.mu.Lock(); d.leader = v; d.mu.Unlock() }

// SetPanics makes Status panic, for the server's recovery.
func (d *Daemon) SetPanics(v bool) { d.mu.Lock(); d.panics = v; d.mu.Unlock() }

// SetBlock makes Status wait until its context ends, for request deadlines.
func (d *Daemon) SetBlock(v bool) { d.mu.Lock(); d.block = v; d.mu.Unlock() }

// SetOutcome sets the phase promotions started from now on end in
// (Succeeded at first), such as RolledBack.
func (d *Daemon) SetOutcome(p ferry.Phase) { d.mu.Lock(); d.outcome = p; d.mu.Unlock() }

// Writes returns every write recorded, one line each, in order.
func (d *Daemon) Writes() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.writes)
}

// Status reports the statuses, first moving every started promotion one
// phase on.
func (d *Daemon) Status(ctx context.Context) ([]ferry.EnvironmentStatus, error) {
	d.mu.Lock()
	if d.panics {
		d.mu.Unlock()
		panic("status map corrupted")
	}
	if d.block {
		d.mu.Unlock()
		<-ctx.Done()
		return nil, fmt.Errorf("reading state: %w", ctx.Err())
	}
	defer d.mu.Unlock()
	for i := range d.statuses {
		d.advance(&d.statuses[i])
	}
	out := slices.Clone(d.statuses)
	for i := range out {
		if out[i].Active != nil {
			a := *out[i].Active
			out[i].Active = &a
		}
	}
	return out, nil
}

// advance moves st's active promotion to its next phase; a terminal phase
// ends it into the history.
func (d *Daemon) advance(st *ferry.EnvironmentStatus) {
	key := st.Pipeline + "/" + st.Environment
	steps := d.steps[key]
	if st.Active == nil || len(steps) == 0 {
		return
	}
	st.Active.Phase, d.steps[key] = steps[0], steps[1:]
	st.Active.Reason = ""
	st.Phase, st.WaitingFor = st.Active.Phase, ""
	if st.Active.Phase == ferry.PhaseVerifying {
		st.Active.Reason = "waiting for 4 objects to become healthy"
	}
	if st.Active.Phase == ferry.PhaseRolledBack {
		st.Active.Reason = "health: 2 of 4 objects unhealthy (ImagePullBackOff); rolled back to Helm revision 3"
	}
	if st.Active.Phase.IsTerminal() {
		st.Active.Ended = T0
	}
	d.replace(key, *st.Active)
	if st.Active.Phase.IsTerminal() {
		if st.Active.Phase == ferry.PhaseSucceeded {
			st.Current = st.Active.Revision
		}
		st.Active = nil
	}
}

// replace updates the promotion with p's ID in key's history.
func (d *Daemon) replace(key string, p ferry.Promotion) {
	h := d.history[key]
	for i := range h {
		if h[i].ID == p.ID {
			h[i] = p
		}
	}
}

// History returns up to limit promotions, oldest first as stored.
func (d *Daemon) History(_ context.Context, pipeline, env string, limit int) ([]ferry.Promotion, error) {
	if _, err := d.env(pipeline, env); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.history[pipeline+"/"+env]
	if len(h) > limit {
		h = h[len(h)-limit:]
	}
	return slices.Clone(h), nil
}

// Audit returns the writes recorded for env, newest first, as the
// reconciler does.
func (d *Daemon) Audit(_ context.Context, pipeline, env string, limit int) ([]ferry.AuditEntry, error) {
	if _, err := d.env(pipeline, env); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []ferry.AuditEntry
	for _, e := range slices.Backward(d.audit) {
		if e.Pipeline == pipeline && e.Environment == env && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// Decide applies the approver list and the waiting revision; an approval
// starts the promotion, a rejection ends it.
func (d *Daemon) Decide(_ context.Context, a ferry.Approval) error {
	e, err := d.env(a.Pipeline, a.Environment)
	if err != nil {
		return err
	}
	if e.Approval == nil || !slices.Contains(e.Approval.Approvers, a.Actor) {
		return fmt.Errorf("%w: %s is not an approver for %s", ferry.ErrForbidden, a.Actor, a.Environment)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := a.Pipeline + "/" + a.Environment
	for i := range d.statuses {
		st := &d.statuses[i]
		if st.Pipeline != a.Pipeline || st.Environment != a.Environment || st.Active == nil ||
			st.Active.Phase != ferry.PhaseWaiting || st.Active.Revision.SHA != a.Revision {
			continue
		}
		d.writes = append(d.writes, fmt.Sprintf("decide %s %s by %s via %s at %s rejected=%t reason=%q",
			key, a.Revision, a.Actor, a.Via, a.Time.UTC().Format(time.RFC3339), a.Rejected, a.Reason))
		action := "approve"
		if a.Rejected {
			action = "reject"
		}
		d.audit = append(d.audit, ferry.AuditEntry{Time: a.Time, Actor: a.Actor, Pipeline: a.Pipeline, Environment: a.Environment,
			Action: action, Revision: a.Revision, Detail: a.Reason})
		st.Active.Approvals = append(st.Active.Approvals, a)
		verdict := ferry.VerdictPassed
		d.steps[key] = []ferry.Phase{ferry.PhaseApplying, ferry.PhaseVerifying, d.outcome}
		if a.Rejected {
			verdict = ferry.VerdictFailed
			d.steps[key] = []ferry.Phase{ferry.PhaseRejected}
		}
		for i := range st.Active.Gates {
			if st.Active.Gates[i].Gate == ferry.GateApproval {
				st.Active.Gates[i].Verdict, st.Active.Gates[i].Reason = verdict, fmt.Sprintf("%s by %s", verdict, a.Actor)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s is not waiting for approval in %s", ferry.ErrConflict, ferry.Revision{SHA: a.Revision}.Short(), a.Environment)
}

// Promote starts a promotion of a revision that succeeded in the
// environment's upstream.
func (d *Daemon) Promote(_ context.Context, pipeline, env, sha, actor string) error {
	e, err := d.env(pipeline, env)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ok := false
	for _, p := range d.history[pipeline+"/"+e.From] {
		ok = ok || p.Phase == ferry.PhaseSucceeded && p.Revision.SHA == sha
	}
	if !ok {
		return fmt.Errorf("%w: %s has not succeeded in %s", ferry.ErrConflict, ferry.Revision{SHA: sha}.Short(), e.From)
	}
	key := pipeline + "/" + env
	d.writes = append(d.writes, fmt.Sprintf("promote %s %s by %s", key, sha, actor))
	d.audit = append(d.audit, ferry.AuditEntry{Time: T0, Actor: actor, Pipeline: pipeline, Environment: env, Action: "promote", Revision: sha})
	p := ferry.Promotion{
		ID: fmt.Sprintf("%s-%s-%d", pipeline, env, len(d.history[key])+1), Pipeline: pipeline, Environment: env,
		Revision: ferry.Revision{SHA: sha}, Phase: ferry.PhaseWaiting, Reason: "queued", Actor: actor, Created: T0, Updated: T0,
	}
	d.history[key] = append(d.history[key], p)
	for i := range d.statuses {
		if st := &d.statuses[i]; st.Pipeline == pipeline && st.Environment == env {
			st.Active, st.Phase = &p, p.Phase
		}
	}
	d.steps[key] = []ferry.Phase{ferry.PhaseApplying, ferry.PhaseVerifying, d.outcome}
	return nil
}

// SetPaused records a pause or resume and reflects it in the status.
func (d *Daemon) SetPaused(_ context.Context, pipeline, env string, paused bool, actor string) error {
	if _, err := d.env(pipeline, env); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes = append(d.writes, fmt.Sprintf("paused %s/%s %t by %s", pipeline, env, paused, actor))
	action := "resume"
	if paused {
		action = "pause"
	}
	d.audit = append(d.audit, ferry.AuditEntry{Time: T0, Actor: actor, Pipeline: pipeline, Environment: env, Action: action})
	for i := range d.statuses {
		if st := &d.statuses[i]; st.Pipeline == pipeline && st.Environment == env {
			st.Paused = paused
		}
	}
	return nil
}

// Nudge records the nudge.
func (d *Daemon) Nudge(pipeline string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes = append(d.writes, "nudge "+pipeline)
}

// Ready reports what SetReady set (true at first).
func (d *Daemon) Ready() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.ready }

// IsLeader reports what SetLeader set (false at first).
func (d *Daemon) IsLeader() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.leader }

func (d *Daemon) env(pipeline, env string) (*config.Environment, error) {
	p, err := d.cfg.Pipeline(pipeline)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ferry.ErrNotFound, err)
	}
	e, err := p.Environment(env)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ferry.ErrNotFound, err)
	}
	return e, nil
}
