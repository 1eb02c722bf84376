package harness

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/fixtures"
)

// Scale is the run's timing: what the fixture's ferry.yaml says for
// production use, brought down so a story of several revisions takes minutes.
const (
	// DefaultPoll is the branch poll interval unless Options.Poll says otherwise.
	DefaultPoll = 2 * time.Second
	// HealthTimeout is every environment's health gate timeout: how long a
	// broken revision (ImagePullBackOff, a refused pod) takes to fail.
	HealthTimeout = 20 * time.Second
	// LoadRate and LoadDuration drive every load-test gate: 100 requests.
	LoadRate     = 50
	LoadDuration = 2 * time.Second
	// LoadMinRequests is the load-test SLO's minimum of requests counted.
	LoadMinRequests = 90
	// LoadP95 replaces the fixture's p95 objectives (120-200ms): the target
	// is a loopback stand-in on a machine shared with compilers and the
	// control plane, where a scheduling hiccup of a few hundred
	// milliseconds says nothing about ferry or the platform.
	LoadP95 = 2 * time.Second
)

// helmChecks are the `--set` checks ferry itself wires into config.
var helmChecks = config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString}

// fixtureConfig parses the fixture repository's ferry.yaml.
func fixtureConfig() (*config.Config, error) {
	data, err := fs.ReadFile(fixtures.Repo(), fixtures.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("harness: read the fixture's %s: %w", fixtures.ConfigFile, err)
	}
	c, err := config.Parse(fixtures.ConfigFile, data, helmChecks)
	if err != nil {
		return nil, fmt.Errorf("harness: parse the fixture's %s: %w", fixtures.ConfigFile, err)
	}
	if len(c.Pipelines) != 1 {
		return nil, fmt.Errorf("harness: the fixture's %s has %d pipelines, want 1", fixtures.ConfigFile, len(c.Pipelines))
	}
	return c, nil
}

// writeConfig writes the run's ferry.yaml: the fixture's, with the Git
// server, Slack server, load-test targets, secret files, kubeconfig and
// listen address of this run and timings at demo scale, then opts.Configure's
// edits. It loads the written file back as ferry will, secrets included.
func (w *World) writeConfig(opts Options) error {
	c, err := fixtureConfig()
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	w.APIURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	poll := opts.Poll
	if poll == 0 {
		poll = DefaultPoll
	}

	p := &c.Pipelines[0]
	w.Pipeline = p.Name
	p.Source.URL = w.Git.HTTPURL(RepoName)
	p.Source.Interval = poll
	p.Source.Auth.TokenFile = w.secretFile("git-token")
	if p.Source.Webhook == nil {
		return fmt.Errorf("harness: the fixture's pipeline %s has no webhook", p.Name)
	}
	p.Source.Webhook.SecretFile = w.secretFile("webhook-secret")
	for i := range p.Environments {
		e := &p.Environments[i]
		e.Kubeconfig = w.Cluster.Kubeconfig
		e.Gates.Health.Timeout = HealthTimeout
		if e.Gates.LoadTest != nil {
			t := w.Targets[e.Name]
			lt := e.Gates.LoadTest
			lt.URLs = []string{t.URL() + "/healthz"}
			lt.Rate = config.Rate{Freq: LoadRate, Per: time.Second}
			lt.Duration = LoadDuration
			lt.Timeout = time.Second
			lt.SLO.MinRequests = LoadMinRequests
			lt.SLO.P95 = LoadP95
		}
	}
	c.Chat.Slack.TokenFile = w.secretFile("slack-token")
	c.Chat.Slack.SigningSecretFile = w.secretFile("slack-signing-secret")
	c.Chat.Slack.APIURL = w.Slack.APIURL()
	c.Server.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	c.Server.APITokensFile = w.secretFile("api-tokens")
	c.State.Kubeconfig = w.Cluster.Kubeconfig
	c.Timing.Resync = 30 * time.Second
	c.Timing.ChatRetry = config.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second}
	if opts.Configure != nil {
		opts.Configure(c)
	}
	w.source = c
	if err := w.saveConfig(); err != nil {
		return err
	}
	w.logf("ferry.yaml for this run: %s (poll %s, health timeout %s, load tests %d/s for %s with p95 under %s)", w.ConfigPath, poll, HealthTimeout, LoadRate, LoadDuration, LoadP95)
	return nil
}

// saveConfig writes w.source as the run's ferry.yaml and loads it back as
// ferry will, secrets included, into w.Config.
func (w *World) saveConfig() error {
	var buf bytes.Buffer
	buf.WriteString("# Written by internal/harness for one run: the fixture's ferry.yaml pointed at\n" +
		"# the local servers, with timings at demo scale.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(w.source); err != nil {
		return fmt.Errorf("harness: encode ferry.yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("harness: encode ferry.yaml: %w", err)
	}
	w.ConfigPath = filepath.Join(w.Dir, fixtures.ConfigFile)
	if err := os.WriteFile(w.ConfigPath, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("harness: write ferry.yaml: %w", err)
	}
	c, err := config.Load(w.ConfigPath, helmChecks)
	if err != nil {
		return fmt.Errorf("harness: the written %s does not load: %w", w.ConfigPath, err)
	}
	w.Config = c
	return nil
}

// Reconfigure stops ferry, applies edit to the run's config, writes it and
// starts ferry again on the same state, as an operator changing ferry.yaml
// would. It is not safe to call concurrently with other methods.
func (w *World) Reconfigure(ctx context.Context, edit func(*config.Config)) error {
	if err := w.StopFerry(); err != nil {
		return fmt.Errorf("harness: stop ferry: %w", err)
	}
	edit(w.source)
	if err := w.saveConfig(); err != nil {
		return err
	}
	return w.StartFerry(ctx)
}
