package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
)

// Secrets of the test config; no response or log may contain one.
const (
	aliceToken    = "tok-alice-5e2f8a41c9d07b36"
	carolToken    = "tok-carol-0b7c13e9a4f26d58"
	webhookSecret = "whsec-3c1d9f0e7a"
	slackSigning  = "slack-signing-8d2e4f6a"
	slackToken    = "xoxb-test-token"
)

var secrets = []string{aliceToken, carolToken, webhookSecret, slackSigning, slackToken}

// Revisions of the test story: shaB passed dev and staging and waits for
// approval in prod, where shaA runs.
const (
	shaA = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
	shaB = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"
	shaC = "9f8e70001111222233334444555566667777aaaa"
)

// t0 is the story's fixed clock.
var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

// testConfig is two pipelines: shop (dev → staging → prod, prod manual with
// approvers alice and bob, a GitHub webhook) and blog (one environment, no
// webhook). Slack maps U024BE7LH to alice and U0G9QF9C6 to carol.
const testConfig = `
pipelines:
  - name: shop
    source:
      url: https://git.example.test/shop.git
      webhook: { provider: github, secretFile: %[1]s/webhook-secret }
    chart: chart
    environments:
      - name: dev
      - name: staging
        from: dev
      - name: prod
        from: staging
        approval: { required: 1, approvers: [alice, bob] }
  - name: blog
    source: { url: https://git.example.test/blog.git, branch: release }
    chart: charts/blog
    environments: [ { name: live } ]
chat:
  slack: { tokenFile: %[1]s/slack-token, signingSecretFile: %[1]s/slack-signing, channel: C0FERRY01 }
  users: { U024BE7LH: alice, U0G9QF9C6: carol }
server: { apiTokensFile: %[1]s/api-tokens }
`

// writeSecrets writes the config's secret files into dir, readable by the
// owner only.
func writeSecrets(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"webhook-secret": webhookSecret + "\n",
		"slack-token":    slackToken + "\n",
		"slack-signing":  slackSigning + "\n",
		"api-tokens":     "# token user\n" + aliceToken + " alice\n\n" + carolToken + " carol\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// loadTestConfig parses testConfig with its secret files in a fresh dir;
// edit, when not nil, changes the YAML text first.
func loadTestConfig(t *testing.T, edit func(string) string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	writeSecrets(t, dir)
	text := fmt.Sprintf(testConfig, dir)
	if edit != nil {
		text = edit(text)
	}
	cfg, err := config.Parse("ferry.yaml", []byte(text), config.Options{})
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// fakeDaemon is the in-test implementation of Daemon the HTTP-layer tests
// run against, until the reconciler's daemon can be used. It keeps the
// story's statuses and history, applies the rules the API relies on
// (approver list, revision waiting, revision passed upstream) with the
// root package's errors, and records every write.
type fakeDaemon struct {
	cfg *config.Config

	mu        sync.Mutex
	statuses  []ferry.EnvironmentStatus
	history   map[string][]ferry.Promotion
	decisions []ferry.Approval
	promotes  []string // "pipeline/env sha actor"
	pauses    []string // "pipeline/env paused actor"
	nudges    []string
	ready     bool
	leader    bool
	// block makes Status wait for its context to end; panics makes it panic.
	block, panics bool
}

func newFakeDaemon(cfg *config.Config) *fakeDaemon {
	approval := ferry.GateResult{Gate: ferry.GateApproval, Verdict: ferry.VerdictPending, Reason: "waiting for approval (0 of 1)"}
	waiting := &ferry.Promotion{
		ID: "shop-prod-2", Pipeline: "shop", Environment: "prod", Revision: ferry.Revision{SHA: shaB, Subject: "raise web replicas to 4"},
		Phase: ferry.PhaseWaiting, Reason: "waiting for approval (0 of 1)", Actor: "ferry",
		Gates: []ferry.GateResult{approval}, Created: t0.Add(-10 * time.Minute), Updated: t0.Add(-10 * time.Minute),
	}
	health := ferry.GateResult{
		Gate: "health", Verdict: ferry.VerdictPassed, Reason: "4 of 4 objects healthy after 42s",
		Figures: []ferry.Figure{{Name: "ready", Value: "4/4"}, {Name: "took", Value: "42s"}},
	}
	succeeded := func(env, id, sha string, at time.Time) ferry.Promotion {
		return ferry.Promotion{
			ID: id, Pipeline: "shop", Environment: env, Revision: ferry.Revision{SHA: sha}, Phase: ferry.PhaseSucceeded,
			Actor: "ferry", Gates: []ferry.GateResult{health}, Created: at, Updated: at.Add(time.Minute), Ended: at.Add(time.Minute),
		}
	}
	return &fakeDaemon{
		cfg:   cfg,
		ready: true,
		statuses: []ferry.EnvironmentStatus{
			// Out of config order on purpose: the server sorts.
			{Pipeline: "blog", Environment: "live", Current: ferry.Revision{SHA: shaC}, Phase: ferry.PhaseSucceeded, Since: t0.Add(-48 * time.Hour)},
			{Pipeline: "shop", Environment: "prod", From: "staging", Current: ferry.Revision{SHA: shaA}, Phase: ferry.PhaseWaiting,
				Since: t0.Add(-10 * time.Minute), WaitingFor: "approval (0 of 1)", Active: waiting},
			{Pipeline: "shop", Environment: "dev", Current: ferry.Revision{SHA: shaB}, Phase: ferry.PhaseSucceeded, Since: t0.Add(-30 * time.Minute)},
			{Pipeline: "shop", Environment: "staging", From: "dev", Current: ferry.Revision{SHA: shaB}, Phase: ferry.PhaseSucceeded, Since: t0.Add(-20 * time.Minute)},
		},
		history: map[string][]ferry.Promotion{
			"shop/dev":     {succeeded("dev", "shop-dev-0", shaC, t0.Add(-3*time.Hour)), succeeded("dev", "shop-dev-1", shaA, t0.Add(-2*time.Hour)), succeeded("dev", "shop-dev-2", shaB, t0.Add(-31*time.Minute))},
			"shop/staging": {succeeded("staging", "shop-staging-1", shaA, t0.Add(-90*time.Minute)), succeeded("staging", "shop-staging-2", shaB, t0.Add(-21*time.Minute))},
			"shop/prod":    {succeeded("prod", "shop-prod-1", shaA, t0.Add(-1*time.Hour)), *waiting},
		},
	}
}

func (d *fakeDaemon) env(pipeline, env string) (*config.Environment, error) {
	p, err := d.cfg.Pipeline(pipeline)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ferry.ErrNotFound, err)
	}
	e, err := p.Environment(env)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ferry.ErrNotFound, err)
	}
	return e, nil
}

