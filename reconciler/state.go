package reconciler

import (
	"slices"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/chat"
	"github.com/ferry-gitops/ferry/promote"
)

// stateVersion is the shape of pipelineState; bump on an incompatible change.
const stateVersion = 1

// Caps that keep one pipeline's state far below a ConfigMap's 1 MiB.
const (
	// maxMessages is how many revisions' chat message states are kept.
	maxMessages = 30
	// maxAudit is how many audit entries each environment keeps.
	maxAudit = 50
	// maxOutbox is how many undelivered chat events are kept; beyond it the
	// oldest are dropped and counted (see outbox.go).
	maxOutbox = 300
)

// pipelineState is everything ferry keeps about one pipeline, stored as JSON
// in its ConfigMap.
type pipelineState struct {
	Version  int    `json:"version"`
	Pipeline string `json:"pipeline"`
	// Leader is the identity of the replica allowed to act. A new leader
	// writes itself here before acting; a replica that finds another name
	// here must not call Helm.
	Leader string `json:"leader,omitempty"`
	// Head is the branch head last seen, the first environment's offer, and
	// HeadSeen when it was first seen.
	Head     ferry.Revision `json:"head"`
	HeadSeen time.Time      `json:"headSeen,omitzero"`
	// Nudges counts webhook nudges recorded by any replica; the leader
	// re-reads the head when it changes.
	Nudges int                  `json:"nudges,omitempty"`
	Envs   map[string]*envState `json:"envs"`
	// Messages are the chat notifier's per-revision message states.
	Messages []chat.MessageState `json:"messages,omitempty"`
	// Outbox holds chat events not yet delivered, oldest first.
	Outbox    []outboxItem `json:"outbox,omitempty"`
	OutboxSeq int          `json:"outboxSeq,omitempty"`
	// Dropped counts outbox events dropped because an outage outlasted
	// maxOutbox; told in chat once delivery works again.
	Dropped int `json:"dropped,omitempty"`
}

// envState is one environment: promote's state and what only the
// reconciler knows.
type envState struct {
	promote.State
	Paused bool `json:"paused,omitempty"`
	// Decisions are approvals and rejections recorded by any replica that the
	// leader has not yet fed to the state machine.
	Decisions []ferry.Approval `json:"decisions,omitempty"`
	// Requests are manual promotions not yet fed to the state machine.
	Requests []request `json:"requests,omitempty"`
	// Drift is a fingerprint of the drift last reported, so each drift is
	// told once.
	Drift string `json:"drift,omitempty"`
	// Audit records every write made through the daemon's operations.
	Audit []ferry.AuditEntry `json:"audit,omitempty"`
}

// request is a manual promotion of a revision by an actor.
type request struct {
	Revision ferry.Revision `json:"revision"`
	Actor    string         `json:"actor"`
	Time     time.Time      `json:"time"`
}

// outboxItem is one chat event waiting for delivery.
type outboxItem struct {
	ID    int         `json:"id"`
	Event ferry.Event `json:"event"`
}

func newPipelineState(pipeline string) *pipelineState {
	return &pipelineState{Version: stateVersion, Pipeline: pipeline, Envs: map[string]*envState{}}
}

// env returns the state of environment name, creating it empty.
func (s *pipelineState) env(name string) *envState {
	if s.Envs == nil {
		s.Envs = map[string]*envState{}
	}
	e, ok := s.Envs[name]
	if !ok {
		e = &envState{State: promote.State{Pipeline: s.Pipeline, Environment: name}}
		s.Envs[name] = e
	}
	return e
}

// audit appends an entry, keeping the newest maxAudit.
func (e *envState) audit(a ferry.AuditEntry) {
	e.Audit = append(e.Audit, a)
	if over := len(e.Audit) - maxAudit; over > 0 {
		e.Audit = slices.Clone(e.Audit[over:])
	}
}

// message returns the index of the message state for key, or -1.
func (s *pipelineState) message(key chat.MessageKey) int {
	return slices.IndexFunc(s.Messages, func(m chat.MessageState) bool { return m.Key == key })
}

// putMessage stores m, most recent last, keeping the newest maxMessages.
func (s *pipelineState) putMessage(m chat.MessageState) {
	if i := s.message(m.Key); i >= 0 {
		s.Messages = slices.Delete(s.Messages, i, i+1)
	}
	s.Messages = append(s.Messages, m)
	if over := len(s.Messages) - maxMessages; over > 0 {
		s.Messages = slices.Clone(s.Messages[over:])
	}
}
