package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/fixtures"
	"github.com/ferry-gitops/ferry/internal/gitserver"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	"github.com/ferry-gitops/ferry/internal/slackserver"
	"github.com/ferry-gitops/ferry/server/api"
)

// RepoName is the name of the fixture repository on the Git server.
const RepoName = "vibecode-platform"

// Users of the run: Slack user IDs and the ferry identities chat.users maps
// them to, as the fixture's ferry.yaml names them. Both are approvers in prod.
const (
	SlackAlice = "U0ALICE0001"
	SlackBob   = "U0BOB000001"
	Alice      = "alice"
	Bob        = "bob"
)

// Options shape a run. The zero value starts everything with the defaults.
type Options struct {
	// Dir holds the run's files (ferry.yaml, secrets, Git repositories, the
	// ferry binary and its log). Empty means a fresh temporary directory,
	// removed by Close.
	Dir string
	// Binary is a ferry binary to run; empty builds ./cmd/ferry of this
	// module into Dir.
	Binary string
	// Poll is the pipeline's branch poll interval (source.interval);
	// 0 means 2s.
	Poll time.Duration
	// Configure, when set, edits the run's config after Start has pointed it
	// at the local servers and scaled its timings, before it is written.
	Configure func(*config.Config)
	// Progress receives one line per start-up step; nil discards them.
	Progress io.Writer
	// BuildTags are build tags for the ferry binary the run builds (not
	// used with Binary): "ferrytest" compiles in the reliability suite's
	// crash points (see reconciler/crashpoint.go).
	BuildTags []string
}

// World is one running set of servers with ferry started against them.
// Its methods are safe for concurrent use unless they say otherwise.
type World struct {
	// Dir is the run's directory; ConfigPath its ferry.yaml.
	Dir        string
	ConfigPath string
	// Config is the config as written for the run.
	Config *config.Config
	// Pipeline is the fixture's pipeline name; Channel its Slack channel.
	Pipeline string
	Channel  string
	// Binary is the ferry binary the run uses.
	Binary string
	// APIURL is ferry's HTTP address (http://127.0.0.1:port).
	APIURL string

	Cluster *localcluster.Cluster
	Kube    kubernetes.Interface
	Git     *gitserver.Server
	Repo    *gitserver.Repo
	Slack   *slackserver.Server
	// Targets are the load-test targets by environment name.
	Targets map[string]*LoadTarget
	// API is a client of ferry's API as Alice.
	API *api.Client

	ferry *Process
	// source is the config as Start built it, before it was written and
	// loaded; Reconfigure edits it.
	source   *config.Config
	secrets  secrets
	progress io.Writer
	ownDir   bool
	http     *http.Client
	// closers run in reverse order on Close.
	closers []func()
}

// secrets are the run's shared secrets, kept in files under Dir/secrets and
// never printed.
type secrets struct {
	gitToken, webhook, slackToken, signing string
	// apiTokens maps ferry users to their API tokens.
	apiTokens map[string]string
}

