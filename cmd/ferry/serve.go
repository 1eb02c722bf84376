package main

import (
	"context"
	"errors"

	"github.com/ferry-gitops/ferry/server"
)

// serveWhile runs the HTTP server (health, metrics, webhooks, Slack, API)
// on addr, or on server.listen when addr is empty, for as long as run
// runs. If the server cannot start or fails, run's context ends too, so the
// daemon never runs unreachable; the first error is returned.
func (p *daemonParts) serveWhile(ctx context.Context, addr string, run func(context.Context) error) error {
	if addr == "" {
		addr = p.cfg.Server.Listen
	}
	srv, err := server.New(ctx, server.Options{Config: p.cfg, Daemon: p.daemon, Metrics: p.registry, Logger: p.log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		err := srv.ListenAndServe(ctx, addr)
		cancel()
		served <- err
	}()
	err = run(ctx)
	cancel()
	return errors.Join(err, <-served)
}
