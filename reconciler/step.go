package reconciler

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/promote"
)

// stepFlags are what is due for an environment besides what its state says.
type stepFlags struct {
	// restart: the first step of a leadership term resumes the recorded phase.
	restart bool
	// tick: a wake-up or the periodic resync came due.
	tick bool
}

// reconcile runs steps of environment k until it waits for something outside
// itself: each step reads the state, feeds what it observed and what the
// last action produced to the state machine, writes the new state (with the
// chat events to tell) conditionally on the version it read, and only then
// acts. A conflicting write means another replica or worker wrote first: the
// step is decided again on the fresh state, and if the fence names another
// leader, nothing more is done (errDeposed).
func (d *Daemon) reconcile(ctx context.Context, k envKey) error {
	crashpoint(pointReconcile)
	p := d.pipelines[k.pipeline]
	e := p.env(k.env)
	if e == nil {
		return fmt.Errorf("unknown environment %s", k)
	}
	log := d.log.With("pipeline", k.pipeline, "environment", k.env)
	// results are outcomes of actions, carried until a write records them.
	var results []promote.Event
	var notes []ferry.Event
	// interrupted is an action's error, returned once the results of the
	// actions before it are recorded.
	var interrupted error
	for {
		// Once ctx has ended (ferry stopping, or the lease lost), what the
		// last action did is still recorded, on a short context of its own,
		// and nothing more is observed or done.
		sctx, stopping := ctx, ctx.Err() != nil
		if stopping {
			if len(results) == 0 && len(notes) == 0 {
				return ctx.Err()
			}
			var cancel context.CancelFunc
			sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
			defer cancel()
		}
		st, rv, err := d.store.load(sctx, k.pipeline)
		if err != nil {
			return err
		}
		if st.Leader != d.identity {
			return fmt.Errorf("%s: %w (%q)", k, errDeposed, st.Leader)
		}
		es := st.env(k.env)
		before, _ := json.Marshal(es)
		outboxBefore := st.OutboxSeq
		prevSucceeded := es.LastSucceeded.SHA

		var flags stepFlags
		var obs observation
		if !stopping {
			flags = d.peekFlags(k)
			if obs, err = d.observe(ctx, p, e, st, es, flags); err != nil {
				return err
			}
		}
		events := append(append([]promote.Event(nil), results...), obs.events...)
		s, actions := es.State, []promote.Action(nil)
		for _, ev := range events {
			var a []promote.Action
			s, a = e.rules.Next(s, ev)
			actions = append(actions, a...)
		}
		ended := endedSince(es.State, s)
		es.State = s
		for _, n := range append(notes, obs.notes...) {
			st.enqueue(n)
		}
		told := map[string]bool{}
		for _, a := range actions {
			if a.Kind == promote.ActionNotify && a.Event != nil {
				st.enqueue(*a.Event)
				told[a.Promotion.ID] = true
			}
		}
		for _, pr := range ended {
			// A render unchanged here succeeds without a word from the state
			// machine; the revision's status line still shows it.
			if !told[pr.ID] {
				st.enqueue(ferry.Event{Kind: ferry.EventPhaseChanged, Time: pr.Ended, Pipeline: pr.Pipeline,
					Environment: pr.Environment, Revision: pr.Revision, Promotion: &pr})
			}
		}
		after, _ := json.Marshal(es)
		if bytes.Equal(before, after) && st.OutboxSeq == outboxBefore && !acting(actions) && obs.correct == nil {
			d.clearFlags(k, flags)
			for _, a := range actions {
				if a.Kind == promote.ActionWake {
					d.wakeAt(k, a.At)
				}
			}
			return nil
		}
		// An action on the cluster is preceded by a write even when the
		// state is unchanged (a restart resuming Applying): the write,
		// conditional on the version read, is the fence that proves this
		// replica still leads.
		if d.beforeIntent != nil {
			d.beforeIntent(k)
		}
		if _, err := d.store.save(sctx, st, rv); errors.Is(err, errStale) {
			continue
		} else if err != nil {
			return err
		}
		d.clearFlags(k, flags)
		results, notes = nil, nil
		if st.OutboxSeq != outboxBefore {
			p.kickOutbox()
		}
		for _, pr := range ended {
			d.metrics.ended(pr)
			log.InfoContext(ctx, "promotion ended", "revision", pr.Revision.Short(), "promotion", pr.ID, "phase", pr.Phase, "reason", pr.Reason)
		}
		if es.LastSucceeded.SHA != prevSucceeded {
			for _, down := range e.downstream {
				d.enqueue(envKey{k.pipeline, down})
			}
		}
		if obs.correct != nil && !stopping {
			if err := d.correctDrift(ctx, log, e, es.Current, obs.correct); err != nil {
				return err
			}
		}
		if stopping || interrupted != nil {
			d.setFlags(k, stepFlags{restart: true})
			return cmp.Or(interrupted, ctx.Err())
		}
		done := map[string]bool{}
		for _, a := range actions {
			// Two events of one step may ask for the same action (a
			// candidate and a tick both asking for admission): do it once.
			id := string(a.Kind) + "/" + a.Promotion.ID
			if a.Kind != promote.ActionNotify && a.Kind != promote.ActionWake && done[id] {
				continue
			}
			done[id] = true
			ev, n, err := d.perform(ctx, log, p, e, es.State, a, k)
			if err != nil {
				// The intent is recorded: the next attempt resumes it.
				// What the earlier actions did is recorded first.
				d.setFlags(k, stepFlags{restart: true})
				if len(results) == 0 && len(notes) == 0 {
					return err
				}
				interrupted = err
				break
			}
			if ev != nil {
				results = append(results, *ev)
			}
			notes = append(notes, n...)
		}
		if len(results) == 0 && len(notes) == 0 {
			return nil
		}
	}
}

// perform carries out one action of the state machine. Acting actions whose
// promotion is no longer the active one (a later event in the same step
// replaced it) are skipped.
func (d *Daemon) perform(ctx context.Context, log *slog.Logger, p *pipelineRun, e *envRun, s promote.State, a promote.Action, k envKey) (*promote.Event, []ferry.Event, error) {
	switch a.Kind {
	case promote.ActionNotify:
		return nil, nil, nil
	case promote.ActionWake:
		d.wakeAt(k, a.At)
		return nil, nil, nil
	}
	if s.Active == nil || s.Active.ID != a.Promotion.ID {
		return nil, nil, nil
	}
	log = log.With("revision", a.Promotion.Revision.Short(), "promotion", a.Promotion.ID)
	log.InfoContext(ctx, "step", "action", a.Kind, "phase", s.Active.Phase)
	ev, notes, err := d.act(ctx, p, e, s, a)
	if err != nil {
		log.WarnContext(ctx, "step interrupted; will resume", "action", a.Kind, "err", err)
		return nil, nil, err
	}
	ev.Time = time.Now()
	return &ev, notes, nil
}

// acting reports whether any action reaches the cluster or Git.
func acting(actions []promote.Action) bool {
	for _, a := range actions {
		if a.Kind != promote.ActionNotify && a.Kind != promote.ActionWake {
			return true
		}
	}
	return false
}

// endedSince lists the promotions that reached history between two states.
func endedSince(before, after promote.State) []ferry.Promotion {
	seen := map[string]bool{}
	for _, h := range before.History {
		seen[h.ID] = true
	}
	var out []ferry.Promotion
	for _, h := range after.History {
		if !seen[h.ID] {
			out = append(out, h)
		}
	}
	return out
}
