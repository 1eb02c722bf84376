package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ferry-gitops/ferry/chat"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/gitsource"
	"github.com/ferry-gitops/ferry/server/api"
)

// webhookHandlers builds gitsource's verified push handler for every
// pipeline whose source has a webhook. An accepted push nudges that
// pipeline; the revision is always read from the Git server, never from the
// payload.
func webhookHandlers(ctx context.Context, cfg *config.Config, d Daemon, log *slog.Logger) (map[string]http.Handler, error) {
	hooks := map[string]http.Handler{}
	for i := range cfg.Pipelines {
		p := &cfg.Pipelines[i]
		wh := p.Source.Webhook
		if wh == nil {
			continue
		}
		secret, err := config.ReadSecret(ctx, log, wh.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s webhook: %w", p.Name, err)
		}
		name := p.Name
		h, err := gitsource.NewWebhookHandler(gitsource.WebhookOptions{
			Provider: gitsource.Provider(wh.Provider),
			Secret:   []byte(secret),
			Branch:   p.Source.Branch,
			Nudge:    func() { d.Nudge(name) },
			Logger:   log.With("pipeline", name),
		})
		if err != nil {
			return nil, fmt.Errorf("pipeline %s webhook: %w", p.Name, err)
		}
		hooks[name] = h
	}
	return hooks, nil
}

// slackHandler builds chat's verified interactions handler when Slack is
// configured, with the daemon deciding; nil otherwise.
func slackHandler(ctx context.Context, opts Options, log *slog.Logger) (*chat.Interactions, error) {
	sl := opts.Config.Chat.Slack
	if sl == nil {
		return nil, nil
	}
	secret, err := config.ReadSecret(ctx, log, sl.SigningSecretFile)
	if err != nil {
		return nil, fmt.Errorf("chat.slack.signingSecretFile: %w", err)
	}
	// The bot token lets the handler map a clicker by e-mail (users.info);
	// it is read only where chat.users has e-mail keys (the notifier reads
	// it too).
	var token string
	for key := range opts.Config.Chat.Users {
		if strings.Contains(key, "@") {
			if token, err = config.ReadSecret(ctx, log, sl.TokenFile); err != nil {
				return nil, fmt.Errorf("chat.slack.tokenFile: %w", err)
			}
			break
		}
	}
	h, err := chat.NewInteractions(chat.InteractionOptions{
		SigningSecret: secret,
		Token:         token,
		APIURL:        sl.APIURL,
		Users:         opts.Config.Chat.Users,
		Decider:       opts.Daemon,
		DecideTimeout: opts.RequestTimeout,
		HTTPClient:    opts.SlackHTTPClient,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("slack interactions: %w", err)
	}
	return h, nil
}

// gitHook serves /hooks/git/{pipeline}: 404 for a pipeline that is unknown
// or has no webhook configured, else gitsource's handler answers.
func (s *Server) gitHook(w http.ResponseWriter, r *http.Request) {
	h, ok := s.hooks[r.PathValue("pipeline")]
	if !ok {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("no webhook for pipeline %q", r.PathValue("pipeline")))
		return
	}
	h.ServeHTTP(w, r)
}

// slackInteractions serves /slack/interactions, 404 when Slack is not
// configured.
func (s *Server) slackInteractions(w http.ResponseWriter, r *http.Request) {
	if s.slack == nil {
		writeJSONError(w, http.StatusNotFound, "slack is not configured (chat.slack)")
		return
	}
	s.slack.ServeHTTP(w, r)
}

// healthz answers 200 while the process serves HTTP at all: a liveness probe.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when the daemon has its config and can read its state,
// leader or standby alike (a standby records writes into the shared state),
// and 503 otherwise. The body says which replica leads, for operators.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	rd := api.Readiness{Ready: s.opts.Daemon.Ready(), Leader: s.opts.Daemon.IsLeader()}
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}
