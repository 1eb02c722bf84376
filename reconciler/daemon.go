package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/workqueue"

	"github.com/ferry-gitops/ferry/chat"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/gitsource"
	"github.com/ferry-gitops/ferry/promote"
)

// Options configure a Daemon.
type Options struct {
	// Config is the loaded, validated ferry.yaml.
	Config *config.Config
	// Client reaches the cluster that holds the state ConfigMaps and the
	// leader Lease (config state.kubeconfig).
	Client kubernetes.Interface
	// Targets gives each environment's Releaser (deploy, wired by cmd).
	Targets Targets
	// Notifier builds the chat notifier over the durable message store the
	// daemon provides. Nil builds it from Config: Slack when chat.slack is
	// set, else a console notifier writing to Console.
	Notifier func(store chat.MessageStore) (chat.Notifier, error)
	// Console receives console chat lines when no Slack is configured;
	// nil means stderr.
	Console io.Writer
	// DataDir holds the Git caches, one directory per Git source (URL,
	// branch and credentials). Required.
	DataDir string
	// Identity names this replica in the Lease and the fence; empty means
	// the host name plus the process id.
	Identity string
	// Registerer receives the daemon's metrics; nil keeps them private.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Daemon runs every pipeline of one config. Its operations (Status, History,
// Decide, Promote, SetPaused, Nudge) are safe for concurrent use and work on
// every replica, leader or not.
type Daemon struct {
	cfg       *config.Config
	store     *store
	client    kubernetes.Interface
	identity  string
	log       *slog.Logger
	metrics   *metrics
	notifier  chat.Notifier
	pipelines map[string]*pipelineRun
	// schemas keeps the compiled values schemas of every pipeline's charts.
	schemas *deploy.SchemaCache
	// order lists the pipelines in file order.
	order []string

	ready   atomic.Bool
	leading atomic.Bool

	mu sync.Mutex
	// queue is the work queue of the current leadership term, nil otherwise.
	queue workqueue.TypedRateLimitingInterface[envKey]
	// flags are the restarts and ticks due per environment.
	flags map[envKey]stepFlags

	// beforeIntent, when set by a test, runs just before each step's
	// conditional write.
	beforeIntent func(envKey)
}

// Rate limits of the state client that cmd gives New. Every step of every
// environment writes its pipeline's state ConfigMap (intent before act, then
// the outcome and the chat events), so the state client carries most of
// ferry's writes; client-go's default 5 QPS, or 50, would make a thousand
// environments queue on the client rather than on the API server.
const (
	StateClientQPS   = 200
	StateClientBurst = 400
)

// envKey names one environment of one pipeline: the work queue's item.
type envKey struct{ pipeline, env string }

func (k envKey) String() string { return k.pipeline + "/" + k.env }

// pipelineRun is a pipeline's running parts.
type pipelineRun struct {
	cfg    *config.Pipeline
	source *gitsource.Source
	// schemas is the daemon's cache of compiled values schemas.
	schemas *deploy.SchemaCache
	envs    []*envRun
	// nudge wakes the poller; buffered so a nudge never blocks.
	nudge chan struct{}
	// kick wakes the outbox deliverer.
	kick chan struct{}

	mu         sync.Mutex
	lastHead   string
	lastNudges int
}

// envRun is an environment's running parts.
type envRun struct {
	cfg      *config.Environment
	rules    promote.Rules
	policy   *promote.Policy
	releaser Releaser
	// downstream are the environments that take revisions from this one.
	downstream []string

	mu      sync.Mutex
	renders map[string]renderResult
}

func (p *pipelineRun) env(name string) *envRun {
	for _, e := range p.envs {
		if e.cfg.Name == name {
			return e
		}
	}
	return nil
}

// New builds the daemon: a Git source per pipeline with its cache under
// DataDir, each environment's rules, policy and Releaser, the chat notifier
// and the metrics. It makes no network call.
func New(ctx context.Context, opts Options) (*Daemon, error) {
	if opts.Config == nil || opts.Client == nil || opts.Targets == nil || opts.DataDir == "" {
		return nil, errors.New("reconciler: Config, Client, Targets and DataDir are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := opts.Identity
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	m, err := newMetrics(opts.Registerer, opts.Config)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		cfg:       opts.Config,
		store:     &store{client: opts.Client, namespace: opts.Config.State.Namespace},
		client:    opts.Client,
		identity:  id,
		log:       log,
		metrics:   m,
		pipelines: map[string]*pipelineRun{},
		flags:     map[envKey]stepFlags{},
		schemas:   &deploy.SchemaCache{},
	}
	sources := map[config.Source]*gitsource.Source{}
	for i := range opts.Config.Pipelines {
		p, err := d.newPipelineRun(ctx, &opts.Config.Pipelines[i], opts, sources)
		if err != nil {
			return nil, err
		}
		d.pipelines[p.cfg.Name] = p
		d.order = append(d.order, p.cfg.Name)
	}
	d.pruneGitCaches(ctx, filepath.Join(opts.DataDir, "git"), sources)
	build := opts.Notifier
	if build == nil {
		build = func(ms chat.MessageStore) (chat.Notifier, error) { return d.defaultNotifier(ctx, ms, opts.Console) }
	}
	if d.notifier, err = build(&messageStore{store: d.store}); err != nil {
		return nil, fmt.Errorf("chat notifier: %w", err)
	}
	return d, nil
}

// newPipelineRun builds a pipeline's running parts. Pipelines that follow
// the same branch of the same repository with the same credentials share
// one Git source from sources, and so one cache on disk: it is fetched
// once per change of the branch, however many pipelines follow it.
func (d *Daemon) newPipelineRun(ctx context.Context, pc *config.Pipeline, opts Options, sources map[config.Source]*gitsource.Source) (*pipelineRun, error) {
	key := pc.Source
	key.Interval, key.Webhook = 0, nil
	src, ok := sources[key]
	if !ok {
		auth, err := gitAuth(ctx, d.log, pc.Source.Auth)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", pc.Name, err)
		}
		if src, err = gitsource.New(gitsource.Options{
			URL:      pc.Source.URL,
			Branch:   pc.Source.Branch,
			CacheDir: filepath.Join(opts.DataDir, "git", cacheName(key)),
			Auth:     auth,
			Logger:   d.log,
		}); err != nil {
			return nil, fmt.Errorf("pipeline %s: git source: %w", pc.Name, err)
		}
		sources[key] = src
	}
	p := &pipelineRun{cfg: pc, source: src, schemas: d.schemas, nudge: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
	retryAfter := min(opts.Config.Timing.Resync, time.Minute)
	for _, ec := range pc.Ordered() {
		rules, err := promote.NewRules(*ec, opts.Config.State.HistoryLimit, retryAfter)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s: %w", pc.Name, err)
		}
		e := &envRun{cfg: ec, rules: rules, renders: map[string]renderResult{}}
		if ec.Gates.Policy != nil {
			if e.policy, err = promote.NewPolicy(*ec.Gates.Policy); err != nil {
				return nil, fmt.Errorf("pipeline %s environment %s: %w", pc.Name, ec.Name, err)
			}
		}
		if e.releaser, err = opts.Targets(ctx, pc, ec); err != nil {
			return nil, fmt.Errorf("pipeline %s environment %s: %w", pc.Name, ec.Name, err)
		}
		p.envs = append(p.envs, e)
	}
	for _, e := range p.envs {
		if up := p.env(e.cfg.From); up != nil {
			up.downstream = append(up.downstream, e.cfg.Name)
		}
	}
	return p, nil
}

// cacheName names the cache directory of a source: a digest of what makes
// it (URL, branch, credential files), so the name says nothing of them.
func cacheName(s config.Source) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%q %q %q %q %q %q", s.URL, s.Branch, s.Auth.Username, s.Auth.TokenFile, s.Auth.SSHKeyFile, s.Auth.KnownHostsFile))
	return hex.EncodeToString(h[:12])
}

