package promote

import (
	"time"

	"github.com/ferry-gitops/ferry"
)

// State is what promote knows of one environment of one pipeline. The
// reconciler stores it (it is plain data) and hands it back to [Rules.Next].
type State struct {
	Pipeline    string `json:"pipeline"`
	Environment string `json:"environment"`

	// Current is the revision the environment runs: the last one that
	// succeeded, or, after a failure it was held on, the failed one.
	Current ferry.Revision `json:"current"`
	// CurrentDigest is the render digest of what runs; empty when unknown
	// (after a failed rollback), which makes the next candidate apply.
	CurrentDigest string `json:"currentDigest,omitempty"`
	// Held is true while Current failed verification and was left in place
	// (onFailure: hold). A held environment never short-cuts a candidate with
	// the same digest: what runs is known to be bad.
	Held bool `json:"held,omitempty"`

	// LastSucceeded is the revision that most recently succeeded here, and
	// when: what the next environment takes as its candidate.
	LastSucceeded   ferry.Revision `json:"lastSucceeded"`
	LastSucceededAt time.Time      `json:"lastSucceededAt,omitzero"`

	// Active is the one promotion the environment is working on (Waiting at
	// the head, Applying, Verifying or RollingBack), nil when idle.
	Active *ferry.Promotion `json:"active,omitempty"`
	// Queue holds candidates that arrived while Active was applying,
	// verifying or rolling back, oldest first.
	Queue []ferry.Promotion `json:"queue,omitempty"`
	// History holds ended promotions, oldest first, capped by
	// Rules.HistoryLimit.
	History []ferry.Promotion `json:"history,omitempty"`
	// Seq numbers the promotions created here, for their IDs.
	Seq int `json:"seq"`
}

// clone copies the state deeply enough that Next never changes its input.
func (s State) clone() State {
	c := s
	if s.Active != nil {
		a := clonePromotion(*s.Active)
		c.Active = &a
	}
	c.Queue = make([]ferry.Promotion, len(s.Queue))
	for i, p := range s.Queue {
		c.Queue[i] = clonePromotion(p)
	}
	c.History = append([]ferry.Promotion(nil), s.History...)
	return c
}

func clonePromotion(p ferry.Promotion) ferry.Promotion {
	p.Approvals = append([]ferry.Approval(nil), p.Approvals...)
	p.Gates = append([]ferry.GateResult(nil), p.Gates...)
	return p
}

// EventKind says what happened to an environment.
type EventKind string

// Event kinds that drive [Rules.Next].
const (
	// EventCandidate offers Revision (rendered to Digest for this
	// environment) by Actor: "ferry" for automatic promotions.
	EventCandidate EventKind = "Candidate"
	// EventAdmitted carries the results of the rendered-object admission
	// gates (policy, quota fit) for Revision, after an ActionAdmit.
	EventAdmitted EventKind = "Admitted"
	// EventApproval carries one approval or rejection.
	EventApproval EventKind = "Approval"
	// EventTick says time has passed: a wake-up came due, a window opened
	// or closed, or a periodic resync.
	EventTick EventKind = "Tick"
	// EventApplied is the result of an ActionApply: HelmRevision, or Err.
	EventApplied EventKind = "Applied"
	// EventVerified carries the verification gate results (health, load
	// test) for Revision, after an ActionVerify.
	EventVerified EventKind = "Verified"
	// EventRolledBack is the result of an ActionRollback: nil Err on success.
	EventRolledBack EventKind = "RolledBack"
	// EventTimeout says the step Revision is in took longer than allowed.
	EventTimeout EventKind = "Timeout"
	// EventRestart is sent once after ferry (re)starts or becomes leader,
	// so the active promotion resumes where its recorded phase says.
	EventRestart EventKind = "Restart"
)

// Event is one input to [Rules.Next]. Time is "now" for the transition:
// Next reads no clock.
type Event struct {
	Kind EventKind
	Time time.Time
	// Revision is the revision the event is about (every kind but Tick,
	// Restart and Approval, which carries its own).
	Revision ferry.Revision
	// Digest is the candidate's render digest for this environment.
	Digest string
	// Actor started a candidate; empty means "ferry".
	Actor    string
	Approval ferry.Approval
	Gates    []ferry.GateResult
	// HelmRevision is the release revision an apply created.
	HelmRevision int
	// Err is the failure of an apply or rollback.
	Err error
}

// ActionKind says what the reconciler must do.
type ActionKind string

// Actions that [Rules.Next] asks for.
const (
	// ActionAdmit: run the policy and quota-fit gates on Promotion's render
	// and answer with EventAdmitted.
	ActionAdmit ActionKind = "Admit"
	// ActionApply: apply Promotion's render (deploy skips an unchanged
	// digest) and answer with EventApplied.
	ActionApply ActionKind = "Apply"
	// ActionVerify: run the verification gates and answer with EventVerified.
	ActionVerify ActionKind = "Verify"
	// ActionRollback: roll the release back to its last good Helm revision
	// (that of RollbackTo) and answer with EventRolledBack.
	ActionRollback ActionKind = "Rollback"
	// ActionNotify: tell chat and history Event.
	ActionNotify ActionKind = "Notify"
	// ActionWake: send EventTick at At (a window opening, a retry).
	ActionWake ActionKind = "Wake"
)

// Action is one thing the reconciler must do after persisting the state.
type Action struct {
	Kind ActionKind
	// Promotion is a copy of the promotion the action is for.
	Promotion ferry.Promotion
	// RollbackTo is the last good revision, for ActionRollback.
	RollbackTo ferry.Revision
	// At is when to wake, for ActionWake.
	At time.Time
	// Event is what to tell, for ActionNotify.
	Event *ferry.Event
}
