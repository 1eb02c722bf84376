package promote

import (
	"fmt"
	"strings"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// actorFerry starts the promotions nobody asked for by hand.
const actorFerry = "ferry"

// Next is the promotion state machine of one environment: it returns the state
// after e and what the reconciler must do, in order. It reads no clock and does
// no I/O, and it never changes s. Events about a revision the environment is
// not working on (a late gate result, an approval after a newer candidate
// arrived) change nothing; a stray approval is answered with a notice.
func (r Rules) Next(s State, e Event) (State, []Action) {
	t := &transition{rules: r, s: s.clone(), e: e}
	switch e.Kind {
	case EventCandidate:
		t.candidate()
	case EventAdmitted:
		t.admitted()
	case EventApproval:
		t.approval()
	case EventTick:
		t.tick()
	case EventApplied:
		t.applied()
	case EventVerified:
		t.verified()
	case EventRolledBack:
		t.rolledBack()
	case EventTimeout:
		t.timeout()
	case EventRestart:
		t.restart()
	}
	return t.s, t.actions
}

// transition is the working copy of one call to Next.
type transition struct {
	rules   Rules
	s       State
	e       Event
	actions []Action
}

func (t *transition) do(kind ActionKind, p *ferry.Promotion) {
	t.actions = append(t.actions, Action{Kind: kind, Promotion: clonePromotion(*p)})
}

// active returns the active promotion when it is about sha and in phase.
func (t *transition) active(sha string, phase ferry.Phase) *ferry.Promotion {
	a := t.s.Active
	if a == nil || a.Revision.SHA != sha || a.Phase != phase {
		return nil
	}
	return a
}

func (t *transition) candidate() {
	sha := t.e.Revision.SHA
	if sha == "" {
		return
	}
	if a := t.s.Active; a != nil && a.Revision.SHA == sha {
		return
	}
	for _, q := range t.s.Queue {
		if q.Revision.SHA == sha {
			return
		}
	}
	t.s.Seq++
	actor := t.e.Actor
	if actor == "" {
		actor = actorFerry
	}
	p := ferry.Promotion{
		ID:          fmt.Sprintf("%s-%s-%d", t.s.Pipeline, t.s.Environment, t.s.Seq),
		Pipeline:    t.s.Pipeline,
		Environment: t.s.Environment,
		Revision:    t.e.Revision,
		Digest:      t.e.Digest,
		Phase:       ferry.PhaseWaiting,
		Actor:       actor,
		Created:     t.e.Time,
		Updated:     t.e.Time,
	}
	switch a := t.s.Active; {
	case a == nil:
		t.activate(p)
	case a.Phase == ferry.PhaseWaiting:
		// Nothing has been applied for the waiting one: the newer candidate
		// takes its place, and must win its own approvals.
		t.end(a, ferry.PhaseSuperseded, "superseded by "+p.Revision.Short(), true)
		t.activate(p)
	default:
		p.Reason = fmt.Sprintf("queued behind %s (%s)", a.Revision.Short(), strings.ToLower(string(a.Phase)))
		t.s.Queue = append(t.s.Queue, p)
		t.notify(&t.s.Queue[len(t.s.Queue)-1])
	}
}

// activate makes p the active promotion. A render identical to what runs
// succeeds at once, silently: nothing would change.
func (t *transition) activate(p ferry.Promotion) {
	t.s.Active = &p
	a := t.s.Active
	if !t.s.Held && a.Digest != "" && a.Digest == t.s.CurrentDigest {
		t.succeed(a, fmt.Sprintf("render unchanged in %s (digest %s): nothing to apply", t.s.Environment, a.Digest), false)
		return
	}
	t.admit(a)
}

func (t *transition) admit(a *ferry.Promotion) {
	a.Reason = "checking policy and quota"
	a.Updated = t.e.Time
	t.do(ActionAdmit, a)
}

func (t *transition) admitted() {
	a := t.active(t.e.Revision.SHA, ferry.PhaseWaiting)
	if a == nil || !a.Admitted.IsZero() {
		return
	}
	for _, g := range t.e.Gates {
		setGate(a, g)
	}
	if failed := gateReasons(t.e.Gates, ferry.VerdictFailed); failed != "" {
		t.end(a, ferry.PhaseFailed, "admission failed: "+failed, true)
		return
	}
	if undecided := gateReasons(t.e.Gates, ferry.VerdictError, ferry.VerdictPending); undecided != "" {
		at := t.e.Time.Add(t.rules.retryAfter())
		a.Reason = fmt.Sprintf("admission undecided: %s; retrying at %s", undecided, at.UTC().Format(timeLayout))
		a.Updated = t.e.Time
		t.actions = append(t.actions, Action{Kind: ActionWake, At: at})
		return
	}
	a.Admitted = t.e.Time
	t.advance(a)
}

// advance moves an admitted, waiting promotion on as far as its approvals
// and windows allow.
func (t *transition) advance(a *ferry.Promotion) {
	if t.rules.Approval != nil {
		g := ApprovalGate(*t.rules.Approval, a.Revision.SHA, a.Approvals)
		g.Started, g.Ended = t.e.Time, t.e.Time
		setGate(a, g)
		switch g.Verdict {
		case ferry.VerdictFailed:
			t.end(a, ferry.PhaseRejected, g.Reason, true)
			return
		case ferry.VerdictPending:
			t.wait(a, g.Reason)
			return
		}
	}
	if len(t.rules.Windows) > 0 {
		g := WindowGate(t.rules.Windows, t.e.Time)
		setGate(a, g)
		if g.Verdict != ferry.VerdictPassed {
			t.wait(a, g.Reason)
			if !g.Until.IsZero() {
				t.actions = append(t.actions, Action{Kind: ActionWake, At: g.Until})
			}
			return
		}
	}
	a.Phase = ferry.PhaseApplying
	a.Reason = "applying"
	a.Updated = t.e.Time
	t.do(ActionApply, a)
	t.notify(a)
}

// wait keeps a waiting and tells chat only when the reason changed, so a
// resync does not repeat itself.
func (t *transition) wait(a *ferry.Promotion, reason string) {
	if a.Reason == reason {
		return
	}
	a.Reason = reason
	a.Updated = t.e.Time
	t.notify(a)
}

func (t *transition) approval() {
	ap := t.e.Approval
	p, queued := t.findWaiting(ap.Revision)
	switch {
	case p == nil:
		t.tell(ap, fmt.Sprintf("%s by %s ignored: %s is not waiting in %s", decision(ap), ap.Actor, short(ap.Revision), t.s.Environment))
		return
	case t.rules.Approval == nil:
		t.tell(ap, fmt.Sprintf("%s by %s ignored: %s needs no approval", decision(ap), ap.Actor, t.s.Environment))
		return
	case !isApprover(*t.rules.Approval, ap.Actor):
		t.tell(ap, fmt.Sprintf("%s by %s ignored: %s is not an approver of %s", decision(ap), ap.Actor, ap.Actor, t.s.Environment))
		return
	}
	for _, prior := range p.Approvals {
		if prior.Actor == ap.Actor && prior.Rejected == ap.Rejected {
			return
		}
	}
	p.Approvals = append(p.Approvals, ap)
	p.Updated = t.e.Time
	t.tell(ap, "")
	if ap.Rejected {
		reason := "rejected by " + ap.Actor
		if ap.Reason != "" {
			reason += ": " + ap.Reason
		}
		// The recorded approval gate says so too, not the Pending it had.
		g := ApprovalGate(*t.rules.Approval, p.Revision.SHA, p.Approvals)
		g.Started, g.Ended = t.e.Time, t.e.Time
		setGate(p, g)
		if queued {
			t.endQueued(p, ferry.PhaseRejected, reason)
			return
		}
		t.end(p, ferry.PhaseRejected, reason, true)
		return
	}
	if !queued && !p.Admitted.IsZero() {
		t.advance(p)
	}
}

// findWaiting finds the waiting promotion of sha: the active one or a queued one.
func (t *transition) findWaiting(sha string) (p *ferry.Promotion, queued bool) {
	if sha == "" {
		return nil, false
	}
	if a := t.s.Active; a != nil && a.Revision.SHA == sha {
		if a.Phase != ferry.PhaseWaiting {
			return nil, false
		}
		return a, false
	}
	for i := range t.s.Queue {
		if t.s.Queue[i].Revision.SHA == sha {
			return &t.s.Queue[i], true
		}
	}
	return nil, false
}

func (t *transition) tick() {
	a := t.s.Active
	if a == nil || a.Phase != ferry.PhaseWaiting {
		return
	}
	if a.Admitted.IsZero() {
		t.admit(a)
		return
	}
	t.advance(a)
}

func (t *transition) applied() {
	a := t.active(t.e.Revision.SHA, ferry.PhaseApplying)
	if a == nil {
		return
	}
	if t.e.Err != nil {
		t.fail(a, "apply failed: "+t.e.Err.Error())
		return
	}
	a.HelmRevision = t.e.HelmRevision
	a.Phase = ferry.PhaseVerifying
	a.Reason = "verifying"
	a.Updated = t.e.Time
	t.do(ActionVerify, a)
	t.notify(a)
}

// verified ends verification. Anything but Passed from every gate fails it:
// a gate that could not decide has not shown the revision is good.
func (t *transition) verified() {
	a := t.active(t.e.Revision.SHA, ferry.PhaseVerifying)
	if a == nil {
		return
	}
	for _, g := range t.e.Gates {
		setGate(a, g)
	}
	if bad := gateReasons(t.e.Gates, ferry.VerdictFailed, ferry.VerdictError, ferry.VerdictPending); bad != "" {
		t.fail(a, "verification failed: "+bad)
		return
	}
	t.succeed(a, "verified: "+gateReasons(t.e.Gates, ferry.VerdictPassed), true)
}

// fail handles a failed apply or verification as onFailure says. With
// nothing good to go back to (a first install) it holds.
func (t *transition) fail(a *ferry.Promotion, reason string) {
	if t.rules.OnFailure == config.OnFailureRollback && t.s.Current.SHA != "" {
		a.Phase = ferry.PhaseRollingBack
		a.Reason = fmt.Sprintf("%s; rolling back to %s", reason, t.s.Current.Short())
		a.Updated = t.e.Time
		t.actions = append(t.actions, Action{Kind: ActionRollback, Promotion: clonePromotion(*a), RollbackTo: t.s.Current})
		t.notify(a)
		return
	}
	t.s.Current, t.s.CurrentDigest, t.s.Held = a.Revision, a.Digest, true
	t.end(a, ferry.PhaseFailed, reason+"; held", true)
}

func (t *transition) rolledBack() {
	a := t.active(t.e.Revision.SHA, ferry.PhaseRollingBack)
	if a == nil {
		return
	}
	if t.e.Err != nil {
		t.rollbackFailed(a, "rollback failed: "+t.e.Err.Error())
		return
	}
	reason, _, _ := strings.Cut(a.Reason, "; rolling back to ")
	t.s.Held = false
	t.end(a, ferry.PhaseRolledBack, fmt.Sprintf("%s; rolled back to %s", reason, t.s.Current.Short()), true)
}

// rollbackFailed leaves the environment in an unknown state: the digest is
// forgotten so the next candidate applies, and it is held.
func (t *transition) rollbackFailed(a *ferry.Promotion, why string) {
	if reason, _, _ := strings.Cut(a.Reason, "; rolling back to "); reason != "" {
		why = reason + "; " + why
	}
	t.s.CurrentDigest, t.s.Held = "", true
	t.end(a, ferry.PhaseFailed, why, true)
}

func (t *transition) timeout() {
	a := t.s.Active
	if a == nil || a.Revision.SHA != t.e.Revision.SHA {
		return
	}
	switch a.Phase {
	case ferry.PhaseApplying:
		t.fail(a, "apply timed out")
	case ferry.PhaseVerifying:
		t.fail(a, "verification timed out")
	case ferry.PhaseRollingBack:
		t.rollbackFailed(a, "rollback timed out")
	}
}

// restart resumes the recorded phase. Applying is applied again: the intent
// was written before Helm was called, so Helm may or may not have run, and
// deploy's apply is safe to repeat (unchanged digest, pending-release
// recovery).
func (t *transition) restart() {
	a := t.s.Active
	if a == nil {
		t.startNext()
		return
	}
	switch a.Phase {
	case ferry.PhaseWaiting:
		if a.Admitted.IsZero() {
			t.admit(a)
			return
		}
		a.Reason = "" // so the resumed wait is told again
		t.advance(a)
	case ferry.PhaseApplying:
		t.do(ActionApply, a)
	case ferry.PhaseVerifying:
		t.do(ActionVerify, a)
	case ferry.PhaseRollingBack:
		t.actions = append(t.actions, Action{Kind: ActionRollback, Promotion: clonePromotion(*a), RollbackTo: t.s.Current})
	}
}

func (t *transition) succeed(a *ferry.Promotion, reason string, tell bool) {
	t.s.Current, t.s.CurrentDigest, t.s.Held = a.Revision, a.Digest, false
	t.s.LastSucceeded, t.s.LastSucceededAt = a.Revision, t.e.Time
	t.end(a, ferry.PhaseSucceeded, reason, tell)
}

// end finishes the active promotion a, records it and starts the next.
func (t *transition) end(a *ferry.Promotion, phase ferry.Phase, reason string, tell bool) {
	a.Phase, a.Reason, a.Updated, a.Ended = phase, reason, t.e.Time, t.e.Time
	if tell {
		t.notify(a)
	}
	t.record(*a)
	t.s.Active = nil
	t.startNext()
}

// endQueued finishes a queued promotion p without touching the active one.
func (t *transition) endQueued(p *ferry.Promotion, phase ferry.Phase, reason string) {
	p.Phase, p.Reason, p.Updated, p.Ended = phase, reason, t.e.Time, t.e.Time
	t.notify(p)
	done := *p
	t.s.Queue = removeSHA(t.s.Queue, done.Revision.SHA)
	t.record(done)
}

// startNext runs the newest queued candidate when the environment is idle;
// the older queued ones end Superseded by it.
func (t *transition) startNext() {
	if t.s.Active != nil || len(t.s.Queue) == 0 {
		return
	}
	newest := t.s.Queue[len(t.s.Queue)-1]
	older := t.s.Queue[:len(t.s.Queue)-1]
	t.s.Queue = nil
	for i := range older {
		o := &older[i]
		o.Phase, o.Reason, o.Updated, o.Ended = ferry.PhaseSuperseded, "superseded by "+newest.Revision.Short(), t.e.Time, t.e.Time
		t.notify(o)
		t.record(*o)
	}
	newest.Updated = t.e.Time
	t.activate(newest)
}

func (t *transition) record(p ferry.Promotion) {
	t.s.History = append(t.s.History, p)
	if over := len(t.s.History) - t.rules.historyLimit(); over > 0 {
		t.s.History = append([]ferry.Promotion(nil), t.s.History[over:]...)
	}
}

func (t *transition) notify(p *ferry.Promotion) {
	c := clonePromotion(*p)
	t.actions = append(t.actions, Action{Kind: ActionNotify, Promotion: c, Event: &ferry.Event{
		Kind:        ferry.EventPhaseChanged,
		Time:        t.e.Time,
		Pipeline:    t.s.Pipeline,
		Environment: t.s.Environment,
		Revision:    c.Revision,
		Promotion:   &c,
		Gates:       c.Gates,
	}})
}

// tell reports an approval; a non-empty problem says why it did not count.
func (t *transition) tell(ap ferry.Approval, problem string) {
	ev := &ferry.Event{
		Kind:        ferry.EventApproval,
		Time:        t.e.Time,
		Pipeline:    t.s.Pipeline,
		Environment: t.s.Environment,
		Revision:    ferry.Revision{SHA: ap.Revision},
		Approval:    &ap,
	}
	if problem != "" {
		ev.Kind, ev.Message = ferry.EventError, problem
	}
	t.actions = append(t.actions, Action{Kind: ActionNotify, Event: ev})
}

// setGate records g on p, replacing an earlier result of the same gate.
func setGate(p *ferry.Promotion, g ferry.GateResult) {
	for i := range p.Gates {
		if p.Gates[i].Gate == g.Gate {
			p.Gates[i] = g
			return
		}
	}
	p.Gates = append(p.Gates, g)
}

// gateReasons joins "gate: reason" of the results with one of verdicts.
func gateReasons(gates []ferry.GateResult, verdicts ...ferry.Verdict) string {
	var out []string
	for _, g := range gates {
		for _, v := range verdicts {
			if g.Verdict == v {
				out = append(out, g.Gate+": "+g.Reason)
			}
		}
	}
	return strings.Join(out, "; ")
}

func removeSHA(ps []ferry.Promotion, sha string) []ferry.Promotion {
	out := ps[:0:0]
	for _, p := range ps {
		if p.Revision.SHA != sha {
			out = append(out, p)
		}
	}
	return out
}

func decision(ap ferry.Approval) string {
	if ap.Rejected {
		return "rejection"
	}
	return "approval"
}

func short(sha string) string { return ferry.Revision{SHA: sha}.Short() }
