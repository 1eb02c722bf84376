package gitsource

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry"
	"github.com/ferry-gitops/ferry/internal/gitserver"
)

// TestWatchFollowsBranch drives one watcher through a branch's life, one step
// after the other, asserting what it emits and what the server had to serve.
func TestWatchFollowsBranch(t *testing.T) {
	srv, repo := newServer(t, gitserver.HTTPOptions{})
	first := must(repo.Head("main")).get(t)
	must(repo.Commit("dev branch", gitserver.OnBranch("dev"), gitserver.WithFile("README.md", "dev\n"))).get(t)
	src := newSource(t, Options{URL: srv.HTTPURL("deploy")})
	updates := watch(t, src, "")

	var shas = map[string]string{"first": first}
	type step struct {
		name string
		// change alters the repository and returns the SHA the watcher must
		// emit next, or "" when it must emit nothing.
		change func(t *testing.T) string
		// negotiations is how many object fetches the step may cost.
		negotiations int
		check        func(t *testing.T, got ferry.Revision)
	}
	steps := []step{
		{
			name:         "first fetch emits the head with its details",
			change:       func(*testing.T) string { return first },
			negotiations: 1,
			check: func(t *testing.T, got ferry.Revision) {
				want := ferry.Revision{SHA: first, Subject: "chart 0.3.1", Author: "Ferry Test <test@ferry.invalid>",
					Time: time.Date(2025, 1, 1, 9, 1, 0, 0, time.UTC)}
				assertRevision(t, got, want)
			},
		},
		{
			name:         "idle poll fetches no objects and writes nothing",
			change:       func(*testing.T) string { return "" },
			negotiations: 0,
		},
		{
			name: "new commit is seen",
			change: func(t *testing.T) string {
				shas["values"] = must(repo.Commit("prod: 3 replicas\n\nbody", gitserver.WithFile("chart/values-prod.yaml", "replicaCount: 3\n"))).get(t)
				return shas["values"]
			},
			negotiations: 1,
			check: func(t *testing.T, got ferry.Revision) {
				assertChanged(t, src, got.SHA, first, []string{"chart/values-prod.yaml"})
				if got.Subject != "prod: 3 replicas" {
					t.Errorf("subject = %q, want %q", got.Subject, "prod: 3 replicas")
				}
			},
		},
		{
			name: "five commits pushed at once",
			change: func(t *testing.T) string {
				five := must(repo.CommitMany(5, func(i int) (string, []gitserver.CommitOption) {
					name := "chart/templates/extra" + string(rune('a'+i)) + ".yaml"
					return "add " + name, []gitserver.CommitOption{gitserver.WithFile(name, "kind: ConfigMap\n")}
				})).get(t)
				shas["fifth"] = five[4]
				shas["third"] = five[2]
				return five[4]
			},
			negotiations: 1,
			check: func(t *testing.T, got ferry.Revision) {
				assertChanged(t, src, got.SHA, shas["values"], []string{
					"chart/templates/extraa.yaml", "chart/templates/extrab.yaml", "chart/templates/extrac.yaml",
					"chart/templates/extrad.yaml", "chart/templates/extrae.yaml"})
				// The commits in between came along: their snapshots work.
				assertChanged(t, src, shas["third"], shas["values"], []string{
					"chart/templates/extraa.yaml", "chart/templates/extrab.yaml", "chart/templates/extrac.yaml"})
			},
		},
		{
			name: "force-push back to an older commit is emitted without a fetch",
			change: func(t *testing.T) string {
				if err := repo.SetBranch("main", shas["values"]); err != nil {
					t.Fatal(err)
				}
				return shas["values"]
			},
			negotiations: 0,
			check: func(t *testing.T, got ferry.Revision) {
				if got.Subject != "prod: 3 replicas" {
					t.Errorf("subject = %q", got.Subject)
				}
			},
		},
		{
			name: "force-push to an unrelated history",
			change: func(t *testing.T) string {
				shas["orphan"] = must(repo.Commit("rewrite", gitserver.Orphan(), gitserver.WithFile("chart/Chart.yaml", "name: other\n"))).get(t)
				return shas["orphan"]
			},
			negotiations: 1,
			check: func(t *testing.T, got ferry.Revision) {
				fsys, _ := snapshot(t, src, got.SHA, "")
				b := must(readFile(fsys, "chart/Chart.yaml")).get(t)
				if b != "name: other\n" {
					t.Errorf("Chart.yaml = %q", b)
				}
				assertChanged(t, src, got.SHA, shas["fifth"], []string{
					"chart/Chart.yaml", "chart/templates/_helpers.tpl", "chart/templates/deployment.yaml",
					"chart/templates/extraa.yaml", "chart/templates/extrab.yaml", "chart/templates/extrac.yaml",
					"chart/templates/extrad.yaml", "chart/templates/extrae.yaml", "chart/templates/service.yaml",
					"chart/values-dev.yaml", "chart/values-prod.yaml", "chart/values.yaml"})
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			srv.ResetStats()
			before := tree(t, src.cacheDir)
			want := st.change(t)
			if want == "" {
				quiet(t, src, updates)
				if after := tree(t, src.cacheDir); after != before {
					t.Errorf("cache changed on an idle poll:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			} else {
				src.Nudge()
				u := next(t, updates)
				if u.Err != nil {
					t.Fatalf("update error: %v", u.Err)
				}
				if u.Revision.SHA != want {
					t.Fatalf("emitted %s, want %s", u.Revision.SHA, want)
				}
				st.check(t, u.Revision)
			}
			stats := srv.Stats()
			if stats.Negotiations != st.negotiations {
				t.Errorf("server saw %d object fetches, want %d (%+v)", stats.Negotiations, st.negotiations, stats)
			}
			if stats.Advertisements == 0 {
				t.Errorf("server saw no ref advertisement: %+v", stats)
			}
		})
	}

	t.Run("branch deleted is reported once and keeps the last revision", func(t *testing.T) {
		if err := repo.DeleteBranch("main"); err != nil {
			t.Fatal(err)
		}
		src.Nudge()
		u := next(t, updates)
		var bnf *BranchNotFoundError
		if !errors.As(u.Err, &bnf) {
			t.Fatalf("error = %v, want *BranchNotFoundError", u.Err)
		}
		wantMsg := `branch "main" not found in ` + srv.HTTPURL("deploy") + `; branches that exist: dev`
		if u.Err.Error() != wantMsg {
			t.Errorf("error = %q\nwant    %q", u.Err.Error(), wantMsg)
		}
		quiet(t, src, updates) // the same error is not repeated
		// The branch coming back at the last revision emits nothing new.
		if err := repo.SetBranch("main", shas["orphan"]); err != nil {
			t.Fatal(err)
		}
		quiet(t, src, updates)
	})
}

// TestWatchPollsOnInterval checks the timer path: no nudge, a short interval.
func TestWatchPollsOnInterval(t *testing.T) {
	srv, repo := newServer(t, gitserver.HTTPOptions{})
	first := must(repo.Head("main")).get(t)
	src := newSource(t, Options{URL: srv.HTTPURL("deploy")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := must(src.Watch(ctx, WatchOptions{Interval: 20 * time.Millisecond, Last: first})).get(t)
	sha := must(repo.Commit("bump", gitserver.WithFile("chart/values.yaml", "replicaCount: 2\n"))).get(t)
	u := next(t, updates)
	if u.Err != nil || u.Revision.SHA != sha || u.Revision.Subject != "bump" {
		t.Fatalf("update = %+v, want %s \"bump\"", u, sha)
	}
	cancel()
	for range updates {
	}
}

func TestWatchOptionsRejected(t *testing.T) {
	src := newSource(t, Options{URL: t.TempDir()})
	for _, tc := range []struct {
		opts WatchOptions
		want string
	}{
		{WatchOptions{}, "watch: interval must be positive"},
		{WatchOptions{Interval: time.Second, Jitter: 0.6}, "watch: jitter must be at most 0.5"},
	} {
		_, err := src.Watch(context.Background(), tc.opts)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Watch(%+v) error = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestJittered(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		frac float64
		r    float64
		want time.Duration
	}{
		{time.Minute, 0.1, 0, 54 * time.Second},
		{time.Minute, 0.1, 0.5, time.Minute},
		{time.Minute, 0.1, 0.75, 63 * time.Second},
		{time.Minute, 0, 0.9, time.Minute},
		{10 * time.Second, 0.5, 0, 5 * time.Second},
	} {
		if got := jittered(tc.d, tc.frac, tc.r); got != tc.want {
			t.Errorf("jittered(%v, %v, %v) = %v, want %v", tc.d, tc.frac, tc.r, got, tc.want)
		}
	}
}

func assertRevision(t *testing.T, got, want ferry.Revision) {
	t.Helper()
	if got.SHA != want.SHA || got.Subject != want.Subject || got.Author != want.Author || !got.Time.Equal(want.Time) ||
		!slices.Equal(got.ChangedFiles, want.ChangedFiles) {
		t.Errorf("revision = %+v\nwant       %+v", got, want)
	}
}

func assertChanged(t *testing.T, src *Source, sha, since string, want []string) {
	t.Helper()
	_, rev := snapshot(t, src, sha, since)
	if !slices.Equal(rev.ChangedFiles, want) {
		t.Errorf("files changed in %s since %s = %q, want %q", sha[:7], since[:7], rev.ChangedFiles, want)
	}
}