// pruneGitCaches removes the caches that older ferry versions kept per pipeline
// (dir/<pipeline name>, now dir/<digest of the source>): each holds a
// clone's history, and nothing else would remove it. Only a real directory
// named for a configured pipeline and holding a Git object store is taken;
// caches of sources no longer configured are left, as another ferry with
// another configuration may share the data directory and use them.
func (d *Daemon) pruneGitCaches(ctx context.Context, dir string, sources map[config.Source]*gitsource.Source) {
	used := map[string]bool{}
	for key := range sources {
		used[cacheName(key)] = true
	}
	for _, name := range d.order {
		old := filepath.Join(dir, name)
		if used[name] {
			continue
		}
		if fi, err := os.Lstat(old); err != nil || !fi.IsDir() {
			continue
		}
		if fi, err := os.Stat(filepath.Join(old, "objects")); err != nil || !fi.IsDir() {
			continue
		}
		if err := os.RemoveAll(old); err != nil {
			d.log.WarnContext(ctx, "could not remove an old git cache", "dir", old, "err", err)
			continue
		}
		d.log.InfoContext(ctx, "removed the git cache an older ferry kept per pipeline", "dir", old)
	}
}

// gitAuth reads the source's credentials from their files.
func gitAuth(ctx context.Context, log *slog.Logger, a config.Auth) (gitsource.Auth, error) {
	out := gitsource.Auth{Username: a.Username}
	read := func(file string) ([]byte, error) {
		s, err := config.ReadSecret(ctx, log, file)
		return []byte(s), err
	}
	if a.TokenFile != "" {
		tok, err := read(a.TokenFile)
		if err != nil {
			return out, err
		}
		out.Token = string(tok)
	}
	if a.SSHKeyFile != "" {
		key, err := read(a.SSHKeyFile)
		if err != nil {
			return out, err
		}
		out.SSHKey = append(key, '\n')
		if out.KnownHosts, err = os.ReadFile(a.KnownHostsFile); err != nil {
			return out, fmt.Errorf("read known_hosts: %w", err)
		}
	}
	return out, nil
}

