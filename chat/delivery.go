package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/slack-go/slack"
)

// PermanentError is a Slack refusal that retrying cannot cure, such as a
// wrong channel or a revoked token. Fix says what the operator must change.
// Callers should surface it and stop retrying the delivery.
type PermanentError struct {
	// Op is what ferry was doing: "post revision message", "update revision message"…
	Op string
	// Code is Slack's error code ("channel_not_found") or the HTTP status.
	Code string
	Fix  string
	Err  error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("%s: slack refused with %s: %s", e.Op, e.Code, e.Fix)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// fixFor says what to change for the Slack errors that are the operator's
// to fix.
func fixFor(code string) string {
	switch code {
	case "channel_not_found":
		return "chat.slack.channel must be the channel's ID (C0123ABCD), not its name, and the app must be able to see it"
	case "not_in_channel":
		return "invite the ferry app to the channel (/invite @ferry)"
	case "is_archived":
		return "the channel is archived: unarchive it or configure another chat.slack.channel"
	case "invalid_auth", "not_authed":
		return "the bot token in chat.slack.tokenFile is not valid: put the app's Bot User OAuth Token (xoxb-…) there"
	case "token_revoked", "token_expired", "account_inactive":
		return "the bot token no longer works: reinstall the app and update chat.slack.tokenFile"
	case "missing_scope":
		return "give the app the chat:write, channels:history and groups:history scopes and reinstall it"
	case "message_not_found":
		return "ferry's message was deleted from the channel; the revision's status can no longer be updated there"
	case "invalid_blocks", "invalid_metadata_format", "msg_too_long":
		return "Slack refused a message ferry rendered; please report this as a ferry bug"
	}
	return "see https://api.slack.com/methods for what " + code + " means"
}

// transientCode reports Slack error codes that a later attempt can succeed with.
func transientCode(code string) bool {
	switch code {
	case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return true
	}
	return false
}

// failure sorts an error by what delivery must do next.
type failure int

const (
	// failTransient: retry after backoff; the call surely had no effect.
	failTransient failure = iota
	// failAmbiguous: retry after backoff; the call may have taken effect.
	failAmbiguous
	// failPermanent: do not retry.
	failPermanent
)

// classify sorts err and returns the wait Slack asked for, if any.
func classify(err error) (failure, time.Duration) {
	var limited *slack.RateLimitedError
	if errors.As(err, &limited) {
		return failTransient, limited.RetryAfter
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) {
		switch {
		case status.Code == http.StatusTooManyRequests:
			return failTransient, 0
		case status.Code >= 500:
			return failAmbiguous, 0
		}
		return failPermanent, 0
	}
	var api slack.SlackErrorResponse
	if errors.As(err, &api) {
		if transientCode(api.Err) {
			return failTransient, 0
		}
		return failPermanent, 0
	}
	// Timeouts, resets and unreadable answers: the server may have acted.
	return failAmbiguous, 0
}

// permanent wraps a refusal with its fix.
func permanent(op string, err error) *PermanentError {
	var api slack.SlackErrorResponse
	if errors.As(err, &api) {
		return &PermanentError{Op: op, Code: api.Err, Fix: fixFor(api.Err), Err: err}
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) {
		return &PermanentError{Op: op, Code: fmt.Sprintf("HTTP %d", status.Code),
			Fix: "check chat.slack.apiURL: it must be Slack's Web API base URL (https://slack.com/api/)", Err: err}
	}
	return &PermanentError{Op: op, Code: "error", Fix: "see the wrapped error", Err: err}
}

// Backoff is how delivery retries transient failures: waits start at
// Initial and double up to Max; after Attempts tries in all the delivery
// fails and is left to the caller (the reconciler's outbox) to try later.
// Zero fields take the defaults of config's timing.chatRetry: 1s, 5m, and
// 10 attempts (about eight and a half minutes of waiting).
type Backoff struct {
	Initial  time.Duration
	Max      time.Duration
	Attempts int
}

// withDefaults fills zero fields.
func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Minute
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Attempts <= 0 {
		b.Attempts = 10
	}
	return b
}

// Sleeper waits for d or until ctx ends. Tests inject one that records waits.
type Sleeper func(ctx context.Context, d time.Duration) error

// sleepCtx is the real Sleeper.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retrier runs Slack calls under the delivery rules.
type retrier struct {
	backoff Backoff
	sleep   Sleeper
	log     *slog.Logger
}

// do runs call until it succeeds, fails permanently or runs out of attempts.
// On 429 it waits Retry-After when Slack sent one, else the backoff. lookup,
// when not nil, says whether an earlier attempt took effect after all; it
// runs before the next attempt that follows an ambiguous failure, and first
// of all when lookFirst is set. A lookup that finds the effect ends do with
// nil.
func (r retrier) do(ctx context.Context, op string, call func(context.Context) error, lookup func(context.Context) (bool, error), lookFirst bool) error {
	wait := r.backoff.Initial
	needLookup := lookFirst && lookup != nil
	for attempt := 1; ; attempt++ {
		var err error
		if needLookup {
			var found bool
			if found, err = lookup(ctx); err == nil {
				if found {
					return nil
				}
				needLookup = false
			}
		}
		if !needLookup {
			if err = call(ctx); err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		kind, retryAfter := classify(err)
		if kind == failPermanent {
			return permanent(op, err)
		}
		if kind == failAmbiguous && lookup != nil {
			needLookup = true
		}
		if attempt >= r.backoff.Attempts {
			return fmt.Errorf("%s: gave up after %d attempts: %w", op, attempt, err)
		}
		d := retryAfter
		if d <= 0 {
			d, wait = wait, min(wait*2, r.backoff.Max)
		}
		r.log.WarnContext(ctx, "slack call failed, retrying", "op", op, "attempt", attempt, "wait", d, "err", err)
		if err := r.sleep(ctx, d); err != nil {
			return fmt.Errorf("%s: waiting to retry: %w", op, err)
		}
	}
}
