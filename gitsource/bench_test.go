package gitsource

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/internal/gitserver"
	"golang.org/x/crypto/ssh"
)

// BenchmarkHeadUnchanged measures one idle poll: a ref advertisement read
// from a branch that has not moved, over HTTP and over SSH. It reports the
// bytes the server sent per poll and the object fetches (which must be 0).
func BenchmarkHeadUnchanged(b *testing.B) {
	srv, repo := newServer(b, gitserver.HTTPOptions{})
	head := must(repo.Head("main")).get(b)
	hostKey := must(gitserver.GenerateKey(gitserver.KeyED25519)).get(b)
	client := must(gitserver.GenerateKey(gitserver.KeyED25519)).get(b)
	must(srv.StartSSH(gitserver.SSHOptions{HostKeys: []ssh.Signer{hostKey.Signer}, AuthorizedKeys: []ssh.PublicKey{client.Signer.PublicKey()}})).get(b)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"http", Options{URL: srv.HTTPURL("deploy")}},
		{"ssh", Options{URL: srv.SSHURL("deploy"), Auth: Auth{SSHKey: client.PrivatePEM,
			KnownHosts: []byte(gitserver.KnownHostsLine(srv.SSHAddr(), hostKey.Signer.PublicKey()))}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src := newSource(b, tc.opts)
			if err := src.Fetch(context.Background(), head); err != nil {
				b.Fatal(err)
			}
			srv.ResetStats()
			for b.Loop() {
				rev, err := src.Head(context.Background())
				if err != nil || rev.SHA != head {
					b.Fatalf("Head = %s, %v", rev.SHA, err)
				}
			}
			st := srv.Stats()
			b.ReportMetric(float64(st.BytesOut)/float64(b.N), "served-B/poll")
			b.ReportMetric(float64(st.Negotiations)/float64(b.N), "fetches/poll")
		})
	}
}

// fixtureChart is the vibecode-platform chart, the repository ferry is
// measured on.
const fixtureChart = "../fixtures/vibecode-platform/helm/vibecode-platform"

// historyOf makes a repository with the fixture chart and n commits on top,
// each changing one values file, the way a deployment repo grows.
func historyOf(b *testing.B, srv *gitserver.Server, n int) *gitserver.Repo {
	repo := must(srv.CreateRepo("history")).get(b)
	must(repo.Commit("vibecode-platform chart", gitserver.WithDir(fixtureChart, "chart"))).get(b)
	files := []string{"chart/values-dev.yaml", "chart/values-staging.yaml", "chart/values-prod.yaml"}
	must(repo.CommitMany(n, func(i int) (string, []gitserver.CommitOption) {
		f := files[i%len(files)]
		return fmt.Sprintf("bump %d", i), []gitserver.CommitOption{gitserver.WithFile(f, fmt.Sprintf("replicaCount: %d\nimage:\n  tag: \"1.%d.0\"\n", i%7+1, i))}
	})).get(b)
	return repo
}

// BenchmarkFetchNewCommit measures noticing and fetching one new commit on a
// repository with 2,000 commits and the fixture chart: Head, then Fetch.
func BenchmarkFetchNewCommit(b *testing.B) {
	srv, _ := newServer(b, gitserver.HTTPOptions{})
	repo := historyOf(b, srv, 2000)
	src := newSource(b, Options{URL: srv.HTTPURL("history")})
	if err := src.Fetch(context.Background(), must(repo.Head("main")).get(b)); err != nil {
		b.Fatal(err)
	}
	var served int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		sha := must(repo.Commit(fmt.Sprintf("bench %d", i), gitserver.WithFile("chart/values-prod.yaml", fmt.Sprintf("replicaCount: %d\n", i)))).get(b)
		srv.ResetStats()
		b.StartTimer()
		rev, err := src.Head(context.Background())
		if err != nil || rev.SHA != sha {
			b.Fatalf("Head = %s, %v; want %s", rev.SHA, err, sha)
		}
		if err := src.Fetch(context.Background(), sha); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		served += srv.Stats().BytesOut
		b.StartTimer()
	}
	b.ReportMetric(float64(served)/float64(b.N), "served-B/fetch")
}

// BenchmarkWebhookToRevision measures the time from a push webhook arriving
// to Watch emitting the new, fetched revision, on the 2,000-commit repository.
func BenchmarkWebhookToRevision(b *testing.B) {
	srv, _ := newServer(b, gitserver.HTTPOptions{})
	repo := historyOf(b, srv, 2000)
	head := must(repo.Head("main")).get(b)
	src := newSource(b, Options{URL: srv.HTTPURL("history")})
	if err := src.Fetch(context.Background(), head); err != nil {
		b.Fatal(err)
	}
	updates := watch(b, src, head)
	h := must(NewWebhookHandler(WebhookOptions{Provider: ProviderGitHub, Secret: []byte(hookSecret), Branch: "main", Nudge: src.Nudge})).get(b)
	hooks := httptest.NewServer(h)
	defer hooks.Close()
	var total time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		sha := must(repo.Commit(fmt.Sprintf("bench %d", i), gitserver.WithFile("chart/values-dev.yaml", fmt.Sprintf("replicaCount: %d\n", i)))).get(b)
		req := delivery{ProviderGitHub, "push", payload(b, ProviderGitHub, "refs/heads/main", sha), "valid"}.request(b, hooks.URL)
		b.StartTimer()
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		u := next(b, updates)
		total += time.Since(start)
		if u.Err != nil || u.Revision.SHA != sha {
			b.Fatalf("update %+v, want %s", u, sha)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/webhook-to-revision")
}
