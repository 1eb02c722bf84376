package chat

import (
	"context"
	"slices"
	"sync"

	"github.com/ferry-gitops/ferry"
)

// MessageKey identifies the parent message of one revision of one pipeline.
type MessageKey struct {
	Pipeline string `json:"pipeline"`
	// Revision is the full commit SHA.
	Revision string `json:"revision"`
}

// String gives pipeline@sha, for logs.
func (k MessageKey) String() string { return k.Pipeline + "@" + k.Revision }

// MessageState is what the Slack notifier must remember about one revision's
// message to update it in place and to deliver each detail once. It holds
// references and short lines, not rendered messages, so it fits the
// reconciler's size-capped state.
type MessageState struct {
	Key     MessageKey `json:"key"`
	Channel string     `json:"channel"`
	// TS is the parent message's Slack timestamp, empty until it is posted.
	TS string `json:"ts,omitempty"`
	// Posting records that a post was attempted whose outcome is unknown
	// (written before the post): the next delivery looks the key up in the
	// channel's history before posting.
	Posting bool `json:"posting,omitempty"`
	// Subject and Author describe the commit in the parent's first line.
	Subject string `json:"subject,omitempty"`
	Author  string `json:"author,omitempty"`
	// Changed lists the first changed files; ChangedMore counts the rest.
	Changed     []string `json:"changed,omitempty"`
	ChangedMore int      `json:"changedMore,omitempty"`
	// Envs has one entry per environment, in the pipeline's order.
	Envs []EnvLine `json:"envs,omitempty"`
	// Superseded, when set, says which newer revision took this one's place.
	Superseded string `json:"superseded,omitempty"`
	// Replying is the id of a thread reply whose post was attempted with an
	// unknown outcome (written before the post): the next delivery of it
	// looks for it in the thread before posting, as Posting does for the
	// parent.
	Replying string `json:"replying,omitempty"`
	// Delivered holds the ids of thread replies already posted (the most
	// recent maxDelivered).
	Delivered []string `json:"delivered,omitempty"`
}

// EnvLine is what the parent message says about one environment.
type EnvLine struct {
	Name  string      `json:"name"`
	Phase ferry.Phase `json:"phase,omitempty"`
	// Status is the text after the name: "✅ 42s", "⏸ waiting for approval (1 of 1)".
	Status string `json:"status"`
	// AwaitingApproval shows the Approve and Reject buttons.
	AwaitingApproval bool `json:"awaitingApproval,omitempty"`
	// Decisions are the approvals and rejections so far, as shown:
	// "approved by @alice at 10:02".
	Decisions []string `json:"decisions,omitempty"`
}

// maxDelivered caps MessageState.Delivered; a revision's thread rarely holds
// more replies than this, and an old id only matters for a replayed event.
const maxDelivered = 200

// delivered reports whether the reply with id was posted already.
func (s *MessageState) delivered(id string) bool { return slices.Contains(s.Delivered, id) }

// markDelivered records a posted reply, dropping the oldest beyond the cap.
func (s *MessageState) markDelivered(id string) {
	s.Replying = ""
	s.Delivered = append(s.Delivered, id)
	if n := len(s.Delivered); n > maxDelivered {
		s.Delivered = slices.Clone(s.Delivered[n-maxDelivered:])
	}
}

// MessageStore keeps MessageState per key. The reconciler implements it on
// its durable state; MemoryStore serves tests and the console-only setup.
// Get reports found=false, not an error, for an unknown key.
type MessageStore interface {
	Get(ctx context.Context, key MessageKey) (state MessageState, found bool, err error)
	Put(ctx context.Context, state MessageState) error
}

// MemoryStore is a MessageStore in memory, safe for concurrent use. Its zero
// value is not usable; call NewMemoryStore.
type MemoryStore struct {
	mu     sync.Mutex
	states map[MessageKey]MessageState
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{states: map[MessageKey]MessageState{}}
}

// Get returns a copy of the state for key.
func (m *MemoryStore) Get(_ context.Context, key MessageKey) (MessageState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.states[key]
	return cloneState(s), ok, nil
}

// Put stores a copy of state under its key.
func (m *MemoryStore) Put(_ context.Context, state MessageState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[state.Key] = cloneState(state)
	return nil
}

// cloneState copies the slices so callers never share them with the store.
func cloneState(s MessageState) MessageState {
	s.Changed = slices.Clone(s.Changed)
	s.Delivered = slices.Clone(s.Delivered)
	envs := make([]EnvLine, len(s.Envs))
	for i, e := range s.Envs {
		e.Decisions = slices.Clone(e.Decisions)
		envs[i] = e
	}
	if s.Envs == nil {
		envs = nil
	}
	s.Envs = envs
	return s
}