// Start brings up the cluster, the Git server with the fixture repository at
// its first commit, the Slack-protocol server, the load-test targets and
// ferry, and returns when ferry answers /readyz. On error everything started
// so far is stopped again.
func Start(ctx context.Context, opts Options) (*World, error) {
	w := &World{progress: opts.Progress, http: &http.Client{Timeout: 30 * time.Second}}
	if w.progress == nil {
		w.progress = io.Discard
	}
	if err := w.start(ctx, opts); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *World) start(ctx context.Context, opts Options) (err error) {
	if w.Dir = opts.Dir; w.Dir == "" {
		if w.Dir, err = os.MkdirTemp("", "ferry-harness-"); err != nil {
			return fmt.Errorf("harness: work directory: %w", err)
		}
		w.ownDir = true
	}
	if w.Dir, err = filepath.Abs(w.Dir); err != nil {
		return fmt.Errorf("harness: work directory: %w", err)
	}
	if err := w.makeSecrets(); err != nil {
		return err
	}

	// The build runs beside the servers' start; a failed start still waits
	// for it, so Close never removes the directory under the compiler.
	binary := make(chan buildResult, 1)
	if opts.Binary != "" {
		binary <- buildResult{path: opts.Binary}
	} else {
		w.logf("building ferry (go build ./cmd/ferry)")
		go func() {
			path, err := BuildFerryTags(ctx, filepath.Join(w.Dir, "bin"), opts.BuildTags...)
			binary <- buildResult{path, err}
		}()
	}
	built := false
	defer func() {
		if !built {
			<-binary
		}
	}()

	if err := w.startCluster(ctx); err != nil {
		return err
	}
	if err := w.startGit(); err != nil {
		return err
	}
	if err := w.startSlack(); err != nil {
		return err
	}
	if err := w.startTargets(); err != nil {
		return err
	}
	if err := w.writeConfig(opts); err != nil {
		return err
	}
	b := <-binary
	built = true
	if b.err != nil {
		return b.err
	}
	w.Binary = b.path
	if w.API, err = api.NewClient(w.APIURL, w.secrets.apiTokens[Alice], w.http); err != nil {
		return fmt.Errorf("harness: API client: %w", err)
	}
	if err := w.createStateNamespace(ctx); err != nil {
		return err
	}
	return w.StartFerry(ctx)
}

type buildResult struct {
	path string
	err  error
}

// Close stops ferry and every server, in reverse order of their start, and
// removes the run's directory when Start created it. It is safe to call more
// than once.
func (w *World) Close() {
	if w.ferry != nil {
		_ = w.ferry.Stop(30 * time.Second)
	}
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
	if w.ownDir && w.Dir != "" {
		_ = os.RemoveAll(w.Dir)
		w.Dir = ""
	}
}

func (w *World) logf(format string, args ...any) {
	fmt.Fprintf(w.progress, format+"\n", args...)
}

func (w *World) makeSecrets() error {
	w.secrets = secrets{apiTokens: map[string]string{}}
	for _, s := range []*string{&w.secrets.gitToken, &w.secrets.webhook, &w.secrets.slackToken, &w.secrets.signing} {
		*s = randomHex()
	}
	w.secrets.slackToken = "xoxb-" + w.secrets.slackToken
	var tokens strings.Builder
	for _, user := range []string{Alice, Bob} {
		tok := randomHex()
		w.secrets.apiTokens[user] = tok
		fmt.Fprintf(&tokens, "%s %s\n", tok, user)
	}
	files := map[string]string{
		"git-token":            w.secrets.gitToken,
		"webhook-secret":       w.secrets.webhook,
		"slack-token":          w.secrets.slackToken,
		"slack-signing-secret": w.secrets.signing,
		"api-tokens":           tokens.String(),
	}
	dir := filepath.Join(w.Dir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("harness: secrets directory: %w", err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return fmt.Errorf("harness: write secret file %s: %w", name, err)
		}
	}
	return nil
}

// SecretValues names every secret of the run with its value, so that a test
// can search what ferry printed, posted and answered for each of them.
func (w *World) SecretValues() map[string]string {
	out := map[string]string{
		"Git token": w.secrets.gitToken, "webhook secret": w.secrets.webhook,
		"Slack token": w.secrets.slackToken, "Slack signing secret": w.secrets.signing,
	}
	for user, tok := range w.secrets.apiTokens {
		out[user+"'s API token"] = tok
	}
	return out
}

// secretFile is the path of one secret file of the run.
func (w *World) secretFile(name string) string { return filepath.Join(w.Dir, "secrets", name) }

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}

func (w *World) startCluster(ctx context.Context) error {
	crds, err := fixtures.CRDs()
	if err != nil {
		return fmt.Errorf("harness: fixture CRDs: %w", err)
	}
	w.logf("starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) with the cert-manager and Prometheus CRDs")
	c, err := localcluster.Start(ctx, localcluster.Options{CRDs: crds, Progress: indentWriter{w.progress}})
	if err != nil {
		return fmt.Errorf("harness: local cluster: %w", err)
	}
	w.Cluster = c
	w.closers = append(w.closers, c.Stop)
	if w.Kube, err = c.Clientset(); err != nil {
		return fmt.Errorf("harness: cluster client: %w", err)
	}
	w.logf("  cluster ready: %s, %d fake nodes", c.Server, len(c.NodeNames))
	return nil
}