// defaultNotifier builds the notifier config asks for.
func (d *Daemon) defaultNotifier(ctx context.Context, ms chat.MessageStore, console io.Writer) (chat.Notifier, error) {
	sc := d.cfg.Chat.Slack
	if sc == nil {
		if console == nil {
			console = os.Stderr
		}
		return chat.NewConsole(console, nil), nil
	}
	token, err := config.ReadSecret(ctx, d.log, sc.TokenFile)
	if err != nil {
		return nil, err
	}
	envs := map[string][]string{}
	for _, name := range d.order {
		for _, e := range d.pipelines[name].envs {
			envs[name] = append(envs[name], e.cfg.Name)
		}
	}
	retry := d.cfg.Timing.ChatRetry
	return chat.NewSlack(chat.SlackOptions{
		Token:        token,
		Channel:      sc.Channel,
		APIURL:       sc.APIURL,
		Store:        ms,
		Environments: envs,
		// The outbox retries across restarts; the notifier's own retries
		// only ride out a short blip, and the outbox reports a failure
		// that outlasts them (once), so theirs are logged at Debug.
		Retry:  chat.Backoff{Initial: retry.Initial, Max: retry.Max, Attempts: 3},
		Logger: slog.New(quietRetries{d.log.Handler()}),
	})
}

// Ready reports whether the daemon can serve: its state is readable. It is
// true on standbys too, which accept writes into the shared state.
func (d *Daemon) Ready() bool { return d.ready.Load() }

// IsLeader reports whether this replica holds the lease and acts.
func (d *Daemon) IsLeader() bool { return d.leading.Load() }

// Identity is the name this replica uses in the Lease and the fence.
func (d *Daemon) Identity() string { return d.identity }
