package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/chat"
	"github.com/ferry-gitops/ferry/config"
)

// Daemon is what the server needs of the running daemon. The reconciler's
// daemon implements it; every replica, leader or standby, serves these.
type Daemon interface {
	// Status reports every environment of every pipeline.
	Status(ctx context.Context) ([]ferry.EnvironmentStatus, error)
	// History returns up to limit promotions of one environment.
	History(ctx context.Context, pipeline, env string, limit int) ([]ferry.Promotion, error)
	// Audit returns up to limit writes made to env through these
	// operations (who, what, when), newest first.
	Audit(ctx context.Context, pipeline, env string, limit int) ([]ferry.AuditEntry, error)
	// Decide records an approval or rejection. Its error's text is shown to
	// the person who decided.
	Decide(ctx context.Context, a ferry.Approval) error
	// Promote asks for sha, which must have passed upstream, to be brought
	// to env on behalf of actor.
	Promote(ctx context.Context, pipeline, env, sha, actor string) error
	// SetPaused pauses or resumes env on behalf of actor.
	SetPaused(ctx context.Context, pipeline, env string, paused bool, actor string) error
	// Nudge makes the pipeline read its branch head now. It must not block.
	Nudge(pipeline string)
	// Ready reports whether the config is loaded and the state readable.
	Ready() bool
	// IsLeader reports whether this replica is the one acting.
	IsLeader() bool
}

// Defaults for Options' zero values.
const (
	DefaultRequestTimeout = 30 * time.Second
	defaultShutdown       = 10 * time.Second
)

// Options configure a Server.
type Options struct {
	// Config is the loaded, validated ferry.yaml. Required.
	Config *config.Config
	// Daemon serves the API's operations. Required.
	Daemon Daemon
	// Metrics is the registry the daemon registered its metrics on, served
	// at /metrics. Required: pass a prometheus.NewRegistry(), never the
	// global one, so tests and replicas do not share counters.
	Metrics prometheus.Gatherer
	// Logger receives request and error records; nil discards them.
	Logger *slog.Logger
	// RequestTimeout bounds each request's context; 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Now stamps API decisions; nil means time.Now.
	Now func() time.Time
	// SlackHTTPClient answers Slack clicks through their response_url; nil
	// lets chat choose.
	SlackHTTPClient *http.Client
}

// Server is ferry's HTTP server. Build one with New; it is safe for
// concurrent use.
type Server struct {
	opts    Options
	log     *slog.Logger
	tokens  *tokens // nil when no tokens file is configured
	slack   *chat.Interactions
	hooks   map[string]http.Handler
	handler http.Handler
}

// New reads the secret files the server needs (API tokens, webhook secrets,
// Slack signing secret) once and builds the handler. An error names the file
// at fault, never a secret.
func New(ctx context.Context, opts Options) (*Server, error) {
	switch {
	case opts.Config == nil:
		return nil, errors.New("server: no config")
	case opts.Daemon == nil:
		return nil, errors.New("server: no daemon")
	case opts.Metrics == nil:
		return nil, errors.New("server: no metrics registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger}
	if f := opts.Config.Server.APITokensFile; f != "" {
		t, err := loadTokens(ctx, s.log, f)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.tokens = t
	}
	hooks, err := webhookHandlers(ctx, opts.Config, opts.Daemon, s.log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.hooks = hooks
	if s.slack, err = slackHandler(ctx, opts, s.log); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's root handler, for httptest and for callers
// that run their own listener.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers on ln until ctx ends, then stops accepting, lets requests in
// flight finish (up to 10s) and waits for Slack clicks being decided. It
// returns nil after a shutdown that ctx asked for.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Longer than RequestTimeout, so a slow daemon call still gets its
		// JSON error written.
		WriteTimeout:   s.opts.RequestTimeout + 15*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.InfoContext(ctx, "http server listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http server on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultShutdown)
	defer cancel()
	err := hs.Shutdown(sctx)
	if s.slack != nil {
		s.slack.Wait()
	}
	if err != nil {
		return fmt.Errorf("http server shutdown: %w", err)
	}
	return nil
}

// ListenAndServe listens on addr (config server.listen or --listen) and
// calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("http server: %w", err)
	}
	return s.Serve(ctx, ln)
}

// routes builds the mux and wraps it in the middleware every request passes.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/readyz", s.readyz)
	mux.Handle("/metrics", promhttp.HandlerFor(s.opts.Metrics, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		Timeout:  s.opts.RequestTimeout,
	}))
	mux.HandleFunc("/hooks/git/{pipeline}", s.gitHook)
	mux.HandleFunc("/slack/interactions", s.slackInteractions)
	s.apiRoutes(mux)
	return s.recoverPanics(s.logRequests(s.withDeadline(mux)))
}
