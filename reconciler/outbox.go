package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/chat"
)

// coalesceAbove is the outbox length from which an event about a promotion
// replaces that promotion's undelivered earlier phase changes: during a chat
// outage only the latest status of each promotion matters, and the thread
// details (failures, gate figures) are kept.
const coalesceAbove = 50

// maxEventText caps an outboxed event's diff and message: chat shows no
// more than this in one block, and it keeps maxOutbox events of the
// largest kind within a ConfigMap.
const maxEventText = 3000

// enqueue records ev for delivery. Events without a revision are not told:
// chat threads hang off a revision.
func (s *pipelineState) enqueue(ev ferry.Event) bool {
	if ev.Revision.SHA == "" {
		return false
	}
	ev.Diff, ev.Message = truncate(ev.Diff), truncate(ev.Message)
	if len(s.Outbox) >= coalesceAbove && ev.Kind == ferry.EventPhaseChanged && ev.Promotion != nil {
		id := ev.Promotion.ID
		s.Outbox = slices.DeleteFunc(s.Outbox, func(it outboxItem) bool {
			p := it.Event.Promotion
			return it.Event.Kind == ferry.EventPhaseChanged && p != nil && p.ID == id && !p.Phase.IsTerminal()
		})
	}
	s.OutboxSeq++
	s.Outbox = append(s.Outbox, outboxItem{ID: s.OutboxSeq, Event: ev})
	if over := len(s.Outbox) - maxOutbox; over > 0 {
		s.Dropped += over
		s.Outbox = slices.Clone(s.Outbox[over:])
	}
	return true
}

// kickOutbox wakes the pipeline's deliverer.
func (p *pipelineRun) kickOutbox() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// deliver drains the pipeline's outbox in order until ctx ends: each event
// is handed to the notifier and removed from the state once delivered.
// A failed delivery is retried with timing.chatRetry's backoff; the notifier
// shows an event delivered twice (after a crash between delivery and
// removal) only once. An event chat refuses for good is dropped and logged.
func (d *Daemon) deliver(ctx context.Context, p *pipelineRun) {
	// A chat outage is reported once per kind of failure, not per retry.
	trouble := &problem{log: d.log, msg: "chat delivery failed; will retry", recovered: "chat delivery works again"}
	for ctx.Err() == nil {
		delivered, err := d.deliverOne(ctx, p)
		switch {
		case err != nil && ctx.Err() != nil:
		case err != nil:
			wait := backoff(d.cfg.Timing.ChatRetry.Initial, d.cfg.Timing.ChatRetry.Max, trouble.failures+1)
			trouble.failed(ctx, err, "pipeline", p.cfg.Name, "retry_in", wait)
			sleep(ctx, wait)
		case delivered:
			trouble.ok(ctx, "pipeline", p.cfg.Name)
		default:
			select {
			case <-ctx.Done():
			case <-p.kick:
			case <-time.After(d.cfg.Timing.Resync):
			}
		}
	}
}

// deliverBatch is the most events delivered before the outbox records
// their removal in one write. A crash in between delivers them again, which
// the notifier shows once.
const deliverBatch = 10

// deliverOne delivers the oldest undelivered events, up to deliverBatch,
// in order, and removes the delivered ones from the outbox in one write.
// It reports whether it delivered any.
func (d *Daemon) deliverOne(ctx context.Context, p *pipelineRun) (bool, error) {
	st, _, err := d.store.load(ctx, p.cfg.Name)
	if err != nil {
		return false, err
	}
	d.metrics.outbox(p.cfg.Name, len(st.Outbox))
	if len(st.Outbox) == 0 {
		return false, nil
	}
	done := map[int]bool{}
	var last ferry.Event
	var notifyErr error
	for _, item := range st.Outbox[:min(len(st.Outbox), deliverBatch)] {
		crashpoint(CrashChatBeforePost)
		err := d.notifier.Notify(ctx, item.Event)
		var perm *chat.PermanentError
		if errors.As(err, &perm) {
			d.log.ErrorContext(ctx, "chat refused an event for good; dropping it", "pipeline", p.cfg.Name,
				"event", item.Event.Kind, "revision", item.Event.Revision.Short(), "err", err)
		} else if err != nil {
			notifyErr = err
			break
		}
		crashpoint(CrashChatDelivered)
		done[item.ID] = true
		last = item.Event
	}
	if len(done) == 0 {
		return false, notifyErr
	}
	err = d.store.update(ctx, p.cfg.Name, func(st *pipelineState) error {
		st.Outbox = slices.DeleteFunc(st.Outbox, func(it outboxItem) bool { return done[it.ID] })
		// Chat works again: say in the thread just delivered to how many
		// events an outage cost.
		if st.Dropped > 0 {
			st.enqueue(ferry.Event{Kind: ferry.EventError, Time: time.Now(), Pipeline: last.Pipeline, Revision: last.Revision,
				Message: fmt.Sprintf("%d chat events were dropped while chat was unreachable; `ferry history` has every promotion", st.Dropped)})
			st.Dropped = 0
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return true, notifyErr
}

// truncate cuts s to maxEventText bytes on a rune boundary, marking the cut.
func truncate(s string) string {
	if len(s) <= maxEventText {
		return s
	}
	cut := maxEventText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "\n… (truncated)"
}

// drain delivers until the outbox is empty or delivery fails; for --once.
func (d *Daemon) drain(ctx context.Context, p *pipelineRun) error {
	for {
		delivered, err := d.deliverOne(ctx, p)
		if err != nil || !delivered {
			return err
		}
	}
}

// backoff is initial doubled per failure after the first, capped at max.
func backoff(initial, max time.Duration, failures int) time.Duration {
	d := initial
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
