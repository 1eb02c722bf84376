package badinput

import (
	"context"
	"encoding/json"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/internal/gitserver"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	"github.com/ferry-gitops/ferry/internal/slackserver"
	"github.com/ferry-gitops/ferry/internal/syncbuf"
	"github.com/ferry-gitops/ferry/reconciler"
	"github.com/ferry-gitops/ferry/server"
)

// Slack users of the world: alice approves prod, bob is mapped but no
// approver, and nobody is not in chat.users at all.
const (
	slackAlice  = "U0ALICE0001"
	slackBob    = "U0BOB000001"
	slackNobody = "U0NOBODY001"
)

// secrets are the world's shared secrets. Each is a distinctive string, so a
// search of any output for it finds it wherever it leaked.
type secrets struct {
	gitToken, webhook, slackToken, signing string
	aliceToken, bobToken                   string
	// secretData is the value of a key of a Kubernetes Secret the chart
	// renders from values: Secret data in a manifest.
	secretData string
}

// all lists every secret with what it is, for searches.
func (s secrets) all() map[string]string {
	return map[string]string{
		"git token": s.gitToken, "webhook secret": s.webhook, "slack token": s.slackToken,
		"slack signing secret": s.signing, "alice's API token": s.aliceToken, "bob's API token": s.bobToken,
		"Secret data": s.secretData,
	}
}

// knownSecrets are the values every world uses.
var knownSecrets = secrets{
	gitToken:   "gittok-5f1c0a9e7d3b2468ace0",
	webhook:    "hooksec-8b2e4d6f1a3c5e7092bd",
	slackToken: "xoxb-slacktok-71c3e5a9f2d4b680",
	signing:    "signsec-0d9c8b7a6f5e4d3c2b1a",
	aliceToken: "alicetok-3e8f1b6d9a2c4e7f0b5d",
	bobToken:   "bobtok-6a1d4f9c2e7b0a3d8f5c",
	secretData: "s3cr3t-db-pa55-4c7e9a1f6b2d",
}

// chart is a small chart: a ConfigMap whose greeting and replicas come from
// values (replicas checked by values.schema.json) and a Secret whose
// password comes from values.
func chart(s secrets) map[string]string {
	return map[string]string{
		"chart/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/values.yaml": "greeting: hello\nreplicas: 1\npassword: " + s.secretData + "\n",
		"chart/values.schema.json": `{"$schema": "https://json-schema.org/draft-07/schema#", "type": "object",
  "properties": {"greeting": {"type": "string"}, "replicas": {"type": "integer", "minimum": 0}}}
`,
		"chart/templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cfg
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicas | quote }}
`,
		"chart/templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
stringData:
  password: {{ .Values.password | quote }}
`,
		"values-dev.yaml":  "greeting: hello dev\n",
		"values-prod.yaml": "greeting: hello prod\n",
	}
}

// Pipelines of the world. Each has its own repository and releases in the
// world's namespace.
const (
	// pRender's dev receives the bad commits; it rolls back on a failed
	// apply so an object the API server refuses leaves the last good
	// release in place.
	pRender = "render"
	// pAccept's dev receives inputs that are odd but valid (large
	// integers, unicode keys, 10,000 files) and must move.
	pAccept = "accept"
	// pBranch's branch is deleted and force-pushed.
	pBranch = "branch"
	// pGate runs dev → prod, prod approved by alice; its webhook is the
	// one bad deliveries are sent to, and its interval is long, so a
	// head read happens only when a webhook nudges.
	pGate = "gate"
)

// world is one running ferry: Git server, Slack-protocol server, a namespace
// on the local cluster, the daemon and its HTTP server, with every log line
// captured.
type world struct {
	// t is the test using the world now; a table swaps in each case's
	// subtest, so a failed wait fails the case rather than its parent.
	t       *testing.T
	ns      string
	kube    kubernetes.Interface
	git     *gitserver.Server
	repos   map[string]*gitserver.Repo
	slack   *slackserver.Server
	cfg     *config.Config
	daemon  *reconciler.Daemon
	spy     *spy
	http    *httptest.Server
	logs    *syncbuf.Buffer
	metrics *prometheus.Registry
	secrets secrets
	// base is each pipeline's first commit, which every environment runs
	// once the world has started (prod waits for approval of gate's).
	base map[string]string
}

