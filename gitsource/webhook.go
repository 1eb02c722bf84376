package gitsource

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Provider names the Git host whose webhook format a handler speaks.
type Provider string

// Supported webhook providers.
const (
	ProviderGitHub  Provider = "github"
	ProviderGitLab  Provider = "gitlab"
	ProviderGitea   Provider = "gitea"
	ProviderGeneric Provider = "generic"
)

// MaxWebhookBody bounds a webhook body; GitHub caps its own payloads at
// 25 MB, but a push to one branch of a deployment repository is a few KiB.
const MaxWebhookBody = 1 << 20

// WebhookOptions configure one webhook endpoint.
type WebhookOptions struct {
	Provider Provider
	// Secret is the shared secret: the HMAC key, or for GitLab the token
	// itself. Required.
	Secret []byte
	// Branch is the tracked branch's short name; only pushes to
	// refs/heads/<Branch> nudge.
	Branch string
	// Nudge is called for an accepted push, typically Source.Nudge. It must
	// not block.
	Nudge func()
	// Logger receives one record per delivery; nil discards them.
	Logger *slog.Logger
}

// NewWebhookHandler returns the http.Handler for push webhooks of one
// provider. It verifies the signature over the raw body before parsing
// anything and answers:
//
//   - 401 for a missing or wrong signature (nothing else happens),
//   - 413 for a body over MaxWebhookBody, 405 for a method other than POST,
//     400 for a signed body that is not the provider's JSON,
//   - 202 for a push to refs/heads/<Branch>, after calling Nudge,
//   - 200 "pong" for a ping, and 200 "ignored: ..." for everything else: other
//     refs, other events, and a push that deletes the branch (which is logged
//     as a warning; the last revision stays current).
//
// The payload's commit is never used: a Git webhook has no signed timestamp,
// so it may be a replay. The nudged watcher reads the head from the server.
func NewWebhookHandler(opts WebhookOptions) (http.Handler, error) {
	var errs []error
	p, ok := providers[opts.Provider]
	if !ok {
		errs = append(errs, fmt.Errorf("webhook provider %q: want github, gitlab, gitea or generic", opts.Provider))
	}
	if len(opts.Secret) == 0 {
		errs = append(errs, errors.New("webhook secret: required"))
	}
	if opts.Branch == "" {
		errs = append(errs, errors.New("webhook branch: required"))
	}
	if opts.Nudge == nil {
		errs = append(errs, errors.New("webhook nudge: required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &webhook{p: p, secret: opts.Secret, branch: opts.Branch, nudge: opts.Nudge,
		log: log.With("provider", string(opts.Provider), "branch", opts.Branch)}, nil
}

type webhook struct {
	p      provider
	secret []byte
	branch string
	nudge  func()
	log    *slog.Logger
}

// provider is what differs between Git hosts: how a delivery is signed and
// how its event is named and shaped.
type provider struct {
	// verify checks the delivery's signature over the raw body.
	verify func(h http.Header, body, secret []byte) error
	// event returns the delivery's event kind, normalised to "ping",
	// "push", "delete" or the provider's own name for anything else.
	event func(h http.Header) string
	// refOptional lets a push name no ref, meaning "read the head now".
	refOptional bool
}

// errMissingSignature and errBadSignature are both answered 401; the
// message tells an operator which of the two to fix.
var (
	errMissingSignature = errors.New("missing signature")
	errBadSignature     = errors.New("signature does not match")
)

// pushPayload holds the fields of a push (or delete) event that ferry reads;
// the four providers share these names.
type pushPayload struct {
	Ref     string `json:"ref"`
	RefType string `json:"ref_type"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
}

func (wh *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "method not allowed: webhooks are POSTed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		wh.log.WarnContext(r.Context(), "webhook refused: body too large", "limit", MaxWebhookBody)
		reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("payload larger than %d bytes", MaxWebhookBody))
		return
	case err != nil:
		reply(w, http.StatusBadRequest, "reading payload: "+err.Error())
		return
	}
	if err := wh.p.verify(r.Header, body, wh.secret); err != nil {
		wh.log.WarnContext(r.Context(), "webhook refused", "reason", err.Error(), "remote", r.RemoteAddr)
		reply(w, http.StatusUnauthorized, err.Error())
		return
	}
	status, msg := wh.handle(r, body)
	wh.log.InfoContext(r.Context(), "webhook", "status", status, "result", msg)
	reply(w, status, msg)
}

// handle decides what a verified delivery means.
func (wh *webhook) handle(r *http.Request, body []byte) (int, string) {
	event := wh.p.event(r.Header)
	switch event {
	case "ping":
		return http.StatusOK, "pong"
	case "push", "delete":
	default:
		return http.StatusOK, fmt.Sprintf("ignored: event %q is not a push", event)
	}
	var p pushPayload
	if len(body) > 0 {
		if err := json.Unmarshal(body, &p); err != nil {
			return http.StatusBadRequest, "payload is not valid JSON: " + err.Error()
		}
	}
	tracked := "refs/heads/" + wh.branch
	if event == "delete" {
		// GitHub and Gitea name the ref short in delete events.
		if p.RefType == "branch" && p.Ref == wh.branch {
			return wh.deleted(r)
		}
		return http.StatusOK, fmt.Sprintf("ignored: deletion of %s %q", p.RefType, p.Ref)
	}
	if p.Ref == "" {
		if !wh.p.refOptional {
			return http.StatusBadRequest, "payload names no ref"
		}
		wh.nudge()
		return http.StatusAccepted, "accepted: reading the head of " + tracked
	}
	if p.Ref != tracked {
		return http.StatusOK, fmt.Sprintf("ignored: push to %s, not %s", p.Ref, tracked)
	}
	if p.Deleted || isZeroSHA(p.After) {
		return wh.deleted(r)
	}
	wh.nudge()
	return http.StatusAccepted, "accepted: push to " + tracked + "; reading the head from the server"
}

func (wh *webhook) deleted(r *http.Request) (int, string) {
	wh.log.WarnContext(r.Context(), "tracked branch deleted upstream; keeping the last revision", "ref", "refs/heads/"+wh.branch)
	return http.StatusOK, "ignored: branch " + wh.branch + " deleted; keeping the last revision"
}

func isZeroSHA(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
