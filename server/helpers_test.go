package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/internal/syncbuf"
	"github.com/ferry-gitops/ferry/server/servertest"
)

// Short names for the story of servertest.
const (
	aliceToken   = servertest.AliceToken
	carolToken   = servertest.CarolToken
	slackSigning = servertest.SlackSigning
	slackToken   = servertest.SlackToken
	shaA         = servertest.ShaA
	shaB         = servertest.ShaB
	shaC         = servertest.ShaC
)

var t0 = servertest.T0

func loadTestConfig(t *testing.T, edit func(string) string) *config.Config {
	t.Helper()
	return servertest.Config(t, edit)
}

// testServer is a Server over the fake daemon, behind httptest, with its
// log captured.
type testServer struct {
	*httptest.Server
	srv    *Server
	daemon *servertest.Daemon
	reg    *prometheus.Registry
	logs   *syncbuf.Buffer
}

func startServer(t *testing.T, cfg *config.Config, edit func(*Options)) *testServer {
	t.Helper()
	d := servertest.NewDaemon(cfg)
	reg := prometheus.NewRegistry()
	logs := &syncbuf.Buffer{}
	opts := Options{
		Config: cfg, Daemon: d, Metrics: reg, Now: func() time.Time { return t0 },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		if s.slack != nil {
			s.slack.Wait()
		}
		if logs := logs.String(); containsSecret(logs) != "" {
			t.Errorf("log contains secret %q:\n%s", containsSecret(logs), logs)
		}
	})
	return &testServer{Server: ts, srv: s, daemon: d, reg: reg, logs: logs}
}

// call sends one request with an optional bearer token and returns the
// status, headers and body.
func (ts *testServer) call(t *testing.T, method, path, token, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// containsSecret returns the first test secret found in s, or "".
func containsSecret(s string) string {
	for _, sec := range servertest.Secrets {
		if strings.Contains(s, sec) {
			return sec
		}
	}
	return ""
}
