package daemontest

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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/deploy"
	"github.com/ferry-gitops/ferry/internal/gitserver"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	"github.com/ferry-gitops/ferry/reconciler"
	"github.com/ferry-gitops/ferry/server"
	"github.com/ferry-gitops/ferry/server/api"
)

// Tokens of the fixture's API users; no response may contain one.
const (
	aliceToken = "alice-token-7f3e9a1c5b2d"
	bobToken   = "bob-token-4d8c2e6f0a1b"
)

// chart is a small chart whose ConfigMap greeting comes from values.
var chart = map[string]string{
	"chart/Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
	"chart/values.yaml": "greeting: hello\n",
	"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n" +
		"data:\n  greeting: {{ .Values.greeting | quote }}\n",
	"values-dev.yaml":  "greeting: hello dev\n",
	"values-prod.yaml": "greeting: hello prod\n",
}

// world is one test's setup: a Git repository with the chart, a namespace
// for state and releases, and the config of pipeline app: dev → prod, prod
// approved by alice.
type world struct {
	t          *testing.T
	repo       *gitserver.Repo
	cfg        *config.Config
	kubeconfig string
	dataDir    string
	// ns holds the state and both releases; kube reads it.
	ns   string
	kube kubernetes.Interface
}

func newWorld(t *testing.T) *world {
	t.Helper()
	localcluster.Require(t, cluster)
	ns := cluster.Namespace(t, nil)
	gs, err := gitserver.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gs.Close() })
	if _, err := gs.StartHTTP(gitserver.HTTPOptions{}); err != nil {
		t.Fatal(err)
	}
	repo, err := gs.CreateRepo("app")
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	tokens := filepath.Join(secrets, "api-tokens")
	if err := os.WriteFile(tokens, []byte(aliceToken+" alice\n"+bobToken+" bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kc := cluster.Kubeconfig
	text := fmt.Sprintf(`pipelines:
  - name: app
    source: {url: %[1]q, branch: main, interval: 200ms}
    chart: chart
    environments:
      - {name: dev, kubeconfig: %[2]q, namespace: %[3]s, release: app-dev, values: [values-dev.yaml], gates: {health: {timeout: 20s}}}
      - {name: prod, from: dev, kubeconfig: %[2]q, namespace: %[3]s, release: app-prod, values: [values-prod.yaml],
         gates: {health: {timeout: 20s}}, approval: {approvers: [alice]}}
server: {apiTokensFile: %[4]q}
state: {namespace: %[3]s, kubeconfig: %[2]q, leaseName: ferry-leader, historyLimit: 20}
timing:
  resync: 1s
  workers: 2
  leaderElection: {leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 250ms}
`, gs.HTTPURL("app"), kc, ns, tokens)
	cfg, err := config.Parse("ferry.yaml", []byte(text), config.Options{ValidateSet: deploy.ValidateSet, ValidateSetString: deploy.ValidateSetString})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	kube, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, repo: repo, cfg: cfg, kubeconfig: kc, dataDir: t.TempDir(), ns: ns, kube: kube}
}

