package reconciler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/internal/gitserver"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	"github.com/ferry-gitops/ferry/internal/slackserver"
)

// cluster is the package's real control plane; nil with -short.
var cluster *localcluster.Shared

func TestMain(m *testing.M) {
	os.Exit(localcluster.RunTests(m, localcluster.Options{}, &cluster))
}

const slackToken = "xoxb-test-token"

// chartFiles is a small chart: a ConfigMap and a Deployment whose image tag
// and greeting come from values, so a values file changes the render.
func chartFiles() map[string]string {
	return map[string]string{
		"chart/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/values.yaml": "tag: \"1.27\"\ngreeting: hello\n",
		"chart/templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cfg
data:
  greeting: {{ .Values.greeting | quote }}
`,
		"chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
    spec:
      containers:
        - name: web
          image: "nginx:{{ .Values.tag }}"
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`,
		"values-dev.yaml":     "greeting: hello dev\n",
		"values-staging.yaml": "greeting: hello staging\n",
		"values-prod.yaml":    "greeting: hello prod\n",
	}
}

// fixture is one test's world: a Git server with the chart, a Slack-protocol
// server, a namespace on the local cluster holding the state and every
// environment's release, and the config that ties them together.
type fixture struct {
	t          *testing.T
	ns         string
	git        *gitserver.Server
	repo       *gitserver.Repo
	slack      *slackserver.Server
	cfg        *config.Config
	yaml       string // the text cfg was parsed from
	kubeconfig string
	admin      kubernetes.Interface
	dataDir    string
}

// envSpec describes one environment of the fixture's pipeline.
type envSpec struct {
	name, from string
	approvers  []string
	drift      string
}

func newFixture(t *testing.T, envs []envSpec, kubeconfig string) *fixture {
	t.Helper()
	localcluster.Require(t, cluster)
	f := &fixture{t: t, ns: cluster.Namespace(t, nil), kubeconfig: kubeconfig, dataDir: t.TempDir()}
	if f.kubeconfig == "" {
		f.kubeconfig = cluster.Kubeconfig
	}
	admin, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	f.admin = admin

	gs, err := gitserver.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gs.Close() })
	if _, err := gs.StartHTTP(gitserver.HTTPOptions{}); err != nil {
		t.Fatal(err)
	}
	f.git = gs
	if f.repo, err = gs.CreateRepo("app"); err != nil {
		t.Fatal(err)
	}
	f.slack = slackserver.New(slackToken)
	t.Cleanup(f.slack.Close)

	secrets := t.TempDir()
	for name, content := range map[string]string{"slack-token": slackToken, "slack-signing": "signing-secret"} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `pipelines:
  - name: app
    source: {url: %q, branch: main, interval: 200ms}
    chart: chart
    environments:
`, gs.HTTPURL("app"))
	for _, e := range envs {
		fmt.Fprintf(&b, "      - name: %s\n        kubeconfig: %q\n        namespace: %s\n        release: app-%s\n        values: [values-%s.yaml]\n        gates: {health: {timeout: 20s}}\n",
			e.name, f.kubeconfig, f.ns, e.name, e.name)
		if e.from != "" {
			fmt.Fprintf(&b, "        from: %s\n", e.from)
		}
		if len(e.approvers) > 0 {
			fmt.Fprintf(&b, "        approval: {approvers: [%s]}\n", strings.Join(e.approvers, ", "))
		}
		if e.drift != "" {
			fmt.Fprintf(&b, "        drift: %s\n", e.drift)
		}
	}
	fmt.Fprintf(&b, `chat:
  slack: {tokenFile: %q, signingSecretFile: %q, channel: %s, apiURL: %q}
state: {namespace: %s, kubeconfig: %q, leaseName: ferry-leader, historyLimit: 20}
timing:
  resync: 1s
  workers: 2
  leaderElection: {leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 250ms}
  chatRetry: {initial: 50ms, max: 500ms}
`, filepath.Join(secrets, "slack-token"), filepath.Join(secrets, "slack-signing"), slackserver.DefaultChannel, f.slack.APIURL(), f.ns, f.kubeconfig)
	f.yaml = b.String()
	f.cfg, err = config.Parse("ferry.yaml", []byte(f.yaml), config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, b.String())
	}
	return f
}

