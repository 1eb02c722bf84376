package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/slack-go/slack"
)

// SlackOptions configure the Slack notifier. The reconciler fills them from
// config's chat.slack and timing.chatRetry.
type SlackOptions struct {
	// Token is the bot token (xoxb-…). It is sent to Slack and nowhere else.
	Token string
	// Channel is the channel ID (C0123ABCD); chat.update needs the ID, not a name.
	Channel string
	// APIURL is the Web API base URL; empty means Slack's.
	APIURL string
	// Store keeps the per-revision message state; nil means a MemoryStore,
	// which forgets across restarts.
	Store MessageStore
	// Environments gives each pipeline's environments in order, so a parent
	// lists every environment from the start; unknown ones are appended as
	// events name them.
	Environments map[string][]string
	Retry        Backoff
	// RequestTimeout bounds one Web API call; 0 means 10s.
	RequestTimeout time.Duration
	// Location is the time zone of "approved by @x at 10:02"; nil means UTC.
	Location *time.Location
	// HTTPClient carries the calls; nil means a new client with RequestTimeout.
	HTTPClient *http.Client
	// Sleep waits between retries; nil means a real timer.
	Sleep  Sleeper
	Logger *slog.Logger
}

// Metadata event types that mark ferry's messages, so that after an
// ambiguous failure ferry can find what it posted.
const (
	metadataParent = "ferry_revision"
	metadataReply  = "ferry_detail"
)

// historyLimit is how far back the lookup after an ambiguous post reads.
const historyLimit = 200

// isChannelID reports whether s looks like a Slack conversation ID (public
// C…, private G…, direct D…) rather than a name.
func isChannelID(s string) bool {
	if len(s) < 3 || !strings.ContainsRune("CGD", rune(s[0])) {
		return false
	}
	for _, r := range s[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Slack is the Slack notifier. It is safe for concurrent use; deliveries are
// serialised so a revision's updates reach Slack in the order they happened.
type Slack struct {
	client  *slack.Client
	channel string
	store   MessageStore
	envs    map[string][]string
	loc     *time.Location
	retry   retrier
	log     *slog.Logger
	mu      sync.Mutex
}

// NewSlack checks the options and returns the notifier. It does not call
// Slack; Check does.
func NewSlack(opts SlackOptions) (*Slack, error) {
	if opts.Token == "" {
		return nil, errors.New("slack notifier: no bot token (chat.slack.tokenFile)")
	}
	if !isChannelID(opts.Channel) {
		return nil, fmt.Errorf("slack notifier: channel %q is not a channel ID: give the ID (C0123ABCD) from the channel's details, not its name", opts.Channel)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: opts.RequestTimeout}
	}
	if opts.Store == nil {
		opts.Store = NewMemoryStore()
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// No OptionRetry: slack-go's retry re-sends after connection errors,
	// which duplicates posts; delivery retries itself, with lookups.
	clientOpts := []slack.Option{slack.OptionHTTPClient(opts.HTTPClient)}
	if opts.APIURL != "" {
		clientOpts = append(clientOpts, slack.OptionAPIURL(opts.APIURL))
	}
	return &Slack{
		client:  slack.New(opts.Token, clientOpts...),
		channel: opts.Channel,
		store:   opts.Store,
		envs:    opts.Environments,
		loc:     opts.Location,
		retry:   retrier{backoff: opts.Retry.withDefaults(), sleep: opts.Sleep, log: opts.Logger},
		log:     opts.Logger,
	}, nil
}

// Check verifies the token with auth.test, for start-up and readiness.
func (s *Slack) Check(ctx context.Context) error {
	if _, err := s.client.AuthTestContext(ctx); err != nil {
		if kind, _ := classify(err); kind == failPermanent {
			return permanent("check slack token", err)
		}
		return fmt.Errorf("check slack token: %w", err)
	}
	return nil
}

// Notify brings the revision's parent message up to date with ev (posting it
// first if needed) and posts the event's details in its thread. A
// *PermanentError means Slack refused for a reason an operator must fix.
func (s *Slack) Notify(ctx context.Context, ev ferry.Event) error {
	if ev.Pipeline == "" || ev.Revision.SHA == "" {
		return fmt.Errorf("slack notify %s: event needs a pipeline and a revision SHA", ev.Kind)
	}
	key := MessageKey{Pipeline: ev.Pipeline, Revision: ev.Revision.SHA}
	s.mu.Lock()
	defer s.mu.Unlock()

	st, found, err := s.store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("slack notify %s: read message state: %w", key, err)
	}
	if !found {
		st = MessageState{Key: key, Channel: s.channel}
	}
	next := applyEvent(st, ev, s.envs[key.Pipeline], s.loc)
	if err := s.syncParent(ctx, st, &next); err != nil {
		return fmt.Errorf("slack notify %s: %w", key, err)
	}
	if r, ok := threadReply(ev); ok && !next.delivered(r.id) {
		lookFirst := next.Replying == r.id
		next.Replying = r.id
		if err := s.save(ctx, next); err != nil {
			return fmt.Errorf("slack notify %s: %w", key, err)
		}
		if err := s.postReply(ctx, next, r, lookFirst); err != nil {
			return fmt.Errorf("slack notify %s: %w", key, err)
		}
		next.markDelivered(r.id)
		if err := s.store.Put(ctx, next); err != nil {
			return fmt.Errorf("slack notify %s: save message state: %w", key, err)
		}
	}
	return nil
}

// syncParent posts the parent when it has no ts yet, else updates it when
// its rendering changed, and saves the state.
func (s *Slack) syncParent(ctx context.Context, prev MessageState, next *MessageState) error {
	blocks, text := parentMessage(*next)
	if next.TS == "" {
		return s.postParent(ctx, next, blocks, text)
	}
	oldBlocks, oldText := parentMessage(prev)
	if sameBlocks(oldBlocks, blocks) && oldText == text {
		return s.save(ctx, *next)
	}
	if err := s.update(ctx, *next, blocks, text); err != nil {
		return err
	}
	return s.save(ctx, *next)
}

// postParent posts the parent message once: the intent is saved first, and
// after an ambiguous failure (or a restart with the intent saved) the
// channel's history is searched for the message's metadata before posting
// again. A message found that way is brought up to date.
func (s *Slack) postParent(ctx context.Context, st *MessageState, blocks []slack.Block, text string) error {
	lookFirst := st.Posting
	st.Posting = true
	if err := s.save(ctx, *st); err != nil {
		return err
	}
	meta := slack.SlackMetadata{EventType: metadataParent, EventPayload: map[string]any{
		"pipeline": st.Key.Pipeline, "revision": st.Key.Revision,
	}}
	found := false
	post := func(ctx context.Context) error {
		_, ts, err := s.client.PostMessageContext(ctx, st.Channel,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...), slack.MsgOptionMetadata(meta))
		if err == nil {
			st.TS = ts
		}
		return err
	}
	lookup := func(ctx context.Context) (bool, error) {
		ts, err := s.findParent(ctx, st.Channel, st.Key)
		if ts != "" {
			st.TS, found = ts, true
		}
		return ts != "", err
	}
	if err := s.retry.do(ctx, "post revision message", post, lookup, lookFirst); err != nil {
		return err
	}
	st.Posting = false
	if found {
		s.log.InfoContext(ctx, "found revision message posted by an earlier attempt", "key", st.Key.String(), "ts", st.TS)
		if err := s.update(ctx, *st, blocks, text); err != nil {
			return err
		}
	}
	return s.save(ctx, *st)
}

