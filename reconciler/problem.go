package reconciler

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// problem reports a failing dependency once rather than once per retry:
// the first failure, and each failure of another kind (unreachable, server
// error, rate limited…), at Warn; repeats at Debug; the recovery at Info.
// It is used by one goroutine.
type problem struct {
	log *slog.Logger
	// msg is the Warn message; recovered the Info message of the recovery.
	msg, recovered string
	// kind is the kind of the failure last reported, "" while all is well.
	kind     string
	failures int
	since    time.Time
}

// failed records a failure, reporting it when it is the first of its kind.
func (p *problem) failed(ctx context.Context, err error, attrs ...any) {
	p.failures++
	if p.failures == 1 {
		p.since = time.Now()
	}
	kind := failureKind(err)
	level := slog.LevelDebug
	if kind != p.kind {
		level = slog.LevelWarn
		p.kind = kind
	}
	p.log.Log(ctx, level, p.msg, append(attrs, "attempt", p.failures, "err", err)...)
}

// ok records a success, reporting the recovery after failures.
func (p *problem) ok(ctx context.Context, attrs ...any) {
	if p.failures > 0 {
		p.log.InfoContext(ctx, p.recovered, append(attrs, "failed_attempts", p.failures, "after", time.Since(p.since).Round(time.Millisecond))...)
	}
	p.kind, p.failures = "", 0
}

// failureKind sorts an error into the kind of problem it shows, so that a
// retry failing the same way is not reported again.
func failureKind(err error) string {
	var limited *slack.RateLimitedError
	var status slack.StatusCodeError
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.As(err, &limited):
		return "rate limited"
	case errors.As(err, &status) && status.Code == 429:
		return "rate limited"
	case errors.As(err, &status) && status.Code >= 500:
		return "server error"
	case errors.As(err, &status):
		return status.Status
	case errors.As(err, &netErr), errors.As(err, &urlErr):
		return "unreachable"
	}
	// Otherwise the innermost error's text.
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return strings.TrimSpace(err.Error())
		}
		err = next
	}
}

// quietRetries is a log handler that records Warn records at Debug: the
// chat notifier's per-call retries, whose failures the outbox reports once.
type quietRetries struct{ slog.Handler }

func (h quietRetries) Enabled(ctx context.Context, l slog.Level) bool {
	if l == slog.LevelWarn {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h quietRetries) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietRetries) WithAttrs(as []slog.Attr) slog.Handler {
	return quietRetries{h.Handler.WithAttrs(as)}
}

func (h quietRetries) WithGroup(name string) slog.Handler {
	return quietRetries{h.Handler.WithGroup(name)}
}