// newWorld starts a world and waits until every first environment runs its
// pipeline's base commit and gate's prod waits for approval of it.
func newWorld(t *testing.T, s secrets) *world {
	t.Helper()
	localcluster.Require(t, cluster)
	w := &world{t: t, ns: cluster.Namespace(t, nil), repos: map[string]*gitserver.Repo{}, secrets: s,
		base: map[string]string{}, logs: &syncbuf.Buffer{}, metrics: prometheus.NewRegistry()}
	var err error
	if w.kube, err = cluster.Clientset(); err != nil {
		t.Fatal(err)
	}
	if w.git, err = gitserver.New(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.git.Close() })
	if _, err := w.git.StartHTTP(gitserver.HTTPOptions{Token: s.gitToken}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pRender, pAccept, pBranch, pGate} {
		if w.repos[p], err = w.git.CreateRepo(p); err != nil {
			t.Fatal(err)
		}
		w.base[p] = w.commit(p, "base", "", chart(s))
	}
	w.slack = slackserver.New(s.slackToken)
	t.Cleanup(w.slack.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ferry's warnings and errors:\n%s", w.problems(60))
		}
	})
	w.cfg = w.config()
	w.start()
	for _, p := range []string{pRender, pAccept, pBranch, pGate} {
		w.waitPhase(p, "dev", w.base[p], ferry.PhaseSucceeded)
	}
	w.waitPhase(pGate, "prod", w.base[pGate], ferry.PhaseWaiting)
	return w
}

// config writes the secret files and returns the world's parsed ferry.yaml.
func (w *world) config() *config.Config {
	w.t.Helper()
	dir := w.t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			w.t.Fatal(err)
		}
		return p
	}
	s := w.secrets
	gitToken := file("git-token", s.gitToken)
	webhook := file("webhook", s.webhook)
	tokens := file("api-tokens", s.aliceToken+" alice\n"+s.bobToken+" bob\n")
	slackToken := file("slack-token", s.slackToken)
	signing := file("slack-signing", s.signing)
	kc := cluster.Kubeconfig
	env := func(p, name, extra string) string {
		return fmt.Sprintf("      - {name: %s, kubeconfig: %q, namespace: %s, release: %s-%s, values: [values-%s.yaml], gates: {health: {timeout: 20s}}%s}\n",
			name, kc, w.ns, p, name, name, extra)
	}
	pipeline := func(name, interval, webhookYAML string, envs ...string) string {
		return fmt.Sprintf("  - name: %s\n    source: {url: %q, branch: main, interval: %s, auth: {tokenFile: %q}%s}\n    chart: chart\n    environments:\n%s",
			name, w.git.HTTPURL(name), interval, gitToken, webhookYAML, strings.Join(envs, ""))
	}
	text := "pipelines:\n" +
		pipeline(pRender, "200ms", "", env(pRender, "dev", ", onFailure: rollback")) +
		pipeline(pAccept, "200ms", "", env(pAccept, "dev", "")) +
		pipeline(pBranch, "200ms", "", env(pBranch, "dev", "")) +
		pipeline(pGate, "1h", fmt.Sprintf(", webhook: {provider: github, secretFile: %q}", webhook),
			env(pGate, "dev", ""), env(pGate, "prod", ", from: dev, approval: {approvers: [alice]}")) +
		fmt.Sprintf(`chat:
  slack: {tokenFile: %q, signingSecretFile: %q, channel: %s, apiURL: %q}
  users: {%s: alice, %s: bob}
server: {apiTokensFile: %q}
state: {namespace: %s, kubeconfig: %q, leaseName: ferry-leader, historyLimit: 50}
timing:
  resync: 1s
  workers: 2
  leaderElection: {leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 250ms}
  chatRetry: {initial: 50ms, max: 500ms}
`, slackToken, signing, slackserver.DefaultChannel, w.slack.APIURL(), slackAlice, slackBob, tokens, w.ns, kc)
	cfg, err := config.Parse("ferry.yaml", []byte(text), helmOptions)
	if err != nil {
		w.t.Fatalf("config: %v\n%s", err, text)
	}
	return cfg
}