// commit writes files and returns the new commit's SHA.
func (w *world) commit(msg string, files map[string]string) string {
	w.t.Helper()
	var opts []gitserver.CommitOption
	for path, content := range files {
		opts = append(opts, gitserver.WithFile(path, content))
	}
	sha, err := w.repo.Commit(msg, opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	return sha
}

// replica is one running daemon with the HTTP server over it.
type replica struct {
	daemon  *reconciler.Daemon
	http    *httptest.Server
	metrics *prometheus.Registry
}

// waitPolls waits until the replica has read its branch head n more times,
// so a check that something does not happen has given the daemon that many
// chances, whatever the machine's load.
func (r *replica) waitPolls(t *testing.T, n float64) {
	t.Helper()
	polls := func() float64 {
		families, err := r.metrics.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, f := range families {
			if f.GetName() == "ferry_git_poll_total" {
				for _, m := range f.GetMetric() {
					sum += m.GetCounter().GetValue()
				}
			}
		}
		return sum
	}
	start := polls()
	eventually(t, 2*time.Minute, fmt.Sprintf("%v more reads of the branch head", n), func() (bool, string) {
		got := polls() - start
		return got >= n, fmt.Sprintf("%v so far", got)
	})
}

// startReplica builds daemon id with its own metrics registry, runs it
// until the test ends, and serves it through server.New.
func (w *world) startReplica(id string) *replica {
	w.t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", w.kubeconfig)
	if err != nil {
		w.t.Fatal(err)
	}
	rc.QPS, rc.Burst = 50, 100 // as ferry run sets them
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		w.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := reconciler.New(context.Background(), reconciler.Options{
		Config: w.cfg, Client: client, Targets: reconciler.DeployTargets(), Console: io.Discard,
		DataDir: filepath.Join(w.dataDir, id), Identity: id, Registerer: reg, Logger: log,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	w.t.Cleanup(func() { cancel(); <-done })
	srv, err := server.New(context.Background(), server.Options{Config: w.cfg, Daemon: d, Metrics: reg, Logger: log})
	if err != nil {
		w.t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	w.t.Cleanup(ts.Close)
	return &replica{daemon: d, http: ts, metrics: reg}
}

// call sends one request to the replica's server and returns status and body.
func (r *replica) call(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, r.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{aliceToken, bobToken} {
		if strings.Contains(string(b), tok) {
			t.Errorf("%s %s answered with a token", method, path)
		}
	}
	return resp.StatusCode, string(b)
}

// get decodes a 200 answer of GET path into a T.
func get[T any](t *testing.T, r *replica, path string) T {
	t.Helper()
	status, body := r.call(t, "GET", path, bobToken, "")
	if status != 200 {
		t.Fatalf("GET %s = %d %s", path, status, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return v
}

// eventually polls cond every 250ms until it holds, failing after timeout
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
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last seen: %s", what, last)
}

// post sends a write as token and returns the status with the decoded
// answer: a WriteResult for a 2xx, else the error message.
func post(t *testing.T, r *replica, path, token, body string) (int, api.WriteResult, string) {
	t.Helper()
	status, text := r.call(t, "POST", path, token, body)
	var res api.WriteResult
	var e api.Error
	target := any(&e)
	if status/100 == 2 {
		target = &res
	}
	if err := json.Unmarshal([]byte(text), target); err != nil {
		t.Fatalf("POST %s = %d, not JSON: %v\n%s", path, status, err, text)
	}
	return status, res, e.Message
}

// helmRevisions lists the Helm revisions stored for release, oldest first,
// as Helm's own storage (Secrets labelled owner=helm) has them.
func (w *world) helmRevisions(release string) []int {
	w.t.Helper()
	list, err := w.kube.CoreV1().Secrets(w.ns).List(w.t.Context(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		w.t.Fatal(err)
	}
	revs := []int{}
	for _, s := range list.Items {
		n, err := strconv.Atoi(s.Labels["version"])
		if err != nil {
			w.t.Fatalf("helm secret %s: version label %q", s.Name, s.Labels["version"])
		}
		revs = append(revs, n)
	}
	slices.Sort(revs)
	return revs
}

// greeting reads the live ConfigMap of release; "(absent)" when there is none.
func (w *world) greeting(release string) string {
	w.t.Helper()
	cm, err := w.kube.CoreV1().ConfigMaps(w.ns).Get(w.t.Context(), release+"-cfg", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "(absent)"
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return cm.Data["greeting"]
}

// stateHead reads the branch head the leader recorded in the pipeline's
// shared state, straight from its ConfigMap.
func (w *world) stateHead() string {
	w.t.Helper()
	cm, err := w.kube.CoreV1().ConfigMaps(w.ns).Get(w.t.Context(), "ferry-state-app", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		w.t.Fatal(err)
	}
	var st struct {
		Head ferry.Revision `json:"head"`
	}
	if err := json.Unmarshal([]byte(cm.Data["state.json"]), &st); err != nil {
		w.t.Fatalf("state of pipeline app: %v", err)
	}
	return st.Head.SHA
}
