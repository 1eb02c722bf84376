package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// LoadTarget is a loopback HTTP server standing in for one environment's
// workspace ingress, the target of its load-test gate. It answers every GET
// with 200 and counts what it served, so a test can tell that a load test
// really ran. This machine has no container runtime: the pods kwok runs in
// the cluster serve nothing.
type LoadTarget struct {
	env      string
	url      string
	srv      *http.Server
	requests atomic.Int64
}

func startLoadTarget(env string) (*LoadTarget, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("harness: load-test target for %s: %w", env, err)
	}
	t := &LoadTarget{env: env, url: "http://" + l.Addr().String()}
	t.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.requests.Add(1)
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "ok: %s ingress stand-in\n", t.env)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = t.srv.Serve(l) }()
	return t, nil
}

// URL is the server's base URL.
func (t *LoadTarget) URL() string { return t.url }

// Requests counts the requests served so far.
func (t *LoadTarget) Requests() int64 { return t.requests.Load() }

// Close stops the server.
func (t *LoadTarget) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.srv.Shutdown(ctx)
}