func (w *World) startGit() error {
	s, err := gitserver.New(filepath.Join(w.Dir, "git"))
	if err != nil {
		return fmt.Errorf("harness: git server: %w", err)
	}
	w.Git = s
	w.closers = append(w.closers, func() { _ = s.Close() })
	base, err := s.StartHTTP(gitserver.HTTPOptions{Token: w.secrets.gitToken})
	if err != nil {
		return fmt.Errorf("harness: git server HTTP: %w", err)
	}
	if w.Repo, err = s.CreateRepo(RepoName); err != nil {
		return fmt.Errorf("harness: create repository: %w", err)
	}
	files, err := fixtureFiles()
	if err != nil {
		return err
	}
	sha, err := w.Repo.Commit("vibecode-platform: chart, values per environment and ferry.yaml",
		append(files, gitserver.WithAuthor("Dana Developer", "dana@vibecode.example"))...)
	if err != nil {
		return fmt.Errorf("harness: initial commit: %w", err)
	}
	w.logf("git server on %s (HTTP, token auth): %s at %s", base, RepoName, sha[:7])
	return nil
}

// fixtureFiles are the fixture repository's files as commit options, in a
// stable order.
func fixtureFiles() ([]gitserver.CommitOption, error) {
	repo := fixtures.Repo()
	var paths []string
	err := fs.WalkDir(repo, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("harness: list fixture repository: %w", err)
	}
	sort.Strings(paths)
	opts := make([]gitserver.CommitOption, 0, len(paths))
	for _, p := range paths {
		b, err := fs.ReadFile(repo, p)
		if err != nil {
			return nil, fmt.Errorf("harness: read fixture %s: %w", p, err)
		}
		opts = append(opts, gitserver.WithFile(p, string(b)))
	}
	return opts, nil
}

func (w *World) startSlack() error {
	fixture, err := fixtureConfig()
	if err != nil {
		return err
	}
	if fixture.Chat.Slack == nil {
		return errors.New("harness: the fixture's ferry.yaml has no chat.slack")
	}
	w.Channel = fixture.Chat.Slack.Channel
	w.Slack = slackserver.New(w.secrets.slackToken, w.Channel)
	w.closers = append(w.closers, w.Slack.Close)
	w.logf("Slack-protocol server on %s, channel %s", w.Slack.URL(), w.Channel)
	return nil
}

func (w *World) startTargets() error {
	fixture, err := fixtureConfig()
	if err != nil {
		return err
	}
	w.Targets = map[string]*LoadTarget{}
	for _, e := range fixture.Pipelines[0].Environments {
		t, err := startLoadTarget(e.Name)
		if err != nil {
			return err
		}
		w.Targets[e.Name] = t
		w.closers = append(w.closers, t.Close)
		w.logf("load-test target for %-7s on %s: a loopback HTTP server standing in for the workspace ingress (kwok's pods run no containers and serve nothing)", e.Name, t.URL())
	}
	return nil
}

// createStateNamespace creates the namespace ferry keeps its state and
// leader Lease in, as installing ferry would.
func (w *World) createStateNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.Config.State.Namespace}}
	if _, err := w.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("harness: create ferry's state namespace %s: %w", ns.Name, err)
	}
	return nil
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("harness: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// indentWriter indents the lines written through it by two spaces, so
// sub-steps read as part of the step that started them.
type indentWriter struct{ w io.Writer }

func (iw indentWriter) Write(p []byte) (int, error) {
	text := strings.TrimRight(string(p), "\n")
	if _, err := io.WriteString(iw.w, "  "+strings.ReplaceAll(text, "\n", "\n  ")+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}