func (d *fakeDaemon) Status(ctx context.Context) ([]ferry.EnvironmentStatus, error) {
	d.mu.Lock()
	block, panics := d.block, d.panics
	out := slices.Clone(d.statuses)
	d.mu.Unlock()
	if panics {
		panic("status map corrupted")
	}
	if block {
		<-ctx.Done()
		return nil, fmt.Errorf("reading state: %w", ctx.Err())
	}
	return out, nil
}

func (d *fakeDaemon) History(_ context.Context, pipeline, env string, limit int) ([]ferry.Promotion, error) {
	if _, err := d.env(pipeline, env); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.history[pipeline+"/"+env]
	if len(h) > limit {
		h = h[len(h)-limit:]
	}
	return slices.Clone(h), nil
}

func (d *fakeDaemon) Decide(_ context.Context, a ferry.Approval) error {
	e, err := d.env(a.Pipeline, a.Environment)
	if err != nil {
		return err
	}
	if e.Approval == nil || !slices.Contains(e.Approval.Approvers, a.Actor) {
		return fmt.Errorf("%w: %s is not an approver for %s", ferry.ErrForbidden, a.Actor, a.Environment)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, st := range d.statuses {
		if st.Pipeline == a.Pipeline && st.Environment == a.Environment && st.Active != nil &&
			st.Active.Phase == ferry.PhaseWaiting && st.Active.Revision.SHA == a.Revision {
			d.decisions = append(d.decisions, a)
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not waiting for approval in %s", ferry.ErrConflict, ferry.Revision{SHA: a.Revision}.Short(), a.Environment)
}

func (d *fakeDaemon) Promote(_ context.Context, pipeline, env, sha, actor string) error {
	e, err := d.env(pipeline, env)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.history[pipeline+"/"+e.From] {
		if p.Phase == ferry.PhaseSucceeded && p.Revision.SHA == sha {
			d.promotes = append(d.promotes, fmt.Sprintf("%s/%s %s %s", pipeline, env, sha, actor))
			return nil
		}
	}
	return fmt.Errorf("%w: %s has not succeeded in %s", ferry.ErrConflict, ferry.Revision{SHA: sha}.Short(), e.From)
}

func (d *fakeDaemon) SetPaused(_ context.Context, pipeline, env string, paused bool, actor string) error {
	if _, err := d.env(pipeline, env); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pauses = append(d.pauses, fmt.Sprintf("%s/%s %t %s", pipeline, env, paused, actor))
	return nil
}

func (d *fakeDaemon) Nudge(pipeline string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nudges = append(d.nudges, pipeline)
}

func (d *fakeDaemon) Ready() bool    { d.mu.Lock(); defer d.mu.Unlock(); return d.ready }
func (d *fakeDaemon) IsLeader() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.leader }

// writes returns everything the daemon recorded, one line per write.
func (d *fakeDaemon) writes() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, a := range d.decisions {
		out = append(out, fmt.Sprintf("decide %s/%s %s by %s via %s at %s rejected=%t reason=%q",
			a.Pipeline, a.Environment, a.Revision, a.Actor, a.Via, a.Time.Format(time.RFC3339), a.Rejected, a.Reason))
	}
	for _, p := range d.promotes {
		out = append(out, "promote "+p)
	}
	for _, p := range d.pauses {
		out = append(out, "paused "+p)
	}
	for _, n := range d.nudges {
		out = append(out, "nudge "+n)
	}
	return out
}

// testServer is a Server over the fake daemon, behind httptest, with its
// log captured.
type testServer struct {
	*httptest.Server
	daemon *fakeDaemon
	reg    *prometheus.Registry
	logs   *syncBuffer
}

func startServer(t *testing.T, cfg *config.Config, edit func(*Options)) *testServer {
	t.Helper()
	d := newFakeDaemon(cfg)
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
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
	return &testServer{Server: ts, daemon: d, reg: reg, logs: logs}
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
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			return sec
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