// helmOptions checks `set` entries with Helm's parser, as cmd/ferry does.
var helmOptions = config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString}

// start runs the daemon until the test ends and serves it over HTTP, both
// logging at debug level into w.logs.
func (w *world) start() {
	w.t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", cluster.Kubeconfig)
	if err != nil {
		w.t.Fatal(err)
	}
	rc.QPS, rc.Burst = 50, 100
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		w.t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.daemon, err = reconciler.New(context.Background(), reconciler.Options{
		Config: w.cfg, Client: client, Targets: reconciler.DeployTargets(), Console: io.Discard,
		DataDir: w.t.TempDir(), Identity: "ferry-0", Registerer: w.metrics, Logger: log,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.daemon.Run(ctx) }()
	w.t.Cleanup(func() { cancel(); <-done })
	w.spy = &spy{Daemon: w.daemon, nudges: map[string]int{}}
	srv, err := server.New(context.Background(), server.Options{
		Config: w.cfg, Daemon: w.spy, Metrics: w.metrics, Logger: log, RequestTimeout: 20 * time.Second,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	w.http = httptest.NewServer(srv.Handler())
	w.t.Cleanup(w.http.Close)
}

// spy passes every call to the daemon and counts the webhook nudges, so a
// test can tell that a refused delivery reached nothing.
type spy struct {
	*reconciler.Daemon
	mu     sync.Mutex
	nudges map[string]int
}

func (s *spy) Nudge(pipeline string) {
	s.mu.Lock()
	s.nudges[pipeline]++
	s.mu.Unlock()
	s.Daemon.Nudge(pipeline)
}

func (s *spy) nudged(pipeline string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nudges[pipeline]
}

// commit writes files as a commit on main of the pipeline's repository and
// returns its SHA. With parent set, the commit's parent is that SHA and main
// is moved to it (a force-push when main was elsewhere); opts add more.
func (w *world) commit(pipeline, msg, parent string, files map[string]string, opts ...gitserver.CommitOption) string {
	w.t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var all []gitserver.CommitOption
	for _, p := range paths {
		all = append(all, gitserver.WithFile(p, files[p]))
	}
	if parent != "" {
		all = append(all, gitserver.WithParent(parent))
	}
	sha, err := w.repos[pipeline].Commit(msg, append(all, opts...)...)
	if err != nil {
		w.t.Fatal(err)
	}
	return sha
}

// history is an environment's promotions, newest first.
func (w *world) history(pipeline, env string) []ferry.Promotion {
	w.t.Helper()
	h, err := w.daemon.History(context.Background(), pipeline, env, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

// waitPhase waits until env's latest promotion of sha is in phase.
func (w *world) waitPhase(pipeline, env, sha string, phase ferry.Phase) ferry.Promotion {
	w.t.Helper()
	var got ferry.Promotion
	eventually(w.t, 90*time.Second, fmt.Sprintf("%s/%s %s in %s", pipeline, env, short(sha), phase), func() (bool, string) {
		var seen []string
		for _, p := range w.history(pipeline, env) {
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

// waitEnded waits until env's latest promotion of sha has ended and
// returns it.
func (w *world) waitEnded(pipeline, env, sha string) ferry.Promotion {
	w.t.Helper()
	var got ferry.Promotion
	eventually(w.t, 90*time.Second, fmt.Sprintf("%s/%s %s to end", pipeline, env, short(sha)), func() (bool, string) {
		var seen []string
		for _, p := range w.history(pipeline, env) {
			seen = append(seen, fmt.Sprintf("%s:%s(%s)", p.Revision.Short(), p.Phase, p.Reason))
			if p.Revision.SHA == sha {
				got = p
				return p.Phase.IsTerminal(), strings.Join(seen, " ")
			}
		}
		return false, strings.Join(seen, " ")
	})
	return got
}

// request is one HTTP call to ferry's server.
type request struct {
	method, path, body string
	header             http.Header
}

// do sends req and returns the status and the body.
func (w *world) do(req request) (int, string) {
	w.t.Helper()
	r, err := http.NewRequestWithContext(w.t.Context(), req.method, w.http.URL+req.path, strings.NewReader(req.body))
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range req.header {
		r.Header[k] = v
	}
	resp, err := w.http.Client().Do(r)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// api calls the API with a bearer token ("" sends none) and returns the
// status and the body's error message (or the whole body for a success).
func (w *world) api(method, path, token, body string) (int, string) {
	w.t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	status, text := w.do(request{method: method, path: path, body: body, header: h})
	return status, errorText(status, text)
}

// errorText is the message of a refusal: the "error" of a JSON body, else
// the body itself, trimmed.
func errorText(status int, body string) string {
	var e struct {
		Error string `json:"error"`
	}
	if status >= 400 && json.Unmarshal([]byte(body), &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(body)
}

// liveData reads the data of the release's ConfigMap, "absent" when there
// is none.
func (w *world) liveData(release string) string {
	w.t.Helper()
	cm, err := w.kube.CoreV1().ConfigMaps(w.ns).Get(context.Background(), release+"-cfg", metav1.GetOptions{})
	if err != nil {
		return "absent"
	}
	b, _ := json.Marshal(cm.Data)
	return string(b)
}

// helmRevisions counts the stored Helm revisions of a release.
func (w *world) helmRevisions(release string) int {
	w.t.Helper()
	list, err := w.kube.CoreV1().Secrets(w.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(list.Items)
}

// problems returns ferry's last n log records at warning level or above.
func (w *world) problems(n int) string {
	var out []string
	for _, line := range strings.Split(w.logs.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

// snapshot is what a refused input must leave as it was: per environment
// the revision it runs, what waits there, whether it is paused, its live
// ConfigMap, its Helm revisions and audit trail; per pipeline the nudges.
type snapshot map[string]string

func (w *world) snapshot() snapshot {
	w.t.Helper()
	ctx := context.Background()
	st, err := w.daemon.Status(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	out := snapshot{}
	for _, s := range st {
		key := s.Pipeline + "/" + s.Environment
		active := "none"
		if a := s.Active; a != nil {
			active = fmt.Sprintf("%s %s approvals=%d", a.Revision.Short(), a.Phase, len(a.Approvals))
		}
		audit, err := w.daemon.Audit(ctx, s.Pipeline, s.Environment, 0)
		if err != nil {
			w.t.Fatal(err)
		}
		release := s.Pipeline + "-" + s.Environment
		out[key+" current"] = s.Current.Short()
		out[key+" active"] = active
		out[key+" paused"] = fmt.Sprint(s.Paused)
		out[key+" live"] = w.liveData(release)
		out[key+" helm revisions"] = fmt.Sprint(w.helmRevisions(release))
		out[key+" audit entries"] = fmt.Sprint(len(audit))
	}
	for _, p := range []string{pRender, pAccept, pBranch, pGate} {
		out[p+" nudges"] = fmt.Sprint(w.spy.nudged(p))
	}
	return out
}

// diff lists the keys whose values differ, as "key: before → after".
func (s snapshot) diff(after snapshot) []string {
	var out []string
	for k, v := range s {
		if after[k] != v {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, v, after[k]))
		}
	}
	slices.Sort(out)
	return out
}

// eventually polls cond every 200ms until it holds, failing after timeout
// with the last state it reported.
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
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last seen: %s", what, last)
}

func short(sha string) string { return ferry.Revision{SHA: sha}.Short() }

// withoutBaseSHAs writes "<base>" for the short SHA of each pipeline's base
// commit, so a message can be compared whatever the commit's hash.
func (w *world) withoutBaseSHAs(msg string) string {
	for _, sha := range w.base {
		msg = strings.ReplaceAll(msg, short(sha), "<base>")
	}
	return msg
}
