package reliability

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/config"
	"github.com/ferry-gitops/ferry/internal/harness"
	"github.com/ferry-gitops/ferry/internal/slackserver"
	"github.com/ferry-gitops/ferry/internal/syncbuf"
)

// env is the one environment of the suite's pipeline.
const env = "dev"

// Test-scale timings. The lease is short so that a process started after a
// crash takes over soon; its renew deadline leaves a loaded machine room.
var (
	lease = config.LeaderElection{LeaseDuration: 5 * time.Second, RenewDeadline: 3500 * time.Millisecond, RetryPeriod: 750 * time.Millisecond}
	poll  = 2 * time.Second
)

// Generous bounds for a loaded 2-core machine running everything under -race.
const (
	promotionTimeout = 4 * time.Minute
	exitTimeout      = 3 * time.Minute
)

var (
	// w is the suite's world, shared by every test in order; each test
	// leaves ferry running without a crash point and dev at the head.
	w *harness.World
	// slackProxy, gitProxy and apiProxy stand between ferry and the Slack
	// server, the Git server and the kube-apiserver, so a test can take any
	// of them down. apiProxy passes TLS through: ferry's kubeconfig names
	// it at 127.0.0.1, an IP SAN of the API server's certificate.
	slackProxy, gitProxy, apiProxy *proxy
	// pushes counts revisions pushed, so each one renders differently.
	pushes int
	// setupLog keeps the harness's progress lines for a failing test.
	setupLog syncbuf.Buffer
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		fmt.Fprintln(os.Stderr, setupLog.String())
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx := context.Background()
	var err, proxyErr error
	var slackTarget, gitTarget string
	w, err = harness.Start(ctx, harness.Options{
		Poll:      poll,
		BuildTags: []string{"ferrytest"},
		Progress:  &setupLog,
		Configure: func(c *config.Config) {
			p := &c.Pipelines[0]
			p.Environments = p.Environments[:1]
			c.Timing.LeaderElection = lease
			// Put the proxies in front of the Slack and Git servers.
			slackTarget, gitTarget = c.Chat.Slack.APIURL, p.Source.URL
			// A proxy that cannot start is reported after Start, so that
			// the deferred Close still stops everything Start began.
			if slackProxy, proxyErr = newProxy(hostOf(slackTarget)); proxyErr != nil {
				return
			}
			if gitProxy, proxyErr = newProxy(hostOf(gitTarget)); proxyErr != nil {
				return
			}
			c.Chat.Slack.APIURL = strings.Replace(slackTarget, hostOf(slackTarget), slackProxy.Addr(), 1)
			p.Source.URL = strings.Replace(gitTarget, hostOf(gitTarget), gitProxy.Addr(), 1)
			// Ferry alone reaches the API server through apiProxy: the
			// state, the Lease and every environment's Helm releases. The
			// harness's own client goes direct, to observe during an outage.
			var kubeconfig string
			if apiProxy, kubeconfig, proxyErr = proxiedKubeconfig(c.State.Kubeconfig); proxyErr != nil {
				return
			}
			c.State.Kubeconfig = kubeconfig
			for i := range p.Environments {
				p.Environments[i].Kubeconfig = kubeconfig
			}
		},
	})
	defer func() {
		if w != nil {
			w.Close()
		}
		if slackProxy != nil {
			slackProxy.Close()
		}
		if gitProxy != nil {
			gitProxy.Close()
		}
		if apiProxy != nil {
			apiProxy.Close()
		}
	}()
	if err != nil {
		return 1, err
	}
	if proxyErr != nil {
		return 1, fmt.Errorf("proxy: %w", proxyErr)
	}
	if env := w.Config.Pipelines[0].Environments; len(env) != 1 || env[0].Name != "dev" {
		return 1, fmt.Errorf("the suite's pipeline has %d environments, want dev only", len(env))
	}
	head, err := w.Head()
	if err != nil {
		return 1, err
	}
	wctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	if _, err := w.WaitFor(wctx, env, head, ferry.PhaseSucceeded); err != nil {
		return 1, fmt.Errorf("the first revision: %w\n%s", err, w.Ferry().LogTail(40))
	}
	return m.Run(), nil
}