// update replaces the parent's content; repeating it is harmless.
func (s *Slack) update(ctx context.Context, st MessageState, blocks []slack.Block, text string) error {
	return s.retry.do(ctx, "update revision message", func(ctx context.Context) error {
		_, _, _, err := s.client.UpdateMessageContext(ctx, st.Channel, st.TS,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	}, nil, false)
}

// postReply posts one thread reply, marked with its id in metadata; after an
// ambiguous failure, or first when lookFirst says an earlier process may
// have posted it, the thread is searched for the id before posting.
func (s *Slack) postReply(ctx context.Context, st MessageState, r reply, lookFirst bool) error {
	meta := slack.SlackMetadata{EventType: metadataReply, EventPayload: map[string]any{
		"pipeline": st.Key.Pipeline, "revision": st.Key.Revision, "reply": r.id,
	}}
	post := func(ctx context.Context) error {
		_, _, err := s.client.PostMessageContext(ctx, st.Channel, slack.MsgOptionTS(st.TS),
			slack.MsgOptionText(r.text, false), slack.MsgOptionBlocks(r.blocks...), slack.MsgOptionMetadata(meta))
		return err
	}
	lookup := func(ctx context.Context) (bool, error) {
		return s.findReply(ctx, st, r.id)
	}
	return s.retry.do(ctx, "post thread reply", post, lookup, lookFirst)
}

// findParent searches the channel's recent history for the parent of key.
func (s *Slack) findParent(ctx context.Context, channel string, key MessageKey) (string, error) {
	h, err := s.client.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel, Limit: historyLimit, IncludeAllMetadata: true,
	})
	if err != nil {
		return "", err
	}
	for _, m := range h.Messages {
		p := m.Metadata.EventPayload
		if m.Metadata.EventType == metadataParent && p["pipeline"] == key.Pipeline && p["revision"] == key.Revision {
			return m.Timestamp, nil
		}
	}
	return "", nil
}

// findReply searches the parent's thread for the reply with id.
func (s *Slack) findReply(ctx context.Context, st MessageState, id string) (bool, error) {
	msgs, _, _, err := s.client.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: st.Channel, Timestamp: st.TS, Limit: 1000, IncludeAllMetadata: true,
	})
	if err != nil {
		return false, err
	}
	for _, m := range msgs {
		if m.Metadata.EventType == metadataReply && m.Metadata.EventPayload["reply"] == id {
			return true, nil
		}
	}
	return false, nil
}

func (s *Slack) save(ctx context.Context, st MessageState) error {
	if err := s.store.Put(ctx, st); err != nil {
		return fmt.Errorf("save message state: %w", err)
	}
	return nil
}
