package reconciler

import (
	"context"
	"slices"

	"github.com/ferry-gitops/ferry/chat"
)

// messageStore is the chat notifier's MessageStore kept in each pipeline's
// durable state, so a new process updates the same Slack message instead of
// posting another.
type messageStore struct{ store *store }

// Get returns the message state of key from its pipeline's state.
func (m *messageStore) Get(ctx context.Context, key chat.MessageKey) (chat.MessageState, bool, error) {
	st, _, err := m.store.load(ctx, key.Pipeline)
	if err != nil {
		return chat.MessageState{}, false, err
	}
	if i := st.message(key); i >= 0 {
		return st.Messages[i], true, nil
	}
	return chat.MessageState{}, false, nil
}

// Put saves the message state into its pipeline's state.
func (m *messageStore) Put(ctx context.Context, ms chat.MessageState) error {
	return m.store.update(ctx, ms.Key.Pipeline, func(st *pipelineState) error {
		var old chat.MessageState
		if i := st.message(ms.Key); i >= 0 {
			old = st.Messages[i]
		}
		if ms.TS != "" && old.TS == "" {
			crashpoint(CrashChatPosted)
		}
		if len(ms.Delivered) > 0 && !slices.Contains(old.Delivered, ms.Delivered[len(ms.Delivered)-1]) {
			crashpoint(CrashChatReplyPosted)
		}
		st.putMessage(ms)
		return nil
	})
}