// proxiedKubeconfig starts a proxy in front of the API server that path
// names and writes a copy of path, beside it, whose clusters are reached
// through the proxy.
func proxiedKubeconfig(path string) (*proxy, string, error) {
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, "", err
	}
	var px *proxy
	for name, cl := range kc.Clusters {
		if px != nil && hostOf(cl.Server) != px.target {
			return px, "", fmt.Errorf("%s names more than one API server", path)
		}
		if px == nil {
			if px, err = newProxy(hostOf(cl.Server)); err != nil {
				return nil, "", err
			}
		}
		cl.Server = strings.Replace(cl.Server, hostOf(cl.Server), px.Addr(), 1)
		kc.Clusters[name] = cl
	}
	if px == nil {
		return nil, "", fmt.Errorf("%s names no API server", path)
	}
	out := filepath.Join(filepath.Dir(path), "ferry-via-proxy.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, out); err != nil {
		return px, "", err
	}
	return px, out, nil
}

// hostOf returns the host:port of a URL.
func hostOf(u string) string {
	s := u[strings.Index(u, "://")+3:]
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}

// needWorld skips in -short mode, where TestMain starts no world; without
// -short a world that failed to start has already ended the run.
func needWorld(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local control plane, Git and Slack servers and the ferry binary")
	}
}

// logOnFailure prints the end of ferry's log when t fails.
func logOnFailure(t *testing.T, from int64) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ferry's log since the test started:\n%s", logSince(from, 150))
		}
	})
}

