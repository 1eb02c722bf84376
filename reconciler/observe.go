package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/promote"
)

// observation is what a step found beyond the state machine's own state.
type observation struct {
	events []promote.Event
	// notes are chat events that do not go through the state machine.
	notes []ferry.Event
	// correct is the render to re-apply because the live release drifted
	// from it (drift: correct); done after the step's write.
	correct *ferry.Rendered
}

// observe turns what is due for environment e into state machine events:
// a restart, decisions and manual promotions recorded by any replica (taken
// out of es), the candidate its offer makes, and a tick with a drift check.
// It changes es only by taking what it fed on, so the caller's conditional
// write records both or neither.
func (d *Daemon) observe(ctx context.Context, p *pipelineRun, e *envRun, st *pipelineState, es *envState, f stepFlags) (observation, error) {
	now := time.Now()
	var o observation
	if f.restart {
		o.events = append(o.events, promote.Event{Kind: promote.EventRestart, Time: now})
	}
	for _, a := range es.Decisions {
		o.events = append(o.events, promote.Event{Kind: promote.EventApproval, Time: now, Approval: a})
	}
	es.Decisions = nil
	if !es.Paused {
		for _, r := range es.Requests {
			ev, err := d.candidate(ctx, p, e, es, r.Revision, r.Actor, now)
			if err != nil {
				return o, err
			}
			o.events = append(o.events, ev)
		}
		es.Requests = nil
		if offer, ok := offerFor(e, st); ok {
			if rev, ok := promote.Candidate(es.State, offer); ok {
				ev, err := d.candidate(ctx, p, e, es, rev, "", now)
				if err != nil {
					return o, err
				}
				o.events = append(o.events, ev)
			}
		}
	}
	if f.tick {
		o.events = append(o.events, promote.Event{Kind: promote.EventTick, Time: now})
		if err := d.checkDrift(ctx, p, e, es, &o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// offerFor is what environment e is offered: the branch head for the first,
// else what most recently succeeded upstream.
func offerFor(e *envRun, st *pipelineState) (promote.Offer, bool) {
	if e.cfg.From == "" {
		return promote.Offer{Revision: st.Head, Since: st.HeadSeen}, st.Head.SHA != ""
	}
	up, ok := st.Envs[e.cfg.From]
	if !ok {
		return promote.Offer{}, false
	}
	return promote.OfferFrom(up.State)
}

// candidate describes rev for e (its files changed since what e runs) with
// its render digest. A render that fails on the revision's content leaves
// the digest empty: admission reports the failure once.
func (d *Daemon) candidate(ctx context.Context, p *pipelineRun, e *envRun, es *envState, rev ferry.Revision, actor string, now time.Time) (promote.Event, error) {
	_, full, err := p.snapshot(ctx, rev.SHA, es.Current.SHA)
	if err != nil && es.Current.SHA != "" {
		_, full, err = p.snapshot(ctx, rev.SHA, "")
	}
	if err != nil {
		return promote.Event{}, err
	}
	ev := promote.Event{Kind: promote.EventCandidate, Time: now, Revision: full, Actor: actor}
	r, err := p.render(ctx, e, rev.SHA)
	var re *renderError
	switch {
	case errors.As(err, &re):
	case err != nil:
		return promote.Event{}, err
	default:
		ev.Digest = r.Digest
	}
	return ev, nil
}

// checkDrift compares an idle environment's live release with the render of
// what it runs. Each distinct drift is told once; with drift: correct the
// render is re-applied at every check that still finds it, so a correction
// that failed is tried again at the next resync.
func (d *Daemon) checkDrift(ctx context.Context, p *pipelineRun, e *envRun, es *envState, o *observation) error {
	if es.Active != nil || es.Held || es.CurrentDigest == "" {
		return nil
	}
	r, err := p.render(ctx, e, es.Current.SHA)
	if err != nil {
		var re *renderError
		if errors.As(err, &re) {
			return nil
		}
		return err
	}
	diff, err := e.releaser.Drift(ctx, r)
	if err != nil {
		return err
	}
	if diff == "" {
		es.Drift = ""
		return nil
	}
	correct := e.cfg.Drift == config.DriftCorrect
	if correct {
		o.correct = r
	}
	sum := sha256.Sum256([]byte(diff))
	fp := hex.EncodeToString(sum[:8])
	if fp == es.Drift {
		return nil
	}
	es.Drift = fp
	msg := "live objects differ from revision " + es.Current.Short()
	if correct {
		msg += "; re-applying it (drift: correct)"
	}
	o.notes = append(o.notes, ferry.Event{
		Kind: ferry.EventDrift, Time: time.Now(), Pipeline: p.cfg.Name, Environment: e.cfg.Name,
		Revision: es.Current, Message: msg, Diff: diff,
	})
	return nil
}

// correctDrift re-applies r, what the environment runs, and marks the new
// Helm revision good: its content is the revision that passed verification.
func (d *Daemon) correctDrift(ctx context.Context, log *slog.Logger, e *envRun, rev ferry.Revision, r *ferry.Rendered) error {
	hctx, cancel := helmContext(ctx)
	defer cancel()
	helmRev, err := e.releaser.Reapply(hctx, r, rev)
	if err != nil {
		return fmt.Errorf("re-apply %s to %s to correct drift: %w", rev.Short(), e.cfg.Name, err)
	}
	if err := e.releaser.MarkGood(hctx, helmRev); err != nil {
		return fmt.Errorf("mark Helm revision %d of %s good: %w", helmRev, e.cfg.Name, err)
	}
	log.InfoContext(ctx, "drift corrected", "revision", rev.Short(), "helmRevision", helmRev)
	return nil
}