// commit writes files over the chart's and returns the new commit's SHA.
func (f *fixture) commit(msg string, files map[string]string) string {
	f.t.Helper()
	var opts []gitserver.CommitOption
	for path, content := range files {
		opts = append(opts, gitserver.WithFile(path, content))
	}
	sha, err := f.repo.Commit(msg, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	return sha
}

// counting wraps a Releaser to count the calls that can change a release.
type counting struct {
	Releaser
	applies, rollbacks atomic.Int32
	// beforeApply, when set, runs before each Apply; an error is returned
	// instead of calling Helm.
	beforeApply func(ctx context.Context, env string) error
	// afterApply, when set, runs after each successful Apply.
	afterApply func(ctx context.Context, env string) error
	// onHealth, when set, runs before each health check; an error is
	// returned instead of a verdict.
	onHealth func(ctx context.Context, env string) error
	env      string
}

func (c *counting) Health(ctx context.Context, r ferry.Rendered) (ferry.HealthVerdict, error) {
	if c.onHealth != nil {
		if err := c.onHealth(ctx, c.env); err != nil {
			return ferry.HealthVerdict{}, err
		}
	}
	return c.Releaser.Health(ctx, r)
}

func (c *counting) Apply(ctx context.Context, r *ferry.Rendered, rev ferry.Revision) (int, error) {
	if c.beforeApply != nil {
		if err := c.beforeApply(ctx, c.env); err != nil {
			return 0, err
		}
	}
	c.applies.Add(1)
	n, err := c.Releaser.Apply(ctx, r, rev)
	if err == nil && c.afterApply != nil {
		if err := c.afterApply(ctx, c.env); err != nil {
			return 0, err
		}
	}
	return n, err
}

func (c *counting) Rollback(ctx context.Context) error {
	c.rollbacks.Add(1)
	return c.Releaser.Rollback(ctx)
}

// replica is one daemon of the fixture, with its releasers and metrics.
type replica struct {
	*Daemon
	releasers map[string]*counting
	registry  *prometheus.Registry
	cancel    context.CancelFunc
	done      chan error
}

type replicaOption func(*counting)

// newReplica builds a daemon named id over the fixture, under the
// fixture's kubeconfig.
func (f *fixture) newReplica(id string, opts ...replicaOption) *replica {
	f.t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		f.t.Fatal(err)
	}
	rc.QPS, rc.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		f.t.Fatal(err)
	}
	r := &replica{releasers: map[string]*counting{}, registry: prometheus.NewRegistry()}
	var mu sync.Mutex
	deployTargets := DeployTargets()
	targets := func(ctx context.Context, p *config.Pipeline, env *config.Environment) (Releaser, error) {
		real, err := deployTargets(ctx, p, env)
		if err != nil {
			return nil, err
		}
		c := &counting{Releaser: real, env: env.Name}
		for _, o := range opts {
			o(c)
		}
		mu.Lock()
		r.releasers[env.Name] = c
		mu.Unlock()
		return c, nil
	}
	d, err := New(context.Background(), Options{
		Config: f.cfg, Client: client, Targets: targets, DataDir: filepath.Join(f.dataDir, id),
		Identity: id, Registerer: r.registry, Logger: testLogger(f.t, id),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	r.Daemon = d
	return r
}

// start runs the replica until stop or the test's end.
func (r *replica) start(t *testing.T) *replica {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop cancels the replica and waits for Run to return.
func (r *replica) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.cancel = nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last seen: %s", what, last)
}

// waitPhase waits until env's latest promotion of sha is in phase.
func (f *fixture) waitPhase(d *Daemon, env, sha string, phase ferry.Phase) ferry.Promotion {
	f.t.Helper()
	var got ferry.Promotion
	eventually(f.t, 90*time.Second, fmt.Sprintf("%s %s in %s", env, short(sha), phase), func() (bool, string) {
		h, err := d.History(context.Background(), "app", env, 0)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, p := range h {
			seen = append(seen, fmt.Sprintf("%s:%s(%s)", p.Revision.Short(), p.Phase, p.Reason))
			if p.Revision.SHA == sha {
				got = p
				return p.Phase == phase, strings.Join(seen, " ")
			}
		}
		return false, strings.Join(seen, " ")
	})
	return got
}

// helmRevisions counts the Helm revisions of a release, from the release
// Secrets Helm keeps in the namespace.
func (f *fixture) helmRevisions(release string) int {
	f.t.Helper()
	list, err := f.admin.CoreV1().Secrets(f.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(list.Items)
}

// parents returns the revision messages (top-level) in the Slack channel.
func (f *fixture) parents() []slackserver.Message {
	return f.slack.Messages(slackserver.DefaultChannel)
}

// oneMessageNoReplyTwice checks that chat holds exactly one revision
// message and that no thread reply was posted twice.
func (f *fixture) oneMessageNoReplyTwice(t *testing.T) {
	t.Helper()
	parents := f.parents()
	if len(parents) != 1 {
		t.Fatalf("%d revision messages, want 1", len(parents))
	}
	seen := map[string]bool{}
	for _, r := range f.slack.Replies(parents[0].Channel, parents[0].TS) {
		id, _ := r.Metadata.EventPayload["reply"].(string)
		if seen[id] {
			t.Errorf("thread reply %s posted twice: %s", id, r.Text)
		}
		seen[id] = true
	}
}

// configMap reads a ConfigMap of the test namespace.
func (f *fixture) configMap(name string) *corev1.ConfigMap {
	f.t.Helper()
	cm, err := f.admin.CoreV1().ConfigMaps(f.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return cm
}

// errStop is what a test's hook returns to interrupt a step.
var errStop = errors.New("test interrupts the step")
