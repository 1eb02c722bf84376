package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/slack-go/slack"
)

// maxInteractionBody bounds a click's request body. Slack includes the
// clicked message, which ferry keeps well under this.
const maxInteractionBody = 1 << 20

// Decider records an approval or rejection that came in through chat. The
// reconciler implements it: it checks the approver list and the revision
// still waiting. The returned error's text is shown to the person who
// clicked ("you are not an approver for prod"), so it must be fit for them.
type Decider interface {
	Decide(ctx context.Context, a ferry.Approval) error
}

// InteractionOptions configure the interactions handler.
type InteractionOptions struct {
	// SigningSecret is the Slack app's signing secret.
	SigningSecret string
	// Users maps Slack users to ferry identities (config chat.users). A key
	// is a Slack user ID (U024BE7LH) or an e-mail address; an ID key is
	// tried first. For a clicker whose ID is not a key, while e-mail keys
	// exist, the handler asks Slack's users.info for the account's e-mail
	// and matches it case-insensitively. That needs Token, and the app's
	// users:read and users:read.email scopes (without the latter Slack
	// leaves the address out). A lookup is reused for EmailCacheTTL.
	Users map[string]string
	// Token is the bot token (xoxb-…), used only for users.info; required
	// when Users has e-mail keys.
	Token string
	// APIURL is the Web API base URL; empty means Slack's.
	APIURL string
	// EmailCacheTTL is how long a looked-up e-mail address is reused, so a
	// burst of clicks makes one users.info call; 0 means 10 minutes.
	EmailCacheTTL time.Duration
	Decider       Decider
	// Now is the clock for the replay window; nil means time.Now.
	Now func() time.Time
	// DecideTimeout bounds deciding and answering one click; 0 means 30s.
	DecideTimeout time.Duration
	// HTTPClient posts answers to response_url and carries users.info
	// calls; nil means a client with a 10s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Interactions serves Slack's interactivity requests (mounted at
// /slack/interactions). It verifies the signature over the raw body before
// reading anything in it, answers 200 at once (Slack allows 3 seconds), then
// in the background maps the clicker to a ferry identity (looking up their
// e-mail with users.info if need be), decides, and tells the clicker the
// outcome through the payload's response_url.
type Interactions struct {
	secret  []byte
	users   map[string]string // by Slack user ID
	emails  map[string]string // by lower-cased e-mail address
	lookup  *emailCache       // nil without e-mail keys
	decider Decider
	now     func() time.Time
	timeout time.Duration
	http    *http.Client
	log     *slog.Logger
	pending sync.WaitGroup
}

// NewInteractions checks the options and returns the handler.
func NewInteractions(opts InteractionOptions) (*Interactions, error) {
	if opts.SigningSecret == "" {
		return nil, errors.New("slack interactions: no signing secret (chat.slack.signingSecretFile)")
	}
	if opts.Decider == nil {
		return nil, errors.New("slack interactions: no decider")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DecideTimeout <= 0 {
		opts.DecideTimeout = 30 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.EmailCacheTTL <= 0 {
		opts.EmailCacheTTL = defaultEmailCacheTTL
	}
	h := &Interactions{
		secret: []byte(opts.SigningSecret), users: map[string]string{}, emails: map[string]string{},
		decider: opts.Decider, now: opts.Now, timeout: opts.DecideTimeout, http: opts.HTTPClient, log: opts.Logger,
	}
	for key, who := range opts.Users {
		if !strings.Contains(key, "@") {
			h.users[key] = who
			continue
		}
		lower := strings.ToLower(key)
		if prev, dup := h.emails[lower]; dup && prev != who {
			return nil, fmt.Errorf("slack interactions: chat.users maps e-mail address %s to both %s and %s", lower, prev, who)
		}
		h.emails[lower] = who
	}
	if len(h.emails) > 0 {
		if opts.Token == "" {
			return nil, errors.New("slack interactions: chat.users has e-mail keys but there is no bot token to look them up with users.info (chat.slack.tokenFile)")
		}
		// No OptionRetry, as for the notifier: a click is answered once.
		clientOpts := []slack.Option{slack.OptionHTTPClient(opts.HTTPClient)}
		if opts.APIURL != "" {
			clientOpts = append(clientOpts, slack.OptionAPIURL(opts.APIURL))
		}
		client := slack.New(opts.Token, clientOpts...)
		h.lookup = newEmailCache(opts.EmailCacheTTL, opts.Now, func(ctx context.Context, userID string) (string, error) {
			u, err := client.GetUserInfoContext(ctx, userID)
			if err != nil {
				return "", err
			}
			return u.Profile.Email, nil
		})
	}
	return h, nil
}

// Wait blocks until every accepted click has been decided and answered; for
// shutdown and tests.
func (h *Interactions) Wait() { h.pending.Wait() }

// ServeHTTP answers 405 for other methods, 413 for an oversized body, 401 for
// a bad or stale signature, 400 for a payload it cannot read, and 200 for
// everything else (interactions ferry does not handle included).
func (h *Interactions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInteractionBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	if err := verifySignature(h.secret, h.now(), r.Header, body); err != nil {
		h.log.WarnContext(r.Context(), "refused slack interaction", "err", err, "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	click, err := parseClick(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	if click == nil {
		return
	}
	h.pending.Add(1)
	go func() {
		defer h.pending.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
		defer cancel()
		h.decide(ctx, *click)
	}()
}

// click is an Approve or Reject press on a ferry message.
type click struct {
	userID      string
	value       buttonValue
	reject      bool
	responseURL string
}

// parseClick reads a verified body; it returns nil for interactions that are
// not ferry's buttons.
func parseClick(body []byte) (*click, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("interaction body is not a form: %w", err)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		return nil, fmt.Errorf("interaction payload is not JSON: %w", err)
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		return nil, nil
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID != actionApprove && a.ActionID != actionReject {
			continue
		}
		var v buttonValue
		if err := json.Unmarshal([]byte(a.Value), &v); err != nil || v.Pipeline == "" || v.Environment == "" || v.Revision == "" {
			return nil, fmt.Errorf("button value %q does not name a pipeline, environment and revision", a.Value)
		}
		return &click{userID: cb.User.ID, value: v, reject: a.ActionID == actionReject, responseURL: cb.ResponseURL}, nil
	}
	return nil, nil
}

// decide maps the clicker to a ferry identity, hands the decision to the
// Decider and answers the clicker privately.
func (h *Interactions) decide(ctx context.Context, c click) {
	v := c.value
	short := ferry.Revision{SHA: v.Revision}.Short()
	log := h.log.With("pipeline", v.Pipeline, "env", v.Environment, "revision", v.Revision, "slackUser", c.userID)
	// An empty answer means the clicker is mapped; otherwise it says why not.
	actor, answer := h.identify(ctx, c.userID, log)
	if answer == "" {
		a := ferry.Approval{
			Actor: actor, Pipeline: v.Pipeline, Environment: v.Environment, Revision: v.Revision,
			Time: h.now(), Via: "slack", Rejected: c.reject,
		}
		if err := h.decider.Decide(ctx, a); err != nil {
			answer = err.Error()
			log.InfoContext(ctx, "slack decision refused", "actor", actor, "err", err)
		} else {
			verb := "approved"
			if c.reject {
				verb = "rejected"
			}
			answer = fmt.Sprintf("You %s %s for %s.", verb, short, v.Environment)
			log.InfoContext(ctx, "slack decision recorded", "actor", actor, "rejected", c.reject)
		}
	}
	if c.responseURL == "" {
		return
	}
	msg := &slack.WebhookMessage{Text: answer, ResponseType: slack.ResponseTypeEphemeral}
	if err := slack.PostWebhookCustomHTTPContext(ctx, c.responseURL, h.http, msg); err != nil {
		// The response_url is a capability: log the cause, not the URL.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		log.WarnContext(ctx, "could not answer slack click", "err", err)
	}
}

// identify maps a Slack user to a ferry identity: by user ID, else by the
// account's e-mail when chat.users has e-mail keys. When it cannot, answer
// is what to tell the clicker.
func (h *Interactions) identify(ctx context.Context, userID string, log *slog.Logger) (actor, answer string) {
	if actor, ok := h.users[userID]; ok {
		return actor, ""
	}
	unmapped := fmt.Sprintf("Your Slack account (%s) is not mapped to a ferry user; ask an admin to add it to chat.users.", userID)
	if h.lookup == nil {
		log.WarnContext(ctx, "click from unmapped slack user")
		return "", unmapped
	}
	lctx, cancel := context.WithTimeout(ctx, h.lookupTimeout())
	defer cancel()
	email, err := h.lookup.email(lctx, userID)
	switch {
	case err != nil:
		log.WarnContext(ctx, "could not look up the e-mail of a slack user", "err", err)
		return "", fmt.Sprintf("Nothing was decided: ferry could not look up the e-mail address of your Slack account (%s) "+
			"to map it to a ferry user (users.info: %s). The Slack app needs the users:read and users:read.email scopes; "+
			"ask an admin to grant them or to add your user ID to chat.users.", userID, lookupProblem(err))
	case email == "":
		log.WarnContext(ctx, "slack gave no e-mail for a slack user; is the users:read.email scope missing?")
		return "", fmt.Sprintf("Nothing was decided: Slack did not give ferry the e-mail address of your Slack account (%s), "+
			"so it cannot be mapped to a ferry user. The Slack app needs the users:read.email scope; "+
			"ask an admin to grant it or to add your user ID to chat.users.", userID)
	}
	if actor, ok := h.emails[strings.ToLower(email)]; ok {
		log.DebugContext(ctx, "slack user mapped by e-mail", "actor", actor)
		return actor, ""
	}
	log.WarnContext(ctx, "click from unmapped slack user (neither user ID nor e-mail in chat.users)")
	return "", unmapped
}

// lookupTimeout bounds one users.info call, leaving time in the click's
// budget to answer the clicker.
func (h *Interactions) lookupTimeout() time.Duration {
	return min(maxLookupTimeout, h.timeout/2)
}

// lookupProblem says briefly why users.info failed, for the clicker.
func lookupProblem(err error) string {
	var uerr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "Slack did not answer in time"
	case errors.As(err, &uerr):
		return uerr.Err.Error()
	}
	return err.Error()
}