// logSize is the current length of ferry's log, to read what follows.
func logSize() int64 {
	fi, err := os.Stat(w.LogPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns what ferry logged after offset from, at most the last
// max lines (0: all).
func logSince(from int64, max int) string {
	f, err := os.Open(w.LogPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return "(log: " + err.Error() + ")"
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if max > 0 && len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	return strings.Join(lines, "\n")
}

// push commits a change to dev's values that renders differently from
// every earlier revision (code-server's memory request, one Mi more each
// time), nudges ferry with the webhook when it runs, and returns the SHA.
func push(ctx context.Context, t *testing.T, what string) string {
	t.Helper()
	pushes++
	mem := fmt.Sprintf("%dMi", 256+pushes)
	sha, err := w.Push(ctx, fmt.Sprintf("dev: code-server requests %s of memory (%s)", mem, what),
		harness.SetValue("helm/vibecode-platform/values-dev.yaml", "codeServer.resources.requests.memory", mem))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pushed %s: code-server memory request %s", sha[:7], mem)
	return sha
}

// nudge sends the Git webhook; errors are ignored (ferry may be down, and
// the poll finds the commit anyway).
func nudge(ctx context.Context) {
	_, _, _ = w.Webhook(ctx)
}

// ferryRunning starts ferry without crash points unless it runs.
func ferryRunning(ctx context.Context, t *testing.T) {
	t.Helper()
	if p := w.Ferry(); p != nil {
		if exited, _ := p.Exited(); !exited {
			return
		}
	}
	if err := w.StartFerry(ctx); err != nil {
		t.Fatal(err)
	}
}

// restartWith stops ferry and starts it with extra environment variables.
func restartWith(ctx context.Context, t *testing.T, env ...string) {
	t.Helper()
	if err := w.StopFerry(); err != nil {
		t.Fatal(err)
	}
	if err := w.StartFerryEnv(ctx, env...); err != nil {
		t.Fatal(err)
	}
}

// settle waits until dev's newest promotion is of the branch head and has
// ended, and chat has nothing left to deliver.
func settle(ctx context.Context, t *testing.T) {
	t.Helper()
	ferryRunning(ctx, t)
	head, err := w.Head()
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, promotionTimeout)
	defer cancel()
	if _, err := w.WaitFor(sctx, env, head, ferry.PhaseSucceeded); err != nil {
		t.Fatal(err)
	}
	waitOutboxEmpty(sctx, t)
}

// waitOutboxEmpty waits until ferry reports no chat event undelivered.
func waitOutboxEmpty(ctx context.Context, t *testing.T) {
	t.Helper()
	last := "no answer"
	for {
		m, err := scrape(ctx)
		if err == nil {
			v, ok := m["ferry_chat_outbox_pending"]
			if ok && v == 0 && m["ferry_leader"] == 1 {
				return
			}
			last = fmt.Sprintf("ferry_chat_outbox_pending %v, ferry_leader %v", v, m["ferry_leader"])
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("chat outbox not empty in time (%s)", last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

var scrapeClient = &http.Client{Timeout: 10 * time.Second}

// scrape reads ferry's /metrics into a map from series ("name" or
// `name{labels}`) to value.
func scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.APIURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// waitExit waits for the running ferry process to end and returns how.
func waitExit(ctx context.Context, t *testing.T) error {
	t.Helper()
	p := w.Ferry()
	select {
	case <-p.Done():
		_, err := p.Exited()
		return err
	case <-time.After(exitTimeout):
		t.Fatalf("ferry did not exit within %s", exitTimeout)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	return nil
}

// helmRecords reads dev's Helm records.
func helmRecords(ctx context.Context, t *testing.T) []harness.HelmRevision {
	t.Helper()
	hist, err := w.HelmHistory(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

// lastVersion is the highest Helm revision number of dev.
func lastVersion(ctx context.Context, t *testing.T) int {
	hist := helmRecords(ctx, t)
	if len(hist) == 0 {
		return 0
	}
	return hist[len(hist)-1].Version
}

// noPending fails t when a Helm record of dev is pending-*.
func noPending(ctx context.Context, t *testing.T) {
	t.Helper()
	for _, h := range helmRecords(ctx, t) {
		if strings.HasPrefix(h.Status, "pending") {
			t.Errorf("Helm revision %d of dev is %s", h.Version, h.Status)
		}
	}
}

// helmSince returns dev's Helm records newer than version after.
func helmSince(ctx context.Context, t *testing.T, after int) []harness.HelmRevision {
	var out []harness.HelmRevision
	for _, h := range helmRecords(ctx, t) {
		if h.Version > after {
			out = append(out, h)
		}
	}
	return out
}

func describeHelm(hs []harness.HelmRevision) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "\n  %d %s sha=%.7s good=%v", h.Version, h.Status, h.SHA, h.Good)
	}
	return b.String()
}

// checkHistory asserts that ferry's history (`ferry history dev -o json`)
// holds exactly one promotion of sha, Succeeded, and no promotion twice.
func checkHistory(ctx context.Context, t *testing.T, sha string) {
	t.Helper()
	proms, err := w.History(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	n := 0
	for _, p := range proms {
		if ids[p.ID] {
			t.Errorf("promotion %s appears twice in the history", p.ID)
		}
		ids[p.ID] = true
		if p.Revision.SHA == sha {
			n++
			if p.Phase != ferry.PhaseSucceeded {
				t.Errorf("promotion %s of %.7s is %s, want Succeeded: %s", p.ID, sha, p.Phase, p.Reason)
			}
		}
	}
	if n != 1 {
		t.Errorf("the history holds %d promotions of %.7s, want 1", n, sha)
	}
}

// checkChat asserts that the channel holds exactly one revision message per
// revision, one for each of shas, and that none of their threads holds a
// reply twice.
func checkChat(t *testing.T, shas ...string) {
	t.Helper()
	parents := w.Parents()
	for _, sha := range shas {
		if n := len(parents[sha]); n != 1 {
			t.Errorf("%d revision messages for %.7s, want 1", n, sha)
		}
	}
	for rev, ms := range parents {
		if len(ms) != 1 {
			t.Errorf("%d revision messages for %.7s, want 1", len(ms), rev)
		}
		if !slices.Contains(shas, rev) {
			continue
		}
		for _, m := range ms {
			seen := map[string]int{}
			for _, r := range w.Slack.Replies(w.Channel, m.TS) {
				id := replyID(r)
				if id == "" {
					t.Errorf("a reply in the thread of %.7s has no reply id: %s", rev, slackserver.BlockText(r))
					continue
				}
				seen[id]++
				if seen[id] == 2 {
					t.Errorf("the thread of %.7s holds reply %s twice: %s", rev, id, firstLine(slackserver.BlockText(r)))
				}
			}
			if len(seen) == 0 {
				t.Errorf("the thread of %.7s has no reply", rev)
			}
		}
	}
}

func replyID(m slackserver.Message) string {
	if m.Metadata == nil {
		return ""
	}
	id, _ := m.Metadata.EventPayload["reply"].(string)
	return id
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
