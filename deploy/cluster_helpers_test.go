package deploy

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ferry "github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/localcluster"
	"helm.sh/helm/v3/pkg/release"
)

// applyRepo holds the charts and values files of the apply, health and
// recovery tests.
const applyRepo = "testdata/apply"

// input is one render of a chart in applyRepo.
type input struct {
	chart string
	files []string
	set   []string
}

func webChart(set ...string) input { return input{chart: "charts/web", set: set} }

func rawCase(file string) input {
	return input{chart: "charts/raw", files: []string{"cases/" + file}}
}

func renderInput(t testing.TB, release, ns string, in input) *ferry.Rendered {
	t.Helper()
	r, err := Render(context.Background(), os.DirFS(applyRepo), RenderSpec{
		Chart: in.chart, ValuesFiles: in.files, Set: in.set, Release: release, Namespace: ns,
	})
	if err != nil {
		t.Fatalf("render %v: %v", in, err)
	}
	return r
}

// testRev is a revision named after its number, for readable histories.
func testRev(n int) ferry.Revision {
	return ferry.Revision{SHA: fmt.Sprintf("%040x", n), Subject: fmt.Sprintf("change %d", n)}
}

// requestLog records the requests a client makes, for tests that count them.
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.seen = append(l.seen, req.Method+" "+req.URL.Path)
		l.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.seen
	l.seen = nil
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// testClient is a Client on the shared cluster for release in ns.
func testClient(t testing.TB, c *localcluster.Shared, ns, release string, change func(*Target)) (*Client, *requestLog) {
	t.Helper()
	target := Target{Kubeconfig: c.Kubeconfig, Namespace: ns, Release: release}
	if change != nil {
		change(&target)
	}
	log := &requestLog{}
	cl, err := newClient(target, log.wrap, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.pollInterval = 100 * time.Millisecond
	return cl, log
}

// historyOf lists the stored revisions, oldest first.
func historyOf(t testing.TB, c *Client) []*release.Release {
	t.Helper()
	h, err := c.history()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(h, func(a, b *release.Release) int { return a.Version - b.Version })
	return h
}

// statuses writes a history as "1:superseded 2:deployed", with +good after
// revisions marked good.
func statuses(h []*release.Release) string {
	var parts []string
	for _, r := range h {
		s := fmt.Sprintf("%d:%s", r.Version, r.Info.Status)
		if r.Labels[LabelGood] == "true" {
			s += "+good"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// mustApply applies and fails the test on error.
func mustApply(t testing.TB, c *Client, n int, r *ferry.Rendered) *Result {
	t.Helper()
	res, err := c.Apply(context.Background(), testRev(n), r)
	if err != nil {
		t.Fatalf("apply revision %d: %v", n, err)
	}
	return res
}

// mustBeHealthy waits for the release to be healthy and fails the test if
// it is not.
func mustBeHealthy(t testing.TB, c *Client, r *ferry.Rendered) ferry.HealthVerdict {
	t.Helper()
	v, err := c.WaitHealthy(context.Background(), *r, healthTimeout, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != ferry.HealthHealthy {
		t.Fatalf("release not healthy: %s", v.Reason)
	}
	return v
}

// healthTimeout bounds waits that must end early; reaching it fails the
// test, never passes it.
const healthTimeout = 2 * time.Minute

// randSuffix makes a namespace name of a test's own when the test must
// create the namespace itself (to test CreateNamespace).
func randSuffix(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
}
